"""PostgreSQL: the conformance suites of a target and of a warehouse (tests/conformance/), and what its
table comments and its one-click create table's attacks look like."""

from __future__ import annotations

from tests.conformance.changes import ChangesSuite
from tests.conformance.snapshots import SnapshotsSuite, names, old_and_new
from tests.conformance.target import TargetSuite
from tests.conformance.warehouse import WarehouseSuite


class TestPostgresTarget(TargetSuite):
    family = "postgres"
    comment_sql = "SELECT obj_description('user_tags'::regclass, 'pg_class')"
    set_comment_sql = "COMMENT ON TABLE user_tags IS E'{}'"
    comment_backslash_escapes = True
    ddl_attacks = (
        "CREATE TABLE t_new (a text DEFAULT '\\'); DROP TABLE victim; --')",
        "CREATE TABLE t_new (a int); COPY (SELECT 'import os') TO '{out}/x.py'",
        "CREATE TABLE t_new AS SELECT pg_read_file('/etc/hostname') AS a",
        "CREATE TABLE t_new (a text DEFAULT pg_read_file('/etc/hostname'))",
        "CREATE TABLE t_new (a text DEFAULT $$x$$); DROP TABLE victim",
        "CREATE TABLE t_new (a text /* ; DROP TABLE victim; */)",
    )


class TestPostgresChanges(ChangesSuite):
    family = "postgres"
    row_locks = True


class TestPostgresWarehouse(WarehouseSuite):
    family = "postgres"


class TestPostgresSnapshots(SnapshotsSuite):
    family = "postgres"

    def test_its_tables_are_logged(self, scratch: str) -> None:
        """A crash empties an UNLOGGED table while the state row still says what it holds."""
        wh, snaps = self.open()
        key, columns = names()
        old, new = old_and_new(wh)
        snaps.rebuild(old, key, columns, "a1", "sig")
        snaps.diff(new, key, columns, "b2")
        cur = wh.conn.cursor()
        for table in (snaps.sql.snapshot, snaps.sql.pending, snaps.sql.state):
            cur.execute("SELECT relpersistence FROM pg_class WHERE oid = %s::regclass", [table.replace("%%", "%")])
            assert cur.fetchone() == ("p",), table
        cur.close()
        wh.close()
