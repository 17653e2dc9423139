"""Bounded lock waits without a server: the retry loop on a fake clock, and each family's statements
(the live behaviour is tests/engine/test_lock_waits.py; Oracle's is in tests/dialects/oracle/test_oracle_sql.py)."""

from __future__ import annotations

import sqlite3

import psycopg
import pymysql
import pytest

from airflow_provider_tagoffline.dialects import make_target
from airflow_provider_tagoffline.engine.targets.lockwait import (
    ATTEMPT_SECONDS,
    Blocker,
    LockPatienceExhausted,
    LockWaits,
    patience_seconds,
    retry,
)
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runspec import TargetSpec


class Timeout(Exception):
    pass


class FakeTime:
    """A clock that moves only when a lock attempt waits (``ATTEMPT_SECONDS``) or the loop pauses."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def busy_for(time: FakeTime, failures: int, error: type[Exception] = Timeout):
    calls = {"n": 0}

    def step() -> str:
        calls["n"] += 1
        if calls["n"] <= failures:
            time.now += ATTEMPT_SECONDS  # the lock request waited its whole attempt
            raise error("lock not granted")
        return "swapped"
    return step, calls


def run(step, time: FakeTime, waits: LockWaits, blockers=lambda: [], hint: str = ""):
    return retry(step, what="the swap of user_tags", waits=waits, is_lock_timeout=lambda e: isinstance(e, Timeout),
                 blockers=blockers, hint=hint, clock=time.clock, sleep=time.sleep)


def test_a_step_runs_again_after_growing_pauses_until_its_lock_is_granted() -> None:
    time, waits = FakeTime(), LockWaits(lambda: 600)
    step, calls = busy_for(time, 6)
    assert run(step, time, waits) == "swapped"
    assert calls["n"] == 7 and waits.attempts == 7 and waits.timeouts == 6
    assert time.pauses == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]  # doubling, at most 8 s
    assert waits.waited == pytest.approx(6 * ATTEMPT_SECONDS + sum(time.pauses))


def test_out_of_patience_the_step_fails_naming_the_blockers_and_the_last_pause_fits_the_patience() -> None:
    time, waits = FakeTime(), LockWaits(lambda: 10)
    step, calls = busy_for(time, 100)
    blocker = Blocker(session="4242", user="bob", client="10.0.0.5", application="nightly_report",
                      since="2026-12-07 02:00:00 UTC", state="idle in transaction",
                      statement="SELECT   *\n FROM user_tags  WHERE " + "x" * 300)
    with pytest.raises(LockPatienceExhausted) as failed:
        run(step, time, waits, blockers=lambda: [blocker])
    # tries at 0, 2, 4.5 and 8 s; the pause after the fourth cut to the half second left; a last try at 10 s
    assert time.pauses == [0.5, 1.0, 2.0, 0.5]
    assert calls["n"] == 5 and waits.timeouts == 5
    assert waits.waited == pytest.approx(10 + ATTEMPT_SECONDS) and time.now == pytest.approx(waits.waited)
    message = str(failed.value)
    assert message.startswith("the swap of user_tags gave up: other sessions held the table for the whole "
                              "wait_for_lock of 10s (5 attempts, each waiting at most 1.5s so readers were never "
                              "held longer); the target is untouched. Held by: session 4242 (user bob, from "
                              "10.0.0.5, application 'nightly_report', since 2026-12-07 02:00:00 UTC, idle in "
                              "transaction): SELECT * FROM user_tags WHERE xxx")
    assert message.endswith("x…. Let that finish or end it, then run again, or raise target.wait_for_lock")
    assert failed.value.blockers == [blocker] and isinstance(failed.value, RunFailed)


def test_no_patience_means_one_attempt() -> None:
    time, waits = FakeTime(), LockWaits(lambda: 0)
    step, calls = busy_for(time, 1)
    with pytest.raises(LockPatienceExhausted, match=r"Held by: no session holds it any more"):
        run(step, time, waits)
    assert calls["n"] == 1 and time.pauses == []


def test_other_errors_are_not_retried() -> None:
    time, waits = FakeTime(), LockWaits(lambda: 600)
    step, calls = busy_for(time, 1, error=ValueError)
    with pytest.raises(ValueError):
        run(step, time, waits)
    assert calls["n"] == 1 and waits.timeouts == 0


def test_blockers_that_cannot_be_listed_or_named_for_certain_are_said_so() -> None:
    time = FakeTime()

    def no_right() -> list[Blocker]:
        raise RuntimeError("permission denied for view pg_stat_activity\nDETAIL: more")

    with pytest.raises(LockPatienceExhausted, match=r"Held by: the sessions could not be listed \(permission denied "
                                                    r"for view pg_stat_activity\)\."):
        run(busy_for(time, 9)[0], time, LockWaits(lambda: 1), blockers=no_right)
    suspect = Blocker(session="7", user="root", state="idle in transaction", since="2026-12-07 02:00:00",
                      certain=False)
    with pytest.raises(LockPatienceExhausted, match=r"Held by: this server cannot say which session holds the table; "
                                                    r"the sessions with an open transaction or a statement naming it: "
                                                    r"session 7 \(user root, since 2026-12-07 02:00:00, idle in "
                                                    r"transaction, has an open transaction\)\."):
        run(busy_for(time, 9)[0], time, LockWaits(lambda: 1), blockers=lambda: [suspect])
    with pytest.raises(LockPatienceExhausted, match=r"Held by: SQLite cannot name it\."):
        run(busy_for(time, 9)[0], time, LockWaits(lambda: 1), hint="SQLite cannot name it")


def test_patience_is_the_services_else_the_deployments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__TAG_OFFLINE__WAIT_FOR_LOCK", raising=False)
    assert patience_seconds(30) == 30 and patience_seconds(0) == 0
    assert patience_seconds(None) == 600  # 10m
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__WAIT_FOR_LOCK", "1h30m")
    assert patience_seconds(None) == 5400
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__WAIT_FOR_LOCK", "soon")
    with pytest.raises(RunFailed, match=r"^\[tag_offline\] wait_for_lock: 'soon' is not a duration such as 6h, 90m"):
        patience_seconds(None)
    # read only when a lock is first refused: a run that never waits does not need the option
    waits = LockWaits(lambda: patience_seconds(None))
    assert waits.attempts == 0


def target(kind: str):
    spec = TargetSpec(conn_id="c", kind=kind, schema="crm" if kind == "postgres" else None, table="user_tags",
                      key_column="user_id", wait_for_lock=120)
    return make_target(spec, None, kind)


def test_postgres_bounds_each_lock_of_the_swap_transaction_and_takes_views_before_the_table() -> None:
    t = target("postgres")
    assert t.lock_timeout_sql(ATTEMPT_SECONDS) == ["SET LOCAL lock_timeout = '1500ms'"]
    assert t.lock_tables_sql(['"crm"."v"', '"crm"."user_tags"']) == [
        'LOCK TABLE "crm"."v", "crm"."user_tags" IN ACCESS EXCLUSIVE MODE']
    assert t.lock_waits.patience == 120
    assert t.is_lock_timeout(psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"))
    assert t.is_lock_timeout(psycopg.errors.DeadlockDetected("deadlock detected"))
    assert not t.is_lock_timeout(psycopg.errors.UndefinedTable("relation does not exist"))
    sql = t.blockers_sql()
    assert "FROM pg_stat_activity a" in sql and "l.granted" in sql and "pg_backend_pid()" in sql
    assert "unnest(%s::text[])" in sql  # the table names travel as a parameter


def test_flavours_without_lock_timeout_ask_for_the_locks_without_waiting() -> None:
    """openGauss (a fork of PostgreSQL 9.2) has no lock_timeout and lets only a superuser set its own
    lockwait_timeout; Greenplum 6 and AnalyticDB (9.4) have lock_timeout."""
    gauss = make_target(TargetSpec(conn_id="c", kind="opengauss", table="t", key_column="k"), None, "opengauss")
    assert gauss.lock_timeout_sql(ATTEMPT_SECONDS) == []
    assert gauss.lock_tables_sql(['"t"']) == ['LOCK TABLE "t" IN ACCESS EXCLUSIVE MODE NOWAIT']
    for kind in ("greenplum", "adb_pg"):
        t = make_target(TargetSpec(conn_id="c", kind=kind, table="t", key_column="k"), None, kind)
        assert t.lock_timeout_sql(ATTEMPT_SECONDS) == ["SET LOCAL lock_timeout = '1500ms'"]
        assert t.lock_tables_sql(['"t"']) == ['LOCK TABLE "t" IN ACCESS EXCLUSIVE MODE']


def test_mysql_bounds_metadata_and_row_lock_waits_per_session_in_whole_seconds() -> None:
    t = target("mysql")
    assert t.lock_timeout_sql(ATTEMPT_SECONDS) == ["SET SESSION lock_wait_timeout = 1",
                                                   "SET SESSION innodb_lock_wait_timeout = 1"]
    assert t.transactional_ddl is False  # so each retried step is one statement (RENAME TABLE is atomic)
    assert t.is_lock_timeout(pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"))
    assert t.is_lock_timeout(pymysql.err.OperationalError(1213, "Deadlock found"))
    assert not t.is_lock_timeout(pymysql.err.ProgrammingError(1146, "Table doesn't exist"))
    assert not t.is_lock_timeout(RuntimeError())
    mdl = t.blockers_sql(t.METADATA_LOCK_INFO)
    assert "FROM information_schema.METADATA_LOCK_INFO m WHERE m.TABLE_SCHEMA = COALESCE(%s, DATABASE()) " \
           "AND m.TABLE_NAME IN (%s, %s, %s)" in mdl
    ps = t.blockers_sql(t.PERFORMANCE_SCHEMA)
    assert "performance_schema.metadata_locks m" in ps and "m.LOCK_STATUS = 'GRANTED'" in ps
    fallback = t.blockers_sql("")
    assert "t.trx_id IS NOT NULL OR p.INFO LIKE CONCAT('%%', %s, '%%')" in fallback
    assert "NOT LIKE 'Waiting for%%'" in fallback  # those wait behind the holder, they hold nothing
    assert all("p.ID <> CONNECTION_ID()" in sql for sql in (mdl, ps, fallback))


def test_sqlite_bounds_its_busy_timeout() -> None:
    t = target("sqlite")
    assert t.lock_timeout_sql(ATTEMPT_SECONDS) == ["PRAGMA busy_timeout = 1500"]
    assert t.is_lock_timeout(_sqlite_error("database is locked", 5))
    assert t.is_lock_timeout(_sqlite_error("database table is locked", 6))
    assert not t.is_lock_timeout(_sqlite_error("no such table: user_tags", 1))
    assert "WAL" in t.blocker_hint


def _sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError(message)
    exc.sqlite_errorcode = code
    return exc


def test_duckdb_never_waits_for_a_lock() -> None:
    t = target("duckdb")
    assert t.lock_timeout_sql(ATTEMPT_SECONDS) == [] and not t.is_lock_timeout(RuntimeError("Conflict"))


def test_a_format_3_run_spec_still_loads_and_takes_the_deployments_patience() -> None:
    from airflow_provider_tagoffline.runspec import RUNSPEC_VERSION, RunSpec
    from tests.run_data import make_spec

    old = make_spec("postgres", "c").to_dict()
    assert "wait_for_lock" not in old["target"]  # None is left out of the dict
    old["spec_version"] = 3  # rendered before target.wait_for_lock existed
    spec = RunSpec.model_validate(old)
    assert spec.spec_version == 3 < RUNSPEC_VERSION and spec.target.wait_for_lock is None
    # its dict, hence its fingerprint (what publishing compares with the DAG Airflow parsed), is the one
    # it had before the field existed: an upgrade does not make published services look changed
    assert spec.to_dict() == old and "wait_for_lock" not in spec.to_dict()["target"]
    patient = spec.model_copy(update={"target": spec.target.model_copy(update={"wait_for_lock": 60})})
    assert patient.to_dict()["target"]["wait_for_lock"] == 60 and patient.fingerprint() != spec.fingerprint()
