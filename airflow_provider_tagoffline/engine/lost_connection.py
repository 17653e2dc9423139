"""A run whose connection the server ended (a killed session, a restarted or failed-over server).

The driver's own words ("terminating connection due to administrator command", "Lost connection to
server during query") name neither the connection nor the step, and the stage the run had made
(as big as the table) would wait for the next run — maybe a day — to be dropped. So a failed run
asks which of its connections no longer answers, says so in its error, and when it is the
target's, does at once on a new connection what the next run's recovery would do (spec §6), under
the run lock taken without waiting: a run holding it recovers the target itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_provider_tagoffline.contract.connection import Resolved
from airflow_provider_tagoffline.engine.report import RunReport
from airflow_provider_tagoffline.engine.targets import Target
from airflow_provider_tagoffline.engine.targets.lockwait import LockWaits
from airflow_provider_tagoffline.engine.warehouse import Warehouse
from airflow_provider_tagoffline.errors import RunFailed, first_line
from airflow_provider_tagoffline.runspec import RunSpec

#: the phases (``RunReport.phases``) that read the warehouse
WAREHOUSE_PHASES = frozenset({"preflight", "trust", "diff", "extract_load", "promote"})
_PHASE_WORDS = {"extract_load": "extract and load", "index": "index build"}


def failed_phase(report: RunReport) -> str:
    """The step a failed run was in, in words: the last phase it entered."""
    if not report.phases:
        return "taking the run lock"
    last = list(report.phases)[-1]
    return _PHASE_WORDS.get(last, last)


def lost_connection(spec: RunSpec, warehouse: Warehouse, target: Target, report: RunReport,
                    error: BaseException) -> str | None:
    """Which connection of a run that failed with ``error`` no longer answers: ``"target 'conn_id'"``,
    ``"warehouse 'conn_id'"``, or None. The warehouse is asked only about a driver's error in a step
    that reads it (a ``RunFailed`` says already what went wrong there, and may leave a stream that
    never stopped holding the connection, which a ping would wait for)."""
    if not _answers(lambda: target.scalar(target.d.ping_sql)):
        return f"target {spec.target.conn_id!r}"
    step = next(reversed(report.phases), None)
    if (not isinstance(error, RunFailed) and not warehouse.is_the_target and step in WAREHOUSE_PHASES
            and not _answers(lambda: _ping(warehouse.conn, warehouse.dialect.ping_sql))):
        return f"warehouse {spec.warehouse_conn_id!r}"
    return None


def _answers(ping: Callable[[], object]) -> bool:
    try:
        ping()
    except Exception:
        return False
    return True


def _ping(conn: Any, sql: str) -> None:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        cur.fetchall()
    finally:
        cur.close()


def recover_on_new_connection(spec: RunSpec, where: Resolved) -> list[str]:
    """``Target.recover`` on a new connection to the target ``where`` (as the run resolved it), under the
    run lock taken without waiting. Raises when the target cannot be reached or another run holds the lock."""
    target = where.target(spec.target, where.open())
    # One bounded try per step, not the service's patience: the run has failed already, and what a
    # session in the way keeps here is the next run's recovery to finish.
    target.lock_waits = LockWaits(lambda: 0)
    try:
        with target.lock(wait_seconds=0):
            return target.recover()
    finally:
        target.close()


def explain(spec: RunSpec, where: Resolved, report: RunReport, lost: str, error: str) -> str:
    """The failed run's error when the server ended its connection ``lost``; for the target's, after
    cleaning up what the run left (recorded in ``report.recovery``)."""
    message = f"lost the connection to the {lost} during {failed_phase(report)}: {error}"
    if not lost.startswith("target"):
        return message + "; the live table is untouched"
    try:
        actions = recover_on_new_connection(spec, where)
    except Exception as exc:
        return message + f"; not cleaned up yet ({first_line(exc)}): the next run recovers the target"
    report.recovery += [f"after the lost connection: {a}" for a in actions]
    if not actions:
        return message + "; nothing was left to clean up"
    return message + "; cleaned up on a new connection: " + ", ".join(actions)
