"""The SQL of a service's snapshot in the warehouse's scratch place (no server): table names per service
(apart whatever the name's case or characters, within the identifier limit), the scratch place each
family's extra may name, and the statements' shape (the diff's FULL JOIN, NULL-safe compare, quoting)."""

from __future__ import annotations

import pytest

from airflow_provider_tagoffline.dialects import get_dialect
from airflow_provider_tagoffline.dialects.duckdb.snapshots import DuckDBSnapshotSql
from airflow_provider_tagoffline.dialects.postgres.snapshots import PostgresSnapshotSql
from airflow_provider_tagoffline.engine.extract import Query
from airflow_provider_tagoffline.engine.snapshot_sql import SnapshotSql, table_stem

PG = get_dialect("postgres")
DUCK = get_dialect("duckdb")
HOSTILE = 'a "quoted" \'name\'; DROP TABLE x; -- 用户标签 🐍 ' + "long " * 30
EXTRACT = Query("SELECT s0.id AS tagoffline_key, s0.a, s0.b FROM t s0 WHERE s0.ds = %s", ["20261123"],
                ["id", "a", "b"])


def bare(qualified: str) -> str:
    return qualified.rsplit(".", 1)[1].strip('"').replace('""', '"')


@pytest.mark.parametrize("sql_class, dialect", [(PostgresSnapshotSql, PG), (DuckDBSnapshotSql, DUCK)])
def test_each_service_has_tables_of_its_own_within_the_limit(sql_class: type[SnapshotSql], dialect) -> None:
    names = set()
    for service in ("user_tags", "USER_TAGS", "user tags", "user_tags_", HOSTILE, HOSTILE + "x", "ü" * 100, "'"):
        sql = sql_class(dialect, "place", service)
        for table in (sql.snapshot, sql.pending, sql.next):
            name = bare(table)
            assert len(name.encode()) <= 63 and name.isascii() and '"' not in name and "'" not in name
            names.add(name.lower())  # DuckDB compares names without case
    assert len(names) == 8 * 3


def test_a_name_keeps_what_is_readable() -> None:
    assert table_stem("CRM user_tags", 40).startswith("crm_user_tags_")
    assert len(table_stem("x" * 200, 40)) == 40
    assert table_stem("'", 40).isalnum()


def test_the_places_each_extra_may_name() -> None:
    assert PostgresSnapshotSql.place_problem(PG, "tagoffline") is None
    assert PostgresSnapshotSql.place_problem(PG, 'odd "name" Ö') is None  # quoted, so any name
    assert "schema name" in (PostgresSnapshotSql.place_problem(PG, "s" * 64) or "")
    assert PostgresSnapshotSql.place_problem(PG, "") == "is not a schema name"
    assert PostgresSnapshotSql.place_problem(PG, ["x"]) == "is not a schema name"
    assert DuckDBSnapshotSql.place_problem(DUCK, "/data/scratch.duckdb") is None
    for bad in (":memory:", "md:share", "", 7):
        assert DuckDBSnapshotSql.place_problem(DUCK, bad) == "is not the path of a DuckDB file"


def test_the_place_is_quoted() -> None:
    pg = PostgresSnapshotSql(PG, 'odd "name"', "svc")
    assert pg.prepare_place_sql() == ['CREATE SCHEMA IF NOT EXISTS "odd ""name"""']
    assert pg.state == '"odd ""name"""."tagoffline_snapshots"'
    duck = DuckDBSnapshotSql(DUCK, "/tmp/it's.duckdb", "svc")
    assert duck.enter_place_sql() == [
        "ATTACH IF NOT EXISTS '/tmp/it''s.duckdb' AS \"tagoffline_scratch\" (READ_WRITE)"]
    assert duck.look_into_place_sql() == [  # a preview's: never creates the file, never takes its write lock
        "ATTACH IF NOT EXISTS '/tmp/it''s.duckdb' AS \"tagoffline_scratch\" (READ_ONLY)"]
    assert pg.look_into_place_sql() == []  # a schema is read as it is; a missing one fails the read
    assert duck.leave_place_sql() == ['DETACH DATABASE IF EXISTS "tagoffline_scratch"']
    assert duck.state == '"tagoffline_scratch".main."tagoffline_snapshots"'


def test_the_diff_is_a_full_join_comparing_every_column_null_safe() -> None:
    sql = PostgresSnapshotSql(PG, "scratch", HOSTILE)
    drop, create = sql.diff_sql(EXTRACT, "id", ["a", "b"])
    assert drop.sql == f"DROP TABLE IF EXISTS {sql.pending}" and drop.params == []
    assert create.params == ["20261123"]
    assert f"FROM ({EXTRACT.sql}) e(\"id\", \"a\", \"b\") FULL JOIN {sql.snapshot} s" in create.sql
    assert ('WHERE s."tagoffline_key" IS NULL OR e."id" IS NULL OR (e."a" IS DISTINCT FROM s."a") '
            'OR (e."b" IS DISTINCT FROM s."b")') in create.sql
    # the snapshot's values beside the new ones, by position: what the target holds before the changes
    assert ', s."a" AS "tagoffline_old_0", s."b" AS "tagoffline_old_1" FROM (' in create.sql
    assert sql.work_settings_sql() == ["SET LOCAL work_mem = '1GB'"]
    assert DuckDBSnapshotSql(DUCK, "f", "s").work_settings_sql() == []


def test_the_pending_set_is_read_with_or_without_the_old_versions() -> None:
    sql = PostgresSnapshotSql(PG, "scratch", "svc")
    rows = f'SELECT "tagoffline_op", "tagoffline_key", "a", "b" FROM {sql.pending}'
    ordered = ' ORDER BY "tagoffline_key"'  # the target reaches its rows in key order
    assert sql.pending_sql(["a", "b"]) == rows + ordered
    assert sql.pending_sql(["a", "b"], old_versions=True) == (
        f"{rows} UNION ALL SELECT 'o', \"tagoffline_key\", \"tagoffline_old_0\", \"tagoffline_old_1\" FROM "
        f"{sql.pending} WHERE \"tagoffline_op\" <> 'i'{ordered}")
    assert sql.pending_sql([], old_versions=True).endswith(
        f"UNION ALL SELECT 'o', \"tagoffline_key\" FROM {sql.pending} WHERE \"tagoffline_op\" <> 'i'{ordered}")


def test_a_postgresql_snapshot_is_indexed_by_key_and_promoted_through_it() -> None:
    sql = PostgresSnapshotSql(PG, "scratch", "svc")
    assert sql.key_index_sql(sql.next) == [f'CREATE INDEX ON {sql.next} ("tagoffline_key")']
    assert sql.promote_settings_sql() == ["SET LOCAL work_mem = '1GB'", "SET LOCAL random_page_cost = 1.1"]
    duck = DuckDBSnapshotSql(DUCK, "f", "s")
    assert duck.key_index_sql("t") == [] and duck.promote_settings_sql() == []


def test_promote_applies_the_pending_set_by_key() -> None:
    sql = PostgresSnapshotSql(PG, "scratch", "svc")
    delete, insert, drop = sql.promote_sql(["a"])
    assert delete == (f'DELETE FROM {sql.snapshot} WHERE "tagoffline_key" IN (SELECT "tagoffline_key" FROM '
                      f"{sql.pending} WHERE \"tagoffline_op\" IN ('u', 'd'))")
    assert insert == (f'INSERT INTO {sql.snapshot} ("tagoffline_key", "a") SELECT "tagoffline_key", "a" FROM '
                      f"{sql.pending} WHERE \"tagoffline_op\" IN ('i', 'u')")
    assert drop == f"DROP TABLE {sql.pending}"


def test_the_rebuild_swaps_a_new_table_in() -> None:
    sql = PostgresSnapshotSql(PG, "scratch", "svc")
    assert sql.swap_in_sql()[-1] == f"ALTER TABLE {sql.next} RENAME TO {sql.snapshot_name}"
    assert sql.snapshot.endswith("." + sql.snapshot_name)


def test_names_are_written_for_a_parameter_list() -> None:
    """Every statement runs with a parameter list: a % of a name doubles where parameters are %s."""
    sql = PostgresSnapshotSql(PG, "100% scratch", "svc")
    assert sql.prepare_place_sql() == ['CREATE SCHEMA IF NOT EXISTS "100%% scratch"']
    assert sql.read_state_sql().sql.endswith('FROM "100%% scratch"."tagoffline_snapshots" WHERE service = %s')
    assert DuckDBSnapshotSql(DUCK, "/tmp/100%.duckdb", "svc").enter_place_sql()[0].startswith(
        "ATTACH IF NOT EXISTS '/tmp/100%.duckdb'")


def test_a_rebuilt_postgresql_snapshot_is_analyzed() -> None:
    sql = PostgresSnapshotSql(PG, "scratch", "svc")
    assert sql.analyze_sql(sql.next) == [f"ANALYZE {sql.next}"]
    assert DuckDBSnapshotSql(DUCK, "f", "svc").analyze_sql("t") == []
