"""A PostgreSQL warehouse's own path: the duplicate count alongside the load (and the reload it may
cause), a missing partition's clear line, a flavour of the family read as PostgreSQL, and the
background checks each on its connection. What every warehouse does: tests/conformance/warehouse.py."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.runs import run_export
from tests.conformance.warehouse import sqlite_target
from tests.run_data import EXPECTED_D, OUTPUT_COLUMNS, D, LiveTarget, make_spec, normalize, target_content

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
