"""SQLite: the conformance suites of a target and of a warehouse (read through the generic DB-API path
any engine without a path of its own takes; tests/conformance/), and its own case: the data date of a
table written before records existed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.errors import OlderDataDate
from airflow_provider_tagoffline.runs import preview, run_export
from airflow_provider_tagoffline.service.held import held_data_date
from tests.conformance.changes import ChangesSuite
from tests.conformance.target import TargetSuite
from tests.conformance.warehouse import WarehouseSuite
from tests.conformance.warehouse_diff import WarehouseDiffSuite
from tests.run_data import D_PREV, D, make_spec

pytestmark = pytest.mark.usefixtures("warehouse_env")


class TestSqliteTarget(TargetSuite):
    family = "sqlite"
    true_literal = "1"
    ddl_attacks = (
        "CREATE TABLE t_new (a text DEFAULT 'x'); DROP TABLE victim; --')",
        "ATTACH DATABASE '{out}/x.py' AS x",
    )


class TestSqliteChanges(ChangesSuite):
    family = "sqlite"


class TestSqliteWarehouse(WarehouseSuite):
    family = "sqlite"
    row_order = False
    describes_types = False


def test_a_table_without_a_record_asks_elsewhere_then_records_its_own(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Written before records existed: what Airflow's asset event says is compared (refused when later);
    with nothing known the run goes on and records its date."""
    path = tmp_path / "target.db"
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    spec = make_spec("sqlite", "tot_target")
    with sqlite3.connect(path) as db:
        for sql in create_table_sql(spec, "sqlite"):
            db.execute(sql)
    db.close()
    said: list[str] = []
    with pytest.raises(OlderDataDate, match=f"holds data date {D}; data date {D_PREV} is older"):
        run_export(spec, D_PREV, held_elsewhere=lambda: D, echo=said.append)
    assert said[-1] == (f"target tot_target:user_tags records no data date yet (written before tagoffline recorded "
                        f"one, or never by it): Airflow's last event of its asset says {D}; this run records {D_PREV}")
    report = run_export(spec, D_PREV, held_elsewhere=lambda: None, echo=said.append)
    assert "not compared with anything; this run records 2026-11-22" in " ".join(said)
    assert report.held_before is None

    def never() -> None:
        raise AssertionError("the table's own record is enough")

    run_export(spec, D, held_elsewhere=never)  # recorded now: Airflow is not asked
    with pytest.raises(OlderDataDate) as refused:
        run_export(spec, D_PREV, held_elsewhere=never)
    # the plugin's Run and backfill plan, and the preview, read the same record
    assert held_data_date(spec) == D
    planned = preview(spec, D_PREV, held_elsewhere=never)
    assert (planned.holds, planned.would_fail) == (D.isoformat(), [str(refused.value)])
    assert preview(spec, D, held_elsewhere=never).would_fail == []
    # the record's table is SQLite's own: not offered as a table to export into
    from airflow_provider_tagoffline.connections import get_connection
    from airflow_provider_tagoffline.dialects import family_of_kind

    listed = family_of_kind("sqlite").introspection(get_connection("tot_target"), "sqlite").tables(None)
    assert listed == ["user_tags"]


class TestSqliteWarehouseDiff(WarehouseDiffSuite):
    family = "sqlite"


def test_a_held_table_made_before_the_digest_gains_its_columns_with_the_next_record(tmp_path: Path) -> None:
    import datetime as dt

    from airflow_provider_tagoffline.dialects import make_target
    from airflow_provider_tagoffline.engine.targets.held import HeldRecord, TableDigest

    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.execute('CREATE TABLE "_tagoffline_held" ("table_name" TEXT PRIMARY KEY, "data_date" TEXT, "service" TEXT, '
                 '"run_id" TEXT, "by" TEXT, "at" TEXT)')  # as a file of an earlier version holds it
    conn.execute("INSERT INTO _tagoffline_held VALUES ('user_tags', '2026-11-22', 's', 'r', 'b', '')")
    t = make_target(make_spec("sqlite", "tot_target").target, conn, "sqlite")
    assert t.read_held() == HeldRecord(D_PREV, "s", "r", "b")
    record = HeldRecord.of_run(D, "s", "r2", "b", now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC), write_id="ab12",
                               digest=TableDigest(7, -3))
    with t.transaction():
        t.run_statements(t.changes_record_sql(record))
    assert t.read_held() == record
    with t.transaction():  # and again, now that the columns exist
        t.run_statements(t.changes_record_sql(record))
    assert t.read_held() == record
    conn.close()


def test_the_row_hash_tells_null_empty_and_zero_apart_and_fits_a_sum_of_2_31_rows() -> None:
    from airflow_provider_tagoffline.dialects.sqlite.target import row_hash

    values = [None, "", 0, 0.5, "0", b"", b"0", "a", ("a", ""), ("", "a"), ("a,", "b"), ("a", ",b")]
    hashes = {row_hash(*(v if isinstance(v, tuple) else (v,))) for v in values}
    assert len(hashes) == len(values)
    assert row_hash(1) == row_hash(1.0) and row_hash(-0.0) == row_hash(0)  # SQLite compares them equal
    assert all(0 <= h < 2 ** 32 for h in hashes)  # 2**31 rows of them sum below 2**63
