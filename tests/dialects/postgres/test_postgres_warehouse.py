"""A PostgreSQL warehouse's own path: the duplicate count alongside the load (and the reload it may
cause), a missing partition's clear line, a flavour of the family read as PostgreSQL, and the
background checks each on its connection. What every warehouse does: tests/conformance/warehouse.py."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.runs import preview, run_export
from airflow_provider_tagoffline.runspec import RunSpec
from tests.conformance.changes import changes_spec
from tests.conformance.warehouse import sqlite_target
from tests.live import pg_connect
from tests.run_data import D_PREV, EXPECTED_D, OUTPUT_COLUMNS, D, LiveTarget, make_spec, normalize, target_content

pytestmark = [pytest.mark.postgres, pytest.mark.mysql]


@pytest.mark.parametrize("warehouse_conn", ["postgres"], indirect=True)
@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_postgres_warehouse_duplicates_found_alongside_the_load(warehouse_conn: str, live_target: LiveTarget) -> None:
    """On a PostgreSQL warehouse the duplicate count runs on a second connection during the load,
    which assumes none; a source that has one (user 3 twice) is loaded again, deduplicated."""
    spec = make_spec(live_target.kind, live_target.conn_id, warehouse_conn_id="tot_wh")
    live_target.execute(*create_table_sql(spec, live_target.kind))
    report = run_export(spec, D)
    assert target_content(live_target) == EXPECTED_D
    assert report.duplicates_replaced == 1 and report.rows_written == len(EXPECTED_D)
    assert not [n for n in live_target.tables() if "_dpfx_" in n]


@pytest.mark.parametrize("warehouse_conn", ["postgres"], indirect=True)
def test_postgres_warehouse_missing_partition_is_a_clear_error(warehouse_conn: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from airflow_provider_tagoffline.errors import RunFailed

    spec = make_spec("sqlite", "tot_target", warehouse_conn_id="tot_wh")
    db = sqlite_target(spec, tmp_path, monkeypatch)
    with pytest.raises(RunFailed, match=r"no rows for data date 2001-01-01 in .*partition missing"):
        run_export(spec, dt.date(2001, 1, 1))
    assert db.execute("SELECT count(*) FROM user_tags").fetchone() == (0,)
    assert [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE name LIKE '%dpfx%'")] == []


@pytest.mark.parametrize("warehouse_conn", ["postgres"], indirect=True)
def test_a_postgres_family_flavour_is_read_as_postgresql(warehouse_conn: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A Greenplum-flavoured warehouse connection takes the PostgreSQL path (COPY relay, checks
    alongside the load); the server here is PostgreSQL, the flavour is what is under test."""
    import os

    conn = json.loads(os.environ["AIRFLOW_CONN_TOT_WH"])
    monkeypatch.setenv("AIRFLOW_CONN_TOT_WH", json.dumps({**conn, "extra": {"flavor": "greenplum"}}))
    spec = make_spec("sqlite", "tot_target", warehouse_conn_id="tot_wh")
    db = sqlite_target(spec, tmp_path, monkeypatch)
    report = run_export(spec, D)
    got = [normalize(r) for r in db.execute(f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM user_tags ORDER BY user_id")]
    db.close()
    assert got == EXPECTED_D and report.duplicates_replaced == 1


@pytest.mark.parametrize("warehouse_conn", ["postgres"], indirect=True)
def test_postgres_warehouse_checks_run_at_once_each_on_its_connection(warehouse_conn: str) -> None:
    """The background checks: more sources than run at once, results in the spec's order, the
    first missing source's own clear error, and every connection they opened closed."""
    import os

    from airflow_provider_tagoffline.connections import resolve_warehouse
    from airflow_provider_tagoffline.engine.warehouse import PARALLEL_CHECKS, Warehouse
    from airflow_provider_tagoffline.errors import RunFailed
    from tests.live import pg_connect

    db = json.loads(os.environ["AIRFLOW_CONN_TOT_WH"])["schema"]
    profile, trade = make_spec("sqlite", "t", warehouse_conn_id="tot_wh").sources
    sources = [profile, trade] * PARALLEL_CHECKS  # twice as many as run at once
    wh = Warehouse(resolve_warehouse("tot_wh"))
    try:
        checks = wh.check_sources_in_background(sources, D)
        got = [(c.table, c.duplicates) for c in checks()]
        assert got == [("profile", 1), ("trade", 0)] * PARALLEL_CHECKS
        assert checks.spoil_the_load()  # profile repeats user 3
        missing = [profile, trade.model_copy(update={"table": "no_such_a"}), trade,
                   profile.model_copy(update={"table": "no_such_b"})]
        checks = wh.check_sources_in_background(missing, D)
        with pytest.raises(RunFailed, match=r"source table 'no_such_a' cannot be read from the warehouse"):
            checks()
        assert checks.spoil_the_load()
    finally:
        wh.close()
    with pg_connect() as admin:
        for _ in range(50):  # a closed connection's backend ends a moment later
            left = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [db]).fetchone()
            if left == (0,):
                break
            time.sleep(0.1)
    assert left == (0,)


@pytest.mark.parametrize("warehouse_conn", ["postgres"], indirect=True)
@pytest.mark.parametrize("column_type", ["varchar(10)", "text", "char(3)"])
def test_postgres_text_id_check_counts_what_a_group_by_counts(warehouse_conn: str, column_type: str) -> None:
    """Text IDs are counted by their bytes (COLLATE "C"): the same duplicates as the GROUP BY in the
    column's own collation finds: a repeated ID, case and Unicode normal forms apart, trailing blanks
    of a char(n) ignored as its equality ignores them."""
    import os

    from airflow_provider_tagoffline.connections import resolve_warehouse
    from airflow_provider_tagoffline.engine.warehouse import Warehouse
    from airflow_provider_tagoffline.runspec import SourceSpec
    from tests.live import pg_connect

    db = json.loads(os.environ["AIRFLOW_CONN_TOT_WH"])["schema"]
    ids = ["a", "a", "A", "\u00e9", "e\u0301", "b ", "b", "用户", "用户", None]
    with pg_connect(db) as c:
        c.execute(f"CREATE TABLE text_ids (id {column_type}, ds text)")
        c.cursor().executemany("INSERT INTO text_ids VALUES (%s, '20261123')", [(i,) for i in ids])
        grouped = c.execute("SELECT COUNT(*), COUNT(*) - COUNT(DISTINCT id) FROM text_ids WHERE id IS NOT NULL")
        expected = tuple(grouped.fetchone())
    wh = Warehouse(resolve_warehouse("tot_wh"))
    try:
        src = SourceSpec.model_validate({"table": "text_ids", "key": "id",
                                         "partition": {"column": "ds", "format": "yyyyMMdd"}})
        check = wh.check_source(src, D, "string")
    finally:
        wh.close()
    # varchar and text: 'b ' and 'b' are two IDs; char(3): one
    assert expected == (9, 3 if column_type == "char(3)" else 2)
    assert (check.rows, check.duplicates) == expected


@pytest.mark.parametrize("warehouse_conn", ["postgres"], indirect=True)
def test_postgres_copy_relay_binds_parameters_and_gives_the_connection_back(warehouse_conn: str) -> None:
    """The COPY relay reads libpq directly: its statement is bound as psycopg binds it (quotes, a
    doubled %), and after an error or a stream closed early the connection runs the next COPY."""
    from airflow_provider_tagoffline.connections import resolve_warehouse
    from airflow_provider_tagoffline.engine.extract import Query
    from airflow_provider_tagoffline.engine.targets.base import CsvFormat
    from airflow_provider_tagoffline.engine.warehouse import Warehouse

    wh = Warehouse(resolve_warehouse("tot_wh"))
    try:
        q = Query("SELECT %s::text, '50%%', n FROM generate_series(1, 2) n", ["it's"])
        assert b"".join(wh.csv_chunks(q, CsvFormat())) == b"it's,50%,1\nit's,50%,2\n"
        stream = wh.csv_chunks(Query("SELECT n, repeat('x', 100) FROM generate_series(1, 3000000) n", []),
                               CsvFormat())
        assert next(stream).startswith(b"1,xxx")
        stream.close()  # abandoned after the first chunk
        with pytest.raises(Exception, match="division by zero"):
            list(wh.csv_chunks(Query("SELECT 1 / (n - 2) FROM generate_series(1, 3) n", []), CsvFormat()))
        assert b"".join(wh.csv_chunks(Query("SELECT 7", []), CsvFormat())) == b"7\n"
    finally:
        wh.close()


def diffed_in_the_warehouse(live_target: LiveTarget, monkeypatch: pytest.MonkeyPatch) -> RunSpec:
    """A changes service whose warehouse ``tot_wh`` keeps its snapshot in the schema ``tot_scratch``, its target
    table created."""
    conn = json.loads(os.environ["AIRFLOW_CONN_TOT_WH"])
    conn["extra"] = {**(conn.get("extra") or {}), "tagoffline_scratch": "tot_scratch"}
    monkeypatch.setenv("AIRFLOW_CONN_TOT_WH", json.dumps(conn))
    spec = changes_spec(live_target, warehouse_conn_id="tot_wh")
    live_target.execute(*create_table_sql(spec, live_target.kind))
    return spec


@pytest.mark.parametrize("warehouse_conn", ["postgres"], indirect=True)
@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_postgres_warehouse_diff_starts_before_the_duplicate_count_and_redoes_it(
        warehouse_conn: str, live_target: LiveTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    """Load mode changes with a snapshot in the warehouse: the diff starts while the duplicate count runs
    beside it, guessing no source repeats an ID; user 3 is twice in profile for D, so it diffs again,
    deduplicated, before anything reaches the target."""
    spec = diffed_in_the_warehouse(live_target, monkeypatch)
    run_export(spec, D_PREV)  # the first changes run: a swap, and the snapshot the next one diffs with
    said: list[str] = []
    report = run_export(spec, D, echo=said.append)
    assert report.load_mode == "changes (diffed in the warehouse)"
    assert "a source repeats IDs: the diff again, of the deduplicated extract" in said
    assert target_content(live_target) == EXPECTED_D
    assert report.duplicates_replaced == 1 and report.rows_written == len(EXPECTED_D)


@pytest.mark.parametrize("warehouse_conn", ["postgres"], indirect=True)
@pytest.mark.parametrize("live_target", ["postgres"], indirect=True)
def test_postgres_warehouse_diff_of_a_missing_partition_fails_clearly_and_writes_nothing(
        warehouse_conn: str, live_target: LiveTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    """The diff starts before the source checks end: a data date no source has rows for diffs as if every ID
    were gone, then the check's own error ends the run, nothing sent, the change set dropped."""
    import datetime as dt

    from airflow_provider_tagoffline.errors import RunFailed

    spec = diffed_in_the_warehouse(live_target, monkeypatch)
    run_export(spec, D)
    with pytest.raises(RunFailed, match=r"no rows for data date 2027-01-01 in .*partition missing"):
        run_export(spec, dt.date(2027, 1, 1))
    assert target_content(live_target) == EXPECTED_D
    report = run_export(spec, D)  # the snapshot still trusted, nothing pending: the same date changes nothing
    assert report.load_mode == "changes (diffed in the warehouse)" and report.rows_updated == 0


@pytest.mark.parametrize("warehouse_conn", ["postgres"], indirect=True)
@pytest.mark.parametrize("live_target", ["postgres"], indirect=True)
def test_postgres_warehouse_preview_reads_the_snapshot_and_makes_nothing(
        warehouse_conn: str, live_target: LiveTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    """The preview of a changes service says whether the run would trust the snapshot in the scratch schema;
    with the schema gone it says the run would swap (its failed read of the missing state table is that answer),
    creates no schema, and the rest of the preview is as before."""
    spec = diffed_in_the_warehouse(live_target, monkeypatch)
    run_export(spec, D_PREV)
    assert preview(spec, D).load_mode.startswith("changes: ")
    warehouse_db = json.loads(os.environ["AIRFLOW_CONN_TOT_WH"])["schema"]
    with pg_connect(warehouse_db) as wh:
        wh.execute("DROP SCHEMA tot_scratch CASCADE")
    p = preview(spec, D)
    assert p.load_mode.startswith("overwrite (fallback: the warehouse holds no snapshot of this service"), p.load_mode
    assert p.changes is not None and p.rows == len(EXPECTED_D)
    with pg_connect(warehouse_db) as wh:
        assert wh.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'tot_scratch'").fetchone() == (0,)
    assert run_export(spec, D).load_mode == "overwrite (fallback: the warehouse holds no snapshot of this service)"
