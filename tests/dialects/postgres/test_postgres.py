"""PostgreSQL: the conformance suites of a target and of a warehouse (tests/conformance/), and what its
table comments and its one-click create table's attacks look like."""

from __future__ import annotations

from tests.conformance.changes import ChangesSuite
from tests.conformance.target import TargetSuite
from tests.conformance.warehouse import WarehouseSuite
from tests.conformance.warehouse_diff import WarehouseDiffSuite


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


class TestPostgresWarehouseDiff(WarehouseDiffSuite):
    family = "postgres"
