"""Faults survived (spec §6, issue #21): the run's target connection killed by the server at each
phase, and the warehouse connection killed in the middle of the stream.

For each: a reader polling the live table all along gets every answer, each the whole old or the
whole new table; the run fails with a clear error; the next run completes; nothing is left behind
(no ``_dpfx_b`` / ``_dpfx_tmp``, no run lock, no session with an open transaction). The table of
outcomes is docs/reliability.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_kit import (
    LiveReader,
    PausedRun,
    assert_nothing_left,
    kill_session,
    leftovers,
    live_table_of_the_day_before,
    lock_key,
    run_session,
    wait_for,
)

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.engine import faults
from airflow_provider_tagoffline.runs import run_export
from airflow_provider_tagoffline.runspec import RunSpec
from tests.live import pg_conn_json, pg_connect, pg_database
from tests.run_data import D_PREV, EXPECTED_D, OUTPUT_COLUMNS, D, LiveTarget, make_spec, normalize
from tests.run_data import target_content as content

pytestmark = [pytest.mark.postgres, pytest.mark.mysql]

#: where the target connection is killed, in run order (``engine/faults.py`` says where each is)
TARGET_PHASES = ("recovery", "extract", "during_load", "index", "gates", "inside_swap", "after_swap")
#: the step a run's error names for a fault at each checkpoint: where its next statement fails
STEP = {"recovery": "preflight", "extract": "extract and load", "during_load": "extract and load",
        "index": "index build", "gates": "gates", "inside_swap": "swap"}
#: on MariaDB the LOAD DATA statement has ended at ``during_load`` and the stage has its indexes from
#: ``CREATE TABLE ... LIKE``: the next statement is the gates' count
MYSQL_STEP = {**STEP, "during_load": "gates", "index": "gates"}


def _database(t: LiveTarget, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("pg_target_db" if t.kind == "postgres" else "mysql_target_db"))


@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
@pytest.mark.parametrize("phase", TARGET_PHASES)
def test_target_connection_killed(live_target: LiveTarget, phase: str, request: pytest.FixtureRequest,
                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = live_target
    database = _database(t, request)
    spec, old = live_table_of_the_day_before(t, phase)

    with LiveReader(t.connect).polling() as reader:
        with PausedRun(spec, D, phase, tmp_path, monkeypatch) as run:
            kill_session(t, run_session(t, database))
            run.resume()
        after = content(t)
    assert reader.failures == []
    reader.assert_whole(old, EXPECTED_D)

    if phase == "after_swap":  # the swap had committed: only the lock went with the session
        assert run.report is not None and run.report.status == "success"
        assert after == EXPECTED_D
    else:
        step = MYSQL_STEP if t.kind == "mysql" else STEP
        assert f"lost the connection to the target 'tot_target' during {step[phase]}: " in run.failure
        if phase == "inside_swap" and t.kind == "mysql":
            # MariaDB's one RENAME TABLE may have committed before the kill (then the new data is whole).
            assert after in (old, EXPECTED_D)
        else:
            assert after == old
    # The failed run cleaned up on a new connection: nothing waits for the next run.
    assert_nothing_left(t, database)

    report = run_export(spec, D)
    assert report.recovery == []
    assert content(t) == EXPECTED_D
    assert_nothing_left(t, database)


@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_target_connection_killed_inside_a_partition_swap(live_target: LiveTarget, request: pytest.FixtureRequest,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Partition D replaced (PostgreSQL: DETACH + ATTACH in one transaction; MariaDB: EXCHANGE
    PARTITION): killed in the middle, the table holds the whole old or the whole new partition D and
    every other partition as it was."""
    t = live_target
    database = _database(t, request)
    spec = make_spec(t.kind, t.conn_id, partition={"column": "ds", "format": "yyyyMMdd"})
    t.execute(*create_table_sql(spec, t.kind))
    run_export(spec, D_PREV)
    run_export(spec, D)
    t.execute("UPDATE user_tags SET nick = 'stale' WHERE ds = '20261123'")
    whole = f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM user_tags ORDER BY ds, user_id"
    old = [normalize(r) for r in t.rows(whole)]
    new = old[:len(EXPECTED_D)] + EXPECTED_D  # D_PREV's partition as it was, then D's new rows

    with LiveReader(t.connect, whole).polling() as reader:
        with PausedRun(spec, D, "inside_swap", tmp_path, monkeypatch) as run:
            kill_session(t, run_session(t, database))
            run.resume()
        after = [normalize(r) for r in t.rows(whole)]
    assert reader.failures == []
    reader.assert_whole(old, new)
    assert "lost the connection to the target 'tot_target' during swap: " in run.failure
    # PostgreSQL rolls the transaction back; MariaDB's one EXCHANGE PARTITION may have committed.
    assert after == old if t.kind == "postgres" else after in (old, new)
    assert_nothing_left(t, database)

    run_export(spec, D)
    assert [normalize(r) for r in t.rows(whole)] == new
    assert_nothing_left(t, database)

@pytest.mark.parametrize("live_target", ["postgres"], indirect=True)
def test_no_clean_up_without_the_run_lock(live_target: LiveTarget, pg_target_db: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Another run took the lock after the connection was lost: the failed run leaves the target to it
    (it recovers first), and says so."""
    t = live_target
    spec = make_spec(t.kind, t.conn_id)
    t.execute(*create_table_sql(spec, t.kind))
    run_export(spec, D_PREV)
    old = content(t)
    other = t.connect()
    try:
        with PausedRun(spec, D, "gates", tmp_path, monkeypatch) as run:
            kill_session(t, run_session(t, pg_target_db))
            other.execute("SELECT pg_advisory_lock(hashtext(%s))", [lock_key(t, pg_target_db)])
            run.resume()
        assert run.failure.endswith("): the next run recovers the target")
        assert "another run is writing" in run.failure
        assert leftovers(t) == ["user_tags_dpfx_b"]  # untouched while another session holds the lock
    finally:
        other.close()
    report = run_export(spec, D)
    assert report.recovery == ["dropped leftover user_tags_dpfx_b"]
    assert content(t) == EXPECTED_D != old
    assert_nothing_left(t, pg_target_db)


# ---- the warehouse connection killed in the middle of the stream ----------------------------------
#: enough rows that the warehouse is still streaming when the first chunk reaches the target
#: (~14 MB of CSV against 1 MB chunks read at most 4 ahead; row batches of 20,000)
WAREHOUSE_ROWS = 150_000
SUMMARY = "SELECT count(*), sum(user_id), min(v), max(v) FROM user_tags"


@pytest.fixture(scope="module")
def streaming_warehouse() -> Iterator[str]:
    """A PostgreSQL warehouse with one source of WAREHOUSE_ROWS IDs for D (read only: shared)."""
    with pg_database() as name:
        with pg_connect(name) as conn:
            conn.execute("CREATE TABLE src (user_id bigint, v text, ds text)")
            conn.execute("INSERT INTO src SELECT g, 'value ' || g || repeat('.', 70), %s "
                         "FROM generate_series(1, %s) g", [D.strftime("%Y%m%d"), WAREHOUSE_ROWS])
            conn.execute("ANALYZE src")
        yield name


def _one_source_spec(kind: str) -> RunSpec:
    return RunSpec.model_validate({
        "service": {"name": "faults", "slug": "faults", "application": "crm", "owner": "alice", "version": 1},
        "entity_key": {"entity": "user", "code": "user_id", "name": "User ID", "type": "bigint"},
        "warehouse_conn_id": "tot_fault_wh",
        "sources": [{"table": "src", "key": "user_id", "partition": {"column": "ds", "format": "yyyyMMdd"}}],
        "tags": [{"code": "v", "name": "v", "type": "string", "source": 0, "column": "v"}],
        "outputs": [{"column": "v", "tag": "v", "content": "value", "type": "string"}],
        "target": {"conn_id": "tot_target", "kind": kind, "table": "user_tags", "key_column": "user_id"},
        "gates": {}, "schedule": {"type": "manual", "timezone": "UTC"},
    })


def _two_old_rows(t: LiveTarget, warehouse: str, monkeypatch: pytest.MonkeyPatch) -> tuple[RunSpec, list[Any]]:
    """The one-source spec from ``warehouse`` (connection tot_fault_wh) into ``t``, whose live table
    holds two old rows; and the SUMMARY of those."""
    monkeypatch.setenv("AIRFLOW_CONN_TOT_FAULT_WH", pg_conn_json(warehouse))
    spec = _one_source_spec(t.kind)
    t.execute(*create_table_sql(spec, t.kind), "INSERT INTO user_tags (user_id, v) VALUES (1, 'old'), (2, 'old')")
    return spec, t.rows(SUMMARY)


def _streaming_backend(warehouse: str) -> int:
    """The warehouse session streaming the extract: a ``COPY (...) TO STDOUT`` or the named cursor."""
    with pg_connect() as admin:
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                             "AND (query ILIKE 'COPY (%%' OR query ILIKE '%%tagoffline_extract%%')",
                             [warehouse]).fetchall()
    assert len(rows) == 1, f"expected one streaming session on the warehouse, found {rows}"
    return int(rows[0][0])


def _warehouse_sessions(warehouse: str) -> int:
    with pg_connect() as admin:
        return int(admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                                 [warehouse]).fetchone()[0])


@pytest.mark.parametrize("live_target", ["postgres", "mysql", "sqlite"], indirect=True)
def test_warehouse_connection_killed_mid_stream(live_target: LiveTarget, streaming_warehouse: str,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL and MariaDB targets read the warehouse's ``COPY ... TO STDOUT`` (CSV); SQLite reads
    row batches from a server-side cursor."""
    t = live_target
    spec, old = _two_old_rows(t, streaming_warehouse, monkeypatch)

    with LiveReader(t.connect, SUMMARY, shape=lambda r: tuple(map(str, r))).polling() as reader:
        with PausedRun(spec, D, "extract", tmp_path, monkeypatch) as run:
            pid = _streaming_backend(streaming_warehouse)
            with pg_connect() as admin:
                assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
            run.resume()
        after = t.rows(SUMMARY)
    assert reader.failures == []
    reader.assert_whole([tuple(map(str, old[0]))])
    assert after == old
    assert run.failure.startswith("lost the connection to the warehouse 'tot_fault_wh' during extract and load: ")
    assert run.failure.endswith("; the live table is untouched")
    assert leftovers(t) == []  # the run dropped its stage on its own (still live) target connection

    report = run_export(spec, D)
    assert report.rows_written == WAREHOUSE_ROWS
    assert t.rows("SELECT count(*), max(v) FROM user_tags") == [(WAREHOUSE_ROWS, f"value 99999{'.' * 70}")]
    assert leftovers(t) == []
    wait_for("nothing to read the warehouse any more", lambda: _warehouse_sessions(streaming_warehouse) == 0)


@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_target_connection_killed_mid_stream(live_target: LiveTarget, streaming_warehouse: str,
                                             request: pytest.FixtureRequest, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The other end of the same stream: the target's session ended while the warehouse still streams
    (MariaDB's LOAD DATA reads a pipe a thread fills): the stream stops, nothing hangs."""
    t = live_target
    database = _database(t, request)
    spec, old = _two_old_rows(t, streaming_warehouse, monkeypatch)

    with LiveReader(t.connect, SUMMARY, shape=lambda r: tuple(map(str, r))).polling() as reader:
        with PausedRun(spec, D, "extract", tmp_path, monkeypatch) as run:
            kill_session(t, run_session(t, database))
            run.resume()
    assert reader.failures == []
    reader.assert_whole([tuple(map(str, old[0]))])
    assert t.rows(SUMMARY) == old
    assert run.failure.startswith("lost the connection to the target 'tot_target' during extract and load: ")
    assert_nothing_left(t, database)
    wait_for("the warehouse's COPY to end with the run", lambda: _warehouse_sessions(streaming_warehouse) == 0)

    assert run_export(spec, D).rows_written == WAREHOUSE_ROWS

def test_the_reliability_page_names_only_tests_that_exist() -> None:
    """docs/reliability.md: each row names the test it comes from; a renamed test must not leave a
    row without one. And the phases faulted here are the engine's checkpoints."""
    root = Path(__file__).resolve().parents[2]
    page = (root / "docs" / "reliability.md").read_text()
    sources = "\n".join(p.read_text() for p in (root / "tests").rglob("*.py"))  # the suites of tests/conformance too
    named = set(re.findall(r"\b(test_\w+)\b", page)) - {"test_faults", "test_server_restart",
                                                       "test_celery_workers", "test_duckdb_warehouse_memory"}
    assert named and all(f"def {name}(" in sources for name in named), named
    assert set(TARGET_PHASES) <= set(faults.CHECKPOINTS)
    assert all(f"`{phase}`" in page for phase in TARGET_PHASES)
