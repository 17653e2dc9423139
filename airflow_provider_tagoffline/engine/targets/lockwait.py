"""Bounded lock waits (spec §5.6): every step of a run that takes an exclusive lock on the live table
(the swap, a partition exchange, the recovery renames) waits at most ``ATTEMPT_SECONDS`` for it, then
gives way and tries again after a pause, until the service's patience (``target.wait_for_lock``, else
``[tag_offline] wait_for_lock``) runs out; then the run fails naming the sessions that held the table.

Why: a lock request that waits queues every later reader of the table behind it (PostgreSQL's lock
queue, MySQL/MariaDB metadata locks), so one long transaction on the live table turned a swap into an
outage for every reader (measured: 17 s with a 20 s reader). Bounded attempts let the readers through
between them; gh-ost, pg-osc and pg_repack bound their cut-over locks the same way.

This module knows no database: a family says how to bound a wait (``Target.lock_timeout_sql``), how its
driver reports a timeout (``Target.is_lock_timeout``) and who holds the table (``Target.blockers``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from airflow_provider_tagoffline import config, waiting
from airflow_provider_tagoffline.errors import RunFailed, ValidationFailed, first_line

log = logging.getLogger(__name__)

#: the longest a lock request of ours waits, and so the longest a reader queues behind it, per attempt
ATTEMPT_SECONDS = 1.5
#: pause after the first attempt that timed out; doubled after each, up to MAX_PAUSE_SECONDS
FIRST_PAUSE_SECONDS = 0.5
MAX_PAUSE_SECONDS = 8.0
#: the longest statement text a blocker's description quotes
STATEMENT_CHARS = 200

T = TypeVar("T")


@dataclass(frozen=True)
class Blocker:
    """A session holding (or, where the engine cannot say, perhaps holding) a lock the run waits for."""

    session: str  # the server's id of the session (pid, thread id, sid,serial#)
    user: str | None = None
    client: str | None = None  # address or host it connects from
    application: str | None = None  # application_name / program
    since: str | None = None  # when its transaction (else its statement, else its login) began
    state: str | None = None  # e.g. "idle in transaction", "Query"
    statement: str | None = None  # its current or last statement
    #: False where the engine cannot tell which tables a session holds (MariaDB without metadata lock
    #: information): a session with an open transaction, named as a suspect
    certain: bool = True

    def describe(self) -> str:
        facts = [f"user {self.user}" if self.user else "",
                 f"from {self.client}" if self.client else "",
                 f"application {self.application!r}" if self.application else "",
                 f"since {self.since}" if self.since else "",
                 self.state or "",
                 "" if self.certain else "has an open transaction"]
        text = f"session {self.session} ({', '.join(f for f in facts if f)})"
        statement = " ".join((self.statement or "").split())
        if statement:
            if len(statement) > STATEMENT_CHARS:
                statement = statement[:STATEMENT_CHARS] + "…"
            text += f": {statement}"
        return text


class LockPatienceExhausted(RunFailed):
    """The run waited its whole patience for a lock on the target; nothing was changed."""

    def __init__(self, message: str, blockers: Sequence[Blocker]):
        super().__init__(message)
        self.blockers = list(blockers)


@dataclass
class LockWaits:
    """A run's bounded lock waits so far, against its patience (the run report shows them)."""

    #: the patience in seconds, asked when a lock is first not granted (a run that never waits reads
    #: no configuration for it)
    resolve_patience: Callable[[], float]
    attempts: int = 0  # attempts of every bounded step
    timeouts: int = 0  # attempts whose lock was not granted in time
    waited: float = 0.0  # seconds of those attempts and of the pauses after them

    @functools.cached_property
    def patience(self) -> float:
        return float(self.resolve_patience())


def patience_seconds(service_value: int | None) -> int:
    """The run's patience: the service's ``target.wait_for_lock``, else ``[tag_offline] wait_for_lock``."""
    if service_value is not None:
        return service_value
    try:
        return waiting.parse_duration(config.get("wait_for_lock"), "[tag_offline] wait_for_lock",
                                      maximum=waiting.MAX_WAIT_SECONDS)
    except ValidationFailed as exc:
        raise RunFailed(str(exc)) from None


def retry(step: Callable[[], T], *, what: str, waits: LockWaits, is_lock_timeout: Callable[[BaseException], bool],
          blockers: Callable[[], list[Blocker]], hint: str = "",
          clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> T:
    """``step()``, run again while it fails on a lock timeout, until ``waits.patience`` is spent.

    ``step`` must leave nothing changed when it fails (one transaction, or one atomic statement), so
    running it again never repeats work. When patience runs out, LockPatienceExhausted names the
    sessions ``blockers()`` finds.
    """
    pause = FIRST_PAUSE_SECONDS
    while True:
        waits.attempts += 1
        started = clock()
        try:
            return step()
        except Exception as exc:
            if not is_lock_timeout(exc):
                raise
            waits.timeouts += 1
            waits.waited += clock() - started
            left = waits.patience - waits.waited
            if left <= 0:
                raise _exhausted(what, waits, blockers, hint) from None
            nap = min(pause, left)
            log.warning("%s: the table is in use, lock not granted within %.1fs (attempt %d); next try in %.1fs",
                        what, ATTEMPT_SECONDS, waits.attempts, nap)
            sleep(nap)
            waits.waited += nap
            pause = min(pause * 2, MAX_PAUSE_SECONDS)


def _exhausted(what: str, waits: LockWaits, blockers: Callable[[], list[Blocker]], hint: str) -> LockPatienceExhausted:
    try:
        found = blockers()
        named = "; ".join(b.describe() for b in found) if found else \
            hint or "no session holds it any more (it ended as the run gave up)"
    except Exception as exc:  # e.g. no right to read the server's session views: say so, keep the failure
        found = []
        named = f"the sessions could not be listed ({first_line(exc)[:200]})"
    if found and not all(b.certain for b in found):
        named = ("this server cannot say which session holds the table; the sessions with an open transaction "
                 "or a statement naming it: " + named)
    message = (f"{what} gave up: other sessions held the table for the whole wait_for_lock of "
               f"{waiting.format_wait(round(waits.patience))} ({waits.attempts} attempts, each waiting at most "
               f"{ATTEMPT_SECONDS:g}s so readers were never held longer); the target is untouched. "
               f"Held by: {named}. Let that finish or end it, then run again, or raise target.wait_for_lock")
    return LockPatienceExhausted(message, found)
