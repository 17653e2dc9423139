"""DuckDB: the conformance suites of a target and of a warehouse (tests/conformance/), and its own cases:
the passes of a sliced extract (its memory strategy) and a DDL connection that touches no file. Its
warehouse under a memory limit: test_duckdb_warehouse_memory.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_provider_tagoffline.connections import resolve_connection, resolve_warehouse
from airflow_provider_tagoffline.dialects import make_target
from airflow_provider_tagoffline.engine.extract import Slice, build_extract_query
from airflow_provider_tagoffline.engine.warehouse import Warehouse
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runs import preview
from tests.conformance.changes import ChangesSuite, changes_spec
from tests.conformance.snapshots import SnapshotsSuite, names, old_and_new
from tests.conformance.target import TargetSuite
from tests.conformance.warehouse import WarehouseSuite, add_test_rows, rows_of, three_sources
from tests.conformance.warehouse_diff import WarehouseDiffSuite
from tests.run_data import D, LiveTarget, make_spec


class TestDuckdbTarget(TargetSuite):
    family = "duckdb"
    comment_sql = "SELECT comment FROM duckdb_tables() WHERE table_name = 'user_tags'"
    set_comment_sql = "COMMENT ON TABLE user_tags IS '{}'"
    made_table_sql = "CREATE TABLE t_made (user_id BIGINT NOT NULL, nick VARCHAR, PRIMARY KEY (user_id))"
    ddl_attacks = (
        "CREATE TABLE t_new (a VARCHAR DEFAULT '\\'); DROP TABLE victim; --')",
        "COPY (SELECT 'import os') TO '{out}/x.py'",
        "CREATE TABLE t_new (a int); COPY (SELECT 'import os') TO '{out}/x.py'",
        "CREATE TABLE t_new AS SELECT * FROM read_text('/proc/self/environ')",
        "CREATE TABLE t_new (a VARCHAR DEFAULT (getenv('HOME')))",
        "ATTACH '{out}/x.db' AS x",
    )


class TestDuckdbChanges(ChangesSuite):
    family = "duckdb"
    concurrent_readers = False


class TestDuckdbWarehouse(WarehouseSuite):
    family = "duckdb"


@pytest.mark.parametrize("warehouse_conn", ["duckdb"], indirect=True)
def test_the_passes_of_a_sliced_extract_together_give_its_rows_once(warehouse_conn: str) -> None:
    # Every plan, every dedupe, 1 to 4 passes: each ID lands in exactly one pass, with all its row.
    add_test_rows(warehouse_conn)
    wh = Warehouse(resolve_warehouse("tot_wh"))
    try:
        for spec in (three_sources(), make_spec("sqlite", "t", warehouse_conn_id="tot_wh")):
            native = wh.native_lookups(spec)
            n = len(spec.sources)
            for dedupe in [frozenset(), frozenset({n - 1}), frozenset(range(n))]:
                for plan in ("full_join", "anti_join"):
                    whole = rows_of(wh, build_extract_query(spec, wh.dialect, D, dedupe, native_lookups=native,
                                                          plan=plan))
                    for count in (2, 3, 4):
                        passes = [rows_of(wh, build_extract_query(spec, wh.dialect, D, dedupe, native_lookups=native,
                                                                plan=plan, part=Slice(count, i)))
                                  for i in range(count)]
                        assert sorted((r for p in passes for r in p), key=repr) == whole, (plan, n, count)
                        assert sum(1 for p in passes if p) > 1  # the IDs really were split
    finally:
        wh.close()




def test_duckdb_ddl_connection_reads_and_writes_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    path = tmp_path / "target.duckdb"
    duckdb.connect(str(path)).close()
    monkeypatch.setenv("AIRFLOW_CONN_TOT_DDL", json.dumps({"conn_type": "duckdb", "host": str(path)}))
    where = resolve_connection("tot_ddl")
    conn, kind = where.open(), where.kind
    target = make_target(make_spec("duckdb", "tot_ddl").target, conn, kind)
    try:
        target.prepare_for_ddl()
        with pytest.raises(duckdb.PermissionException):
            target.execute_one(f"COPY (SELECT 42) TO '{tmp_path}/x.csv'")
        with pytest.raises(duckdb.PermissionException):
            target.execute_one("CREATE TABLE leak AS SELECT * FROM read_text('/etc/hostname')")
        with pytest.raises(RunFailed, match="refusing to run 2 statements"):
            target.execute_one("SELECT 1; SELECT 2")
    finally:
        target.close()
    assert not (tmp_path / "x.csv").exists()


class TestDuckdbWarehouseDiff(WarehouseDiffSuite):
    family = "duckdb"
    concurrent_readers = False

    def test_a_preview_does_not_wait_for_a_process_holding_the_scratch_file(self, live_target: LiveTarget,
                                                                          scratch: Path) -> None:
        """A run holds the scratch file from its change set's stream to its promotion (runs wait for it up to
        10 minutes); a preview reads the snapshot's state only if it can right now, else goes on without."""
        spec = changes_spec(live_target)
        self.first_write(live_target, spec)
        holder = subprocess.Popen([sys.executable, "-c", HOLD_FILE, str(scratch)], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            started = time.monotonic()
            p = preview(spec, D)
            assert time.monotonic() - started < 30
            assert p.load_mode == ("changes: 0 inserted, 1 updated, 0 deleted, 6 unchanged (not checked against the "
                                   "warehouse's snapshot: a run holds its scratch place now)")
        finally:
            holder.kill()
            holder.wait()


#: a process holding a DuckDB file open for writing (its lock) until killed
HOLD_FILE = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(120)"


class TestDuckdbSnapshots(SnapshotsSuite):
    family = "duckdb"

    def test_the_scratch_file_is_held_from_the_stream_to_the_promotion(self, scratch: str) -> None:
        """One process writes a DuckDB file at a time: the run holds it no longer than it must."""
        wh, snaps = self.open()
        key, columns = names()
        old, new = old_and_new(wh)

        def attached() -> bool:
            return bool(wh.conn.execute("SELECT COUNT(*) FROM duckdb_databases() "
                                        "WHERE database_name = 'tagoffline_scratch'").fetchone()[0])

        snaps.rebuild(old, key, columns, "a1", "sig")
        snaps.diff(new, key, columns, "b2")
        assert not attached()
        snaps.pending_query()
        snaps.state()
        assert attached()
        snaps.promote("b2")
        assert not attached()
        wh.close()
