"""MariaDB/MySQL: the conformance suites of a target and of a warehouse (tests/conformance/), and its
own cases: string codes of another collation join on their text; a changes run's record (a row keyed
by the comment's generation) and a table without transactions."""

from __future__ import annotations

import pytest

from airflow_provider_tagoffline.connections import resolve_connection, resolve_warehouse
from airflow_provider_tagoffline.engine.extract import LookupJoin, build_extract_query
from airflow_provider_tagoffline.engine.warehouse import Warehouse
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runs import run_export
from tests.conformance.changes import ChangesSuite, changes_spec, day_before
from tests.conformance.target import TargetSuite
from tests.conformance.warehouse import WarehouseSuite, add_test_rows, rows_of, three_sources
from tests.conformance.warehouse_diff import WarehouseDiffSuite
from tests.engine.fault_kit import leftovers
from tests.run_data import D_PREV, EXPECTED_D, D, LiveTarget, make_spec
from tests.run_data import target_content as content


class TestMysqlTarget(TargetSuite):
    family = "mysql"
    comment_sql = ("SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() "
                   "AND table_name = 'user_tags'")
    set_comment_sql = "ALTER TABLE user_tags COMMENT = '{}'"
    comment_backslash_escapes = True
    rename_swap = True
    ddl_attacks = (
        "CREATE TABLE t_new (a int COMMENT 'x\\\\'); DROP TABLE victim; -- ')",
        "CREATE TABLE t_new (a int) /*!50000 ; DROP TABLE victim */",
        "CREATE TABLE t_new (a text DEFAULT (LOAD_FILE('/etc/hostname')))",
        "CREATE TABLE t_new (a int) ENGINE=CONNECT table_type=CSV file_name='{out}/x.py'",
        "SELECT 'import os' INTO OUTFILE '{out}/x.py'",
    )


class TestMysqlChanges(ChangesSuite):
    family = "mysql"
    row_locks = True

    def test_mysql_record_of_changes_never_outlives_a_swap(self, live_target: LiveTarget,
                                                               every_change_written: None) -> None:
        """MySQL / MariaDB: a changes run records its data date in a row of tagoffline_held keyed by the table's
        comment record (a comment is DDL); the next swap writes a new comment, and the row no longer applies."""
        spec = changes_spec(live_target)
        day_before(live_target, spec)
        assert run_export(spec, D).load_mode == "changes (target-side diff)"
        ((table, record),) = live_target.rows("SELECT table_name, record FROM tagoffline_held")
        assert table == "user_tags" and '"data_date": "2026-11-23"' in record
        overwrite = make_spec(live_target.kind, live_target.conn_id)
        swapped = run_export(overwrite, D_PREV, allow_older=True)
        assert swapped.held_before == D.isoformat() and swapped.load_mode == "overwrite"
        again = run_export(spec, D)
        assert again.held_before == D_PREV.isoformat()  # the comment's record: the old row is of another generation
        assert again.load_mode == "changes (target-side diff)" and content(live_target) == EXPECTED_D
        assert live_target.rows("SELECT COUNT(*) FROM tagoffline_held") == [(1,)]  # older generations deleted

    def test_mysql_record_keeps_the_write_and_digest_in_the_comment_and_in_tagoffline_held(
            self, live_target: LiveTarget) -> None:
        """A changes service's write id and digest survive both places MySQL keeps a record: the swap's comment
        (with its generation) and the row of tagoffline_held the changes' transaction writes."""
        import datetime as dt

        from airflow_provider_tagoffline.dialects import make_target
        from airflow_provider_tagoffline.engine.targets.held import HeldRecord, TableDigest

        spec = changes_spec(live_target)
        day_before(live_target, spec)
        where = resolve_connection(live_target.conn_id)
        target = make_target(spec.target, where.open(), where.kind)
        try:
            swapped = HeldRecord.of_run(D_PREV, "s", "r1", "b", now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
                                        write_id="a1" * 16, digest=TableDigest(7, -(2**70)))
            target.run_statements([target.table_comment_sql(target.live, target.record_comment(None, swapped))])
            assert target.read_held() == swapped  # the comment's record: no row of its generation yet
            changed = HeldRecord.of_run(D, "s", "r2", "b", now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC),
                                        write_id="b2" * 16, digest=TableDigest(8, 2**70))
            target.prepare_changes()
            with target.dml_transaction():
                target.run_statements(target.changes_record_sql(changed))
            assert target.read_held() == changed
        finally:
            target.close()

    def test_mysql_table_without_transactions_is_refused(self, live_target: LiveTarget) -> None:
        spec = changes_spec(live_target)
        day_before(live_target, spec)
        live_target.execute("ALTER TABLE user_tags ENGINE = MyISAM")
        with pytest.raises(RunFailed, match=r"target.load is changes, but table user_tags is on engine MyISAM, which "
                                            r"has no transactions: the changes could not be written all or nothing; "
                                            r"use overwrite"):
            run_export(spec, D)
        assert leftovers(live_target) == []


class TestMysqlWarehouse(WarehouseSuite):
    family = "mysql"
    row_order = False


@pytest.mark.parametrize("warehouse_conn", ["mysql"], indirect=True)
def test_mysql_string_codes_of_another_collation_join_on_their_text(warehouse_conn: str) -> None:
    # Compared as they are, two columns of different collations fail ("Illegal mix of collations").
    add_test_rows(warehouse_conn)
    where = resolve_connection("tot_wh")
    conn = where.open()
    try:
        cur = conn.cursor()
        cur.execute("ALTER TABLE dim_channel MODIFY code varchar(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        cur.execute("ALTER TABLE visits MODIFY channel varchar(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cur.close()
    finally:
        conn.close()
    spec = three_sources()
    wh = Warehouse(resolve_warehouse("tot_wh"))
    try:
        native = wh.native_lookups(spec)
        assert native == frozenset()
        rows = rows_of(wh, build_extract_query(spec, wh.dialect, D, frozenset(range(3)), native_lookups=native))
        with pytest.raises(Exception, match="Illegal mix of collations"):  # what a native join would do
            rows_of(wh, build_extract_query(spec, wh.dialect, D, frozenset(range(3)),
                                          native_lookups=frozenset({LookupJoin("ch", 2, "channel")})))
    finally:
        wh.close()
    assert {r[0]: r[-1] for r in rows}[8] == "App"


class TestMysqlWarehouseDiff(WarehouseDiffSuite):
    family = "mysql"
