"""Tools of the fault tests: a run paused at a phase in a thread, a reader polling the live table,
the run's own sessions on the servers, and what a run may leave behind.

A fault is injected at a named checkpoint (``engine/faults.py``): the run pauses there
(``TAGOFFLINE_PAUSE_AT``), the test breaks something (kills a session, restarts the server) and
lets the run go on, so it meets the fault with its next statement — deterministic at any load.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.engine import faults
from airflow_provider_tagoffline.engine.report import RunReport
from airflow_provider_tagoffline.engine.targets.base import Target
from airflow_provider_tagoffline.errors import RunFailed, first_line
from airflow_provider_tagoffline.runs import run_export
from airflow_provider_tagoffline.runspec import RunSpec
from tests.run_data import D_PREV, OUTPUT_COLUMNS, LiveTarget, make_spec, normalize, target_content

#: generous: the machine is shared and loaded
DEADLINE = 90.0


def wait_for(what: str, ready: Callable[[], bool], timeout: float = DEADLINE) -> None:
    end = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class PausedRun:
    """``run_export(spec, day)`` in a thread, paused at checkpoint ``phase`` until ``resume()``; as a
    context manager, resumed at the end of the block whatever happens in it (a failed assertion
    must not leave a run paused, holding its lock and connections)."""

    def __init__(self, spec: RunSpec, day: Any, phase: str, folder: Path, monkeypatch: pytest.MonkeyPatch):
        self.phase = phase
        self.marker = folder / f"paused-at-{phase}"
        self.report: RunReport | None = None
        self.error: BaseException | None = None
        monkeypatch.setenv(faults.PAUSE_ENV, f"{phase}:{self.marker}")
        self.thread = threading.Thread(target=self._run, args=(spec, day), name=f"run-paused-at-{phase}", daemon=True)
        self.thread.start()
        wait_for(f"the run to reach {phase}", lambda: self.marker.exists() or not self.thread.is_alive())
        # Later runs of the test go through: only this one pauses.
        monkeypatch.delenv(faults.PAUSE_ENV)
        if not self.marker.exists():
            raise AssertionError(f"the run ended before reaching {phase}: {self.error or self.report}")

    def _run(self, spec: RunSpec, day: Any) -> None:
        try:
            self.report = run_export(spec, day)
        except BaseException as exc:  # judged by the test
            self.error = exc

    def resume(self) -> None:
        """Let the run go on, and wait for its end."""
        self.marker.unlink(missing_ok=True)
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive(), f"the run hung after the fault at {self.phase}"

    def __enter__(self) -> PausedRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.thread.is_alive():
            self.resume()

    @property
    def failure(self) -> str:
        """The one-line reason the run failed with (it must have failed)."""
        assert isinstance(self.error, RunFailed), f"the run did not fail cleanly: {self.error!r} {self.report}"
        return str(self.error)


def autocommit(connect: Callable[[], Any]) -> Callable[[], Any]:
    """``connect`` in autocommit mode: a reader holding no transaction (and so no lock) between reads."""
    def opened() -> Any:
        conn = connect()
        if isinstance(conn, sqlite3.Connection):
            conn.isolation_level = None
        elif callable(getattr(conn, "autocommit", None)):
            conn.autocommit(True)  # PyMySQL
        else:
            conn.autocommit = True  # psycopg
        return conn
    return opened


class LiveReader:
    """A reader polling the whole live table every 20 ms on its own connection (reconnecting after an
    error), as an application would; every answer must be one of ``allowed`` contents."""

    def __init__(self, connect: Callable[[], Any], sql: str | None = None,
                 shape: Callable[[tuple[Any, ...]], tuple[Any, ...]] = normalize):
        """``sql``: what the reader asks (default: run_data's table, whole); ``shape``: each row as compared."""
        self.connect = autocommit(connect)
        self.sql = sql or f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM user_tags ORDER BY user_id"
        self.shape = shape
        self.answers: list[list[tuple[Any, ...]]] = []  # each different answer, in order
        self.reads = 0  # reads answered
        self.failures: list[tuple[float, str]] = []  # (monotonic time, first line of the error)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="live-reader", daemon=True)

    def _poll(self) -> None:
        conn = None
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = self.connect()
                cur = conn.cursor()
                cur.execute(self.sql)
                rows = [self.shape(tuple(r)) for r in cur.fetchall()]
                cur.close()
                self.reads += 1
                if not self.answers or rows != self.answers[-1]:
                    self.answers.append(rows)
            except Exception as exc:
                self.failures.append((time.monotonic(), first_line(exc)))
                if conn is not None:
                    with suppress(Exception):
                        conn.close()
                conn = None
            self._stop.wait(0.02)
        if conn is not None:
            with suppress(Exception):
                conn.close()

    @contextmanager
    def polling(self) -> Iterator[LiveReader]:
        self._thread.start()
        wait_for("the reader's first answer", lambda: bool(self.answers or self.failures))
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(DEADLINE)
            # The figures of docs/reliability.md (``pytest -s``).
            print(f"figures: reader {self.reads} reads answered, {len(self.failures)} failed, "
                  f"{len(self.answers)} different answers")

    def assert_whole(self, *allowed: list[tuple[Any, ...]]) -> None:
        """Every answer was one of the ``allowed`` contents (never empty, half-written or a mix)."""
        for answer in self.answers:
            assert answer in allowed, f"a reader saw {len(answer)} rows that are neither old nor new: {answer[:3]}"


# ---- the run's sessions on the servers ------------------------------------------------------------
def lock_key(t: LiveTarget, database: str) -> str:
    """The name of the run lock the engine takes on ``user_tags`` of ``database``."""
    return Target.lock_key(database, "public", "user_tags") if t.kind == "postgres" \
        else Target.lock_key(database, "user_tags")


def run_session(t: LiveTarget, database: str) -> int:
    """The server session of the run writing ``user_tags``: the one holding its run lock."""
    if t.kind == "postgres":
        rows = t.rows("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
                      "(SELECT oid FROM pg_database WHERE datname = %s)", [database])
    else:
        rows = [r for r in t.rows("SELECT IS_USED_LOCK(%s)", [lock_key(t, database)]) if r[0] is not None]
    assert len(rows) == 1, f"expected one session holding the run lock, found {rows}"
    return int(rows[0][0])


def kill_session(t: LiveTarget, session: int) -> None:
    """End ``session`` from the server side (``pg_terminate_backend`` / ``KILL``) and wait until it is gone."""
    if t.kind == "postgres":
        assert t.rows("SELECT pg_terminate_backend(%s)", [session]) == [(True,)]
        wait_for(f"backend {session} to end",
                 lambda: not t.rows("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [session]))
    else:
        t.execute(f"KILL {int(session)}")
        wait_for(f"connection {session} to end",
                 lambda: not t.rows("SELECT 1 FROM information_schema.processlist WHERE id = %s", [session]))


def other_sessions(t: LiveTarget, database: str) -> list[tuple[Any, ...]]:
    """Sessions on ``database`` other than the asking one: a run that ended leaves none (no open
    transaction on the stage, no session holding a lock)."""
    if t.kind == "postgres":
        return t.rows("SELECT pid, state, left(query, 60) FROM pg_stat_activity WHERE datname = %s "
                      "AND pid <> pg_backend_pid()", [database])
    return t.rows("SELECT id, command, left(info, 60) FROM information_schema.processlist WHERE db = %s "
                  "AND id <> CONNECTION_ID()", [database])


def run_lock_held(t: LiveTarget, database: str) -> bool:
    if t.kind == "postgres":
        return bool(t.rows("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = "
                           "(SELECT oid FROM pg_database WHERE datname = %s)", [database]))
    return t.rows("SELECT IS_USED_LOCK(%s)", [lock_key(t, database)]) != [(None,)]


def leftovers(t: LiveTarget) -> list[str]:
    return [n for n in t.tables() if "_dpfx_" in n]


def assert_nothing_left(t: LiveTarget, database: str) -> None:
    """No stage or backup table, no run lock, no session of the run (so no open transaction)."""
    assert leftovers(t) == []
    wait_for("the run's sessions to end", lambda: not other_sessions(t, database), timeout=30)
    assert not run_lock_held(t, database)


def live_table_of_the_day_before(t: LiveTarget, phase: str) -> tuple[RunSpec, list[tuple[Any, ...]]]:
    """The spec of ``make_spec`` and its live table on ``t`` holding D_PREV (a run exported it), with
    that content; before a fault at ``recovery``, also what a run killed inside a swap leaves: the old
    copy and a stage."""
    spec = make_spec(t.kind, t.conn_id)
    t.execute(*create_table_sql(spec, t.kind))
    run_export(spec, D_PREV)
    old = target_content(t)
    if phase == "recovery":
        t.execute("CREATE TABLE user_tags_dpfx_tmp AS SELECT * FROM user_tags",
                  "CREATE TABLE user_tags_dpfx_b AS SELECT * FROM user_tags")
    return spec, old
