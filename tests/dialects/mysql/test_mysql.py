"""MariaDB/MySQL: the conformance suites of a target and of a warehouse (tests/conformance/), and its
own cases: string codes of another collation join on their text; a changes run's record (a row keyed
by the comment's generation) and a table without transactions."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_tagoffline.connections import resolve_connection, resolve_warehouse
from airflow_provider_tagoffline.dialects import make_target
from airflow_provider_tagoffline.engine.extract import LookupJoin, build_extract_query
from airflow_provider_tagoffline.engine.targets.held import TableDigest
from airflow_provider_tagoffline.engine.warehouse import Warehouse
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runs import run_export
from tests.conformance.changes import ChangesSuite, changes_spec, day_before
from tests.conformance.target import TargetSuite
from tests.conformance.warehouse import WarehouseSuite, add_test_rows, rows_of, three_sources
from tests.conformance.warehouse_diff import DIFFED, WarehouseDiffSuite
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

    # ---- the digest is (COUNT(*), CHECKSUM TABLE): followed through the changed rows alone -------------------
    @staticmethod
    def digests(t: LiveTarget) -> tuple[TableDigest | None, TableDigest]:
        """(the digest the table's record holds, the table's digest computed now)."""
        where = resolve_connection(t.conn_id)
        target = make_target(changes_spec(t).target, where.open(), where.kind)
        try:
            record = target.read_held()
            return (record.table_digest if record else None), target.table_digest(target.live, [])
        finally:
            target.close()

    def test_the_recorded_checksum_equals_the_tables_after_a_changes_run(self, live_target: LiveTarget,
                                                                        scratch: Path) -> None:
        """The record of a changes run carries CHECKSUM TABLE as its transaction left the table, computed from
        the changed rows' old and new versions alone (mod 2**32), exactly what a scan of the table gives."""
        spec = changes_spec(live_target)
        self.first_write(live_target, spec)
        swapped, now = self.digests(live_target)
        assert swapped == now and now.rows == 7  # the swap's: CHECKSUM TABLE of the stage it renamed
        for day, changed in ((D, (0, 1, 0)), (D_PREV, (0, 1, 0)), (D, (0, 1, 0))):
            report = run_export(spec, day, allow_older=True)
            assert report.load_mode == DIFFED, report.load_mode
            assert (report.rows_inserted, report.rows_updated, report.rows_deleted) == changed
            recorded, now = self.digests(live_target)
            assert recorded == now and 0 <= now.total < 2**32, day
        assert now != swapped  # D, not D_PREV
        # inserted and deleted rows too: a row the warehouse no longer has, a row it has that the table lost
        live_target.execute("DELETE FROM user_tags WHERE user_id = 7")
        live_target.execute("INSERT INTO user_tags (user_id, nick) VALUES (99, 'not in the warehouse')")
        assert run_export(spec, D).load_mode.startswith("overwrite (fallback: the table changed outside")
        recorded, now = self.digests(live_target)
        assert recorded == now and content(live_target) == EXPECTED_D

    def test_a_rolled_back_changes_run_leaves_the_table_and_its_checksum(self, live_target: LiveTarget,
                                                                        scratch: Path) -> None:
        """The changed rows' digest copies them into a TEMPORARY table inside the changes' transaction: its DDL
        commits nothing, so a transaction rolled back (here by a NULL gate counted on the table as it would
        be) leaves the rows, the record and the checksum as they were, and the next run still trusts them."""
        spec = changes_spec(live_target)
        old = self.first_write(live_target, spec)
        before = self.digests(live_target)
        gated = changes_spec(live_target, gates={"max_null_ratio": {"gmv": 0.0}})
        with pytest.raises(RunFailed, match="quality gate failed, the changes are rolled back"):
            run_export(gated, D)
        assert content(live_target) == old and self.digests(live_target) == before
        assert leftovers(live_target) == []
        report = run_export(spec, D)
        assert report.load_mode == DIFFED and content(live_target) == EXPECTED_D

    def test_a_partitioned_table_is_followed_through_an_unpartitioned_copy(self, live_target: LiveTarget,
                                                                           scratch: Path) -> None:
        """A TEMPORARY table cannot be created LIKE a partitioned one: the copy of the changed rows is made from
        the table's definition without its partitioning, and its checksum is the same."""
        spec = changes_spec(live_target)
        self.first_write(live_target, spec)
        live_target.execute("ALTER TABLE user_tags PARTITION BY HASH (user_id) PARTITIONS 3")
        assert self.digests(live_target)[0] == self.digests(live_target)[1]  # the checksum: as unpartitioned
        report = run_export(spec, D)
        assert report.load_mode == DIFFED, report.error
        recorded, now = self.digests(live_target)
        assert recorded == now and content(live_target) == EXPECTED_D

    def test_a_write_to_a_column_outside_the_service_is_a_change_outside_it(self, live_target: LiveTarget,
                                                                           scratch: Path) -> None:
        """CHECKSUM TABLE covers the whole row: a column the service does not map counts (a swap resets it)."""
        spec = changes_spec(live_target)
        self.first_write(live_target, spec)
        live_target.execute("ALTER TABLE user_tags ADD COLUMN note VARCHAR(20) NULL")
        run_export(spec, D)  # the rows' checksums changed with their layout: a swap, whatever it says
        assert run_export(spec, D_PREV, allow_older=True).load_mode == DIFFED  # trusted, the column all NULL
        live_target.execute("UPDATE user_tags SET note = 'by hand' WHERE user_id = 2")
        report = run_export(spec, D)
        assert report.load_mode.startswith("overwrite (fallback: the table changed outside the service"), \
            report.load_mode
        assert live_target.rows("SELECT COUNT(note) FROM user_tags") == [(0,)]


def test_mysql_digest_sql_is_a_checksum_of_a_copy_driven_by_the_delta() -> None:
    """(no server) The changed rows' copy: LIKE the live table, the delta's distinct keys first, each found
    through the live key; the sum wraps as CHECKSUM TABLE's does; no per-row hash SQL pretends to be the digest."""
    spec = make_spec("mysql", "t", schema="crm").target
    target = make_target(spec, None, "mysql")
    assert target.digest_statements("`crm`.`user_tags`") == ("SELECT COUNT(*) FROM `crm`.`user_tags`",
                                                             "CHECKSUM TABLE `crm`.`user_tags`")
    assert target.changed_rows_copy_sql("tagoffline_delta", "user id", ["user id", "n`ick"], "uud") == [
        "DROP TEMPORARY TABLE IF EXISTS `crm`.`tagoffline_digest_rows`",
        "CREATE TEMPORARY TABLE `crm`.`tagoffline_digest_rows` LIKE `crm`.`user_tags`",
        "INSERT INTO `crm`.`tagoffline_digest_rows` (`user id`, `n``ick`) SELECT l.`user id`, l.`n``ick` FROM "
        "(SELECT DISTINCT `tagoffline_key` AS k FROM `crm`.`tagoffline_delta` WHERE `tagoffline_op` IN ('d', 'u')) d "
        "STRAIGHT_JOIN `crm`.`user_tags` l ON l.`user id` = d.k"]
    with pytest.raises(ValueError, match="subset of 'iudo'"):
        target.changed_rows_copy_sql("tagoffline_delta", "k", ["k"], "x")
    # where the service writes every stored column: the copy of the change set's own rows, none read in the table
    assert target.change_set_copy_sql("tagoffline_delta", "user id", ["n`ick"], "o")[1:] == [
        "CREATE TEMPORARY TABLE `crm`.`tagoffline_digest_rows` LIKE `crm`.`user_tags`",
        "INSERT INTO `crm`.`tagoffline_digest_rows` (`user id`, `n``ick`) SELECT `tagoffline_key`, `n``ick` FROM "
        "`crm`.`tagoffline_delta` WHERE `tagoffline_op` IN ('o')"]
    assert target.digest_after(TableDigest(10, 5), TableDigest(2, 2**32 - 1), TableDigest(3, 7)) == TableDigest(11, 13)
    assert target.digest_after(TableDigest(1, 2**32 - 1), TableDigest(0, 0), TableDigest(1, 3)) == TableDigest(2, 2)
    with pytest.raises(NotImplementedError, match="CHECKSUM TABLE"):
        target.row_hash_sql("l", ["k"])


def test_mysql_copy_of_a_partitioned_table_drops_its_partitioning() -> None:
    """(no server) MariaDB's bare clause and MySQL's versioned comment both go; the rest is kept as it is."""
    target = make_target(make_spec("mysql", "t").target, None, "mysql")
    body = ("CREATE TABLE `user_tags` (\n  `user_id` bigint(20) NOT NULL,\n  `nick` varchar(9) DEFAULT 'PARTITION BY',"
            "\n  PRIMARY KEY (`user_id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='x'")
    want = "CREATE TEMPORARY TABLE `tagoffline_digest_rows` (" + body.split("(", 1)[1]
    assert target.unpartitioned_copy_sql(body + "\n PARTITION BY HASH (`user_id`)\nPARTITIONS 3") == want
    assert target.unpartitioned_copy_sql(body + "\n/*!50100 PARTITION BY HASH (`user_id`)\nPARTITIONS 3 */") == want
    assert target.unpartitioned_copy_sql(body) == want
