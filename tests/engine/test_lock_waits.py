"""Bounded lock waits at the swap (spec §5.6, issue 21), on the live servers.

A transaction that read the live table and stays open used to make the swap wait for its exclusive
lock with every new reader queued behind that wait (17 s outages with a 20 s reader). Now the swap's
lock waits at most ``lockwait.ATTEMPT_SECONDS`` a try: readers polling the table are answered within
2.5 s throughout, and the run finishes once the long reader has gone. When the service's patience
runs out, the run fails naming the session in the way, the table untouched; the next run succeeds.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.engine import faults
from airflow_provider_tagoffline.engine.report import RunReport
from airflow_provider_tagoffline.engine.targets.lockwait import ATTEMPT_SECONDS, LockPatienceExhausted
from airflow_provider_tagoffline.runs import run_export
from airflow_provider_tagoffline.runspec import RunSpec
from tests.live import mysql_connect, mysql_database, pg_connect
from tests.pollers import CountPollers
from tests.run_data import D_PREV, EXPECTED_D, D, LiveTarget, make_spec
from tests.run_data import target_content as content

pytestmark = [pytest.mark.postgres, pytest.mark.mysql, pytest.mark.slow]

LONG_READER_SECONDS = 20
READERS = 3
POLL_EVERY = 0.05
WORST_READ_ALLOWED = 2.5  # about ATTEMPT_SECONDS (1.5 s) plus the load of a shared CI machine


def with_patience(spec: RunSpec, seconds: int) -> RunSpec:
    return spec.model_copy(update={"target": spec.target.model_copy(update={"wait_for_lock": seconds})})


def connect(t: LiveTarget, application: str) -> Any:
    """An autocommit session to the target's database, named ``application`` where the server has names."""
    database = json.loads(t.conn_json)["schema"]
    if t.kind == "postgres":
        return pg_connect(database, application_name=application)
    return mysql_connect(database)


def open_reading_transaction(t: LiveTarget, application: str) -> Any:
    """A session that read the live table in a transaction it keeps open: it holds the table's lock."""
    conn = connect(t, application)
    cur = conn.cursor()
    cur.execute("BEGIN" if t.kind == "postgres" else "START TRANSACTION")
    cur.execute("SELECT count(*) FROM user_tags")
    cur.fetchone()
    cur.close()
    return conn


def pollers(t: LiveTarget, expected: int) -> CountPollers:
    """``READERS`` sessions of the target, each running ``SELECT count(*)`` every ``POLL_EVERY`` seconds."""
    return CountPollers(lambda i: connect(t, f"poller_{i}"), READERS, expected, POLL_EVERY)


def in_thread(work: Callable[[], RunReport]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["report"] = work()
        except BaseException as exc:
            out["error"] = exc
        out["ended"] = time.monotonic()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, out


@pytest.fixture
def filled(live_target: LiveTarget) -> Iterator[tuple[LiveTarget, RunSpec]]:
    """The target table, holding D_PREV's data."""
    t = live_target
    spec = make_spec(t.kind, t.conn_id)
    t.execute(*create_table_sql(spec, t.kind))
    run_export(spec, D_PREV)
    yield t, spec


@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_a_long_reader_delays_the_swap_but_no_other_reader(filled: tuple[LiveTarget, RunSpec]) -> None:
    t, spec = filled
    reader = open_reading_transaction(t, "long_reader")
    reader_started = time.monotonic()
    try:
        with pollers(t, len(EXPECTED_D)) as readers:
            run, out = in_thread(lambda: run_export(spec, D))
            # The long reader's 20 s: the run must still be waiting for the table when they are over.
            run.join(timeout=max(0.0, LONG_READER_SECONDS - (time.monotonic() - reader_started)))
            assert run.is_alive(), out
            reader_ended = time.monotonic()
            reader.commit()
            run.join(timeout=120)
    finally:
        reader.close()  # else MariaDB's DROP DATABASE of the fixture waits for its transaction
    assert "error" not in out, out.get("error")
    report: RunReport = out["report"]
    assert out["ended"] > reader_ended and content(t) == EXPECTED_D
    assert readers.failed == 0 and readers.wrong == 0, readers.errors[:3]
    assert readers.worst < WORST_READ_ALLOWED, f"a read waited {readers.worst:.2f}s"
    assert readers.reads > READERS * 50  # they kept reading all along
    assert report.lock_timeouts >= 3 and report.lock_attempts > report.lock_timeouts
    assert report.lock_wait_seconds >= LONG_READER_SECONDS / 2
    assert f"{report.lock_timeouts} not granted in time" in report.summary()
    assert not [n for n in t.tables() if "_dpfx_" in n]
    print(f"{t.kind}: worst read {readers.worst:.2f}s of {readers.reads} reads; {report.lock_attempts} lock "
          f"attempts, waited {report.lock_wait_seconds:.1f}s; run ended {out['ended'] - reader_ended:.1f}s after "
          "the long reader")


def start_blocker(t: LiveTarget) -> tuple[Any, Callable[[], None]]:
    """A session in the swap's way; returns it and how to end it.

    PostgreSQL: an application's transaction left open after reading the table (``idle in
    transaction``). MariaDB: a statement still reading the table, which its PROCESSLIST names (an idle
    transaction is named there too, as a suspect: test_a_long_reader… covers it).
    """
    if t.kind == "postgres":
        conn = open_reading_transaction(t, "nightly_report")
        return conn, lambda: (conn.rollback(), conn.close())
    conn = connect(t, "nightly_report")
    session = conn.thread_id()
    running = threading.Thread(target=lambda: _quietly(conn, "SELECT SLEEP(120) FROM user_tags LIMIT 1"), daemon=True)
    running.start()
    deadline = time.monotonic() + 30
    while not t.rows("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s AND INFO LIKE %s",
                     [session, "SELECT SLEEP(120)%"])[0][0]:
        assert time.monotonic() < deadline, "the blocking statement did not start"
        time.sleep(0.05)

    def end() -> None:
        t.execute(f"KILL QUERY {int(session)}")
        running.join(timeout=30)
        conn.close()
    return conn, end


def _quietly(conn: Any, sql: str) -> None:
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            cur.fetchall()
    except Exception:
        pass  # ended by KILL QUERY


@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_when_patience_runs_out_the_run_fails_naming_the_blocker(filled: tuple[LiveTarget, RunSpec]) -> None:
    t, spec = filled
    before = content(t)
    short = with_patience(spec, 5)
    _, end = start_blocker(t)
    try:
        started = time.monotonic()
        with pytest.raises(LockPatienceExhausted) as failed:
            run_export(short, D)
        took = time.monotonic() - started
    finally:
        end()
    message = str(failed.value)
    assert message.startswith("the swap of user_tags gave up: other sessions held the table for the whole "
                              "wait_for_lock of 5s (")
    assert "the target is untouched" in message and "raise target.wait_for_lock" in message
    if t.kind == "postgres":
        assert "application 'nightly_report'" in message and "user postgres" in message
        assert "idle in transaction): SELECT count(*) FROM user_tags" in message
    else:
        assert "user root" in message and ": SELECT SLEEP(120) FROM user_tags LIMIT 1" in message
    (blocker,) = failed.value.blockers
    assert blocker.since  # since when it holds the table
    report = failed.value.report
    assert isinstance(report, RunReport) and report.status == "failed"
    assert report.lock_timeouts >= 2 and report.lock_wait_seconds >= 5
    assert took < 5 + ATTEMPT_SECONDS + 30  # patience, the last try, and the run's own work
    assert content(t) == before and not [n for n in t.tables() if "_dpfx_" in n]

    # The blocker gone, the next run (same patience) swaps at its first try.
    report = run_export(short, D)
    assert content(t) == EXPECTED_D and report.lock_timeouts == 0


@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_a_partition_exchange_waits_the_same_way(live_target: LiveTarget) -> None:
    """Partition D's exchange (PostgreSQL DETACH + ATTACH, MariaDB EXCHANGE PARTITION) is bounded the same way:
    an open transaction that read the table is named when patience runs out, partition D stays as it was."""
    t = live_target
    spec = with_patience(make_spec(t.kind, t.conn_id, partition={"column": "ds", "format": "yyyyMMdd"}), 3)
    t.execute(*create_table_sql(spec, t.kind))
    run_export(spec, D_PREV)
    run_export(spec, D)
    t.execute("UPDATE user_tags SET nick = 'before' WHERE ds = '20261123'")
    with contextlib.ExitStack() as stack:
        if t.kind == "mysql":
            # A bystander: another database's session, in a transaction that read a table of the same
            # name. It holds nothing of ours, so it is not named (MariaDB's suspects are of our database).
            other = stack.enter_context(mysql_database("bystander"))
            bystander = mysql_connect(other)
            stack.callback(bystander.close)
            with bystander.cursor() as cur:
                cur.execute("CREATE TABLE user_tags (id INT)")
                cur.execute("START TRANSACTION")
                cur.execute("SELECT COUNT(*) FROM user_tags")
                cur.fetchall()
        reader = open_reading_transaction(t, "partition_reader")
        try:
            with pytest.raises(LockPatienceExhausted,
                               match=r"^the exchange of partition 20261123 of user_tags gave up") as failed:
                run_export(spec, D)
        finally:
            reader.rollback()
            reader.close()
    # MariaDB names the holder for certain only with its metadata_lock_info plugin or performance_schema's
    # metadata locks (neither on by default; checked live on a private server with each)
    certain = t.kind == "postgres" or bool(t.rows(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'information_schema' "
        "AND TABLE_NAME = 'METADATA_LOCK_INFO'")[0][0]) or bool(t.rows(
        "SELECT @@performance_schema AND (SELECT COUNT(*) FROM performance_schema.setup_instruments "
        "WHERE NAME = 'wait/lock/metadata/sql/mdl' AND ENABLED = 'YES')")[0][0])
    assert ("this server cannot say which session holds the table" in str(failed.value)) is not certain
    (blocker,) = failed.value.blockers
    assert blocker.certain is certain and blocker.state == "idle in transaction" and blocker.since
    assert blocker.application == ("partition_reader" if t.kind == "postgres" else None)
    assert {r[0] for r in t.rows("SELECT nick FROM user_tags WHERE ds = '20261123'")} == {"before"}
    assert run_export(spec, D).lock_timeouts == 0
    assert "before" not in {r[0] for r in t.rows("SELECT nick FROM user_tags WHERE ds = '20261123'")}
    assert not [n for n in t.tables() if "_dpfx_" in n]


@pytest.mark.parametrize("live_target", ["sqlite"], indirect=True)
def test_sqlite_readers_in_wal_mode_never_hold_the_swap_back_in_rollback_mode_they_do(
        filled: tuple[LiveTarget, RunSpec], monkeypatch: pytest.MonkeyPatch) -> None:
    t, spec = filled
    before = content(t)
    short = with_patience(spec, 3)
    reader = sqlite3.connect(json.loads(t.conn_json)["host"], isolation_level=None)

    def read_once_loaded(name: str) -> None:
        # In rollback-journal mode a reader blocks every commit, the load's too: it comes once the stage is
        # loaded, the way a reader arrives during a run's last seconds.
        if name == "after_load":
            reader.execute("BEGIN")
            assert reader.execute("SELECT count(*) FROM user_tags").fetchone()[0] == len(EXPECTED_D)

    monkeypatch.setattr(faults, "checkpoint", read_once_loaded)
    with pytest.raises(LockPatienceExhausted, match=r"Held by: SQLite cannot name the connection holding the "
                                                    r"database file; in WAL mode"):
        run_export(short, D)
    reader.execute("ROLLBACK")
    assert content(t) == before

    reader.execute("PRAGMA journal_mode = WAL")
    report = run_export(short, D)  # the reader's snapshot opens after the load again, and stays open
    assert report.lock_timeouts == 0 and content(t) == EXPECTED_D
    assert reader.execute("SELECT count(*) FROM user_tags").fetchone()[0] == len(EXPECTED_D)  # its snapshot
    reader.execute("ROLLBACK")
    reader.close()
    assert not [n for n in t.tables() if "_dpfx_" in n]
