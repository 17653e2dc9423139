"""Pure SQL generation, checked without a server: extract, DDL, swap statements, type checks."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.dialects import get_dialect, make_target
from airflow_provider_tagoffline.engine.extract import (
    LookupJoin,
    build_extract_query,
    format_date,
    lookup_joins,
    plan_for,
    source_check_sql,
    type_probe_sql,
)
from airflow_provider_tagoffline.engine.types import classify, incompatibility
from airflow_provider_tagoffline.runspec import RunSpec, TargetSpec
from tests.run_data import make_spec

D = dt.date(2026, 11, 23)


@pytest.mark.parametrize(("fmt", "expected"), [("yyyyMMdd", "20261123"), ("yyyy-MM-dd", "2026-11-23"),
                                               ("yyyy/MM/dd", "2026/11/23"), ("yyyy.MM.dd", "2026.11.23")])
def test_format_date(fmt: str, expected: str) -> None:
    assert format_date(D, fmt) == expected


def test_extract_full_joins_the_filtered_sources_where_the_engine_can() -> None:
    q = build_extract_query(make_spec("sqlite", "t"), get_dialect("duckdb"), D)
    # Each source filtered on its own partition before the join: a FULL JOIN keeps the unmatched
    # rows of both sides, so the other days' rows must be gone before it.
    assert q.sql.startswith('SELECT COALESCE(s0."user_id", s1."user_id") AS tagoffline_key, s0."gender", ')
    assert (' FROM (SELECT * FROM "profile" s0 WHERE s0."user_id" IS NOT NULL AND s0."ds" = ?) s0 FULL JOIN '
            '(SELECT * FROM "trade" s1 WHERE s1."user_id" IS NOT NULL AND s1."dt" = ?) s1 ON s1."user_id" = '
            's0."user_id" LEFT JOIN (SELECT') in q.sql
    assert "UNION" not in q.sql and "WITH" not in q.sql  # no key set aggregated before the joins
    # inline lookup as CASE with bound values; table lookup reduced to one name per code, on the
    # columns' text unless the warehouse said both have one type
    assert 'CASE CAST(s0."gender" AS VARCHAR) WHEN ? THEN ? WHEN ? THEN ? WHEN ? THEN ? END' in q.sql
    assert q.sql.endswith('LEFT JOIN (SELECT CAST("level_code" AS VARCHAR) AS tagoffline_code, MAX("level_name") AS '
                          'tagoffline_name FROM "dim_level" GROUP BY "level_code") l0 ON l0.tagoffline_code = '
                          'CAST(s0."level" AS VARCHAR)')
    assert q.params == ["M", "Male", "F", "Female", "U", "Unknown", "20261123", "2026-11-23"]
    assert q.columns[0] == "user_id" and q.columns[1:3] == ["gender", "gender_name"]
    for kind in ("postgres", "greenplum", "oracle"):
        assert " FULL JOIN " in build_extract_query(make_spec("sqlite", "t"), get_dialect(kind), D).sql, kind


def test_extract_without_full_join_left_joins_and_adds_the_anti_joined_ids() -> None:
    q = build_extract_query(make_spec("sqlite", "t"), get_dialect("mysql"), D)
    first, second = q.sql.split(" UNION ALL ")
    assert first.startswith("SELECT s0.`user_id` AS tagoffline_key, s0.`gender`, CASE CAST(s0.`gender` AS CHAR)")
    assert (" FROM `profile` s0 LEFT JOIN `trade` s1 ON s1.`user_id` = s0.`user_id` AND s1.`dt` = %s "
            "LEFT JOIN (SELECT CAST(`level_code` AS CHAR)") in first
    assert first.endswith(" WHERE s0.`user_id` IS NOT NULL AND s0.`ds` = %s")
    # the IDs only the second source holds: NULL for every output of the first
    assert second == ("SELECT s1.`user_id` AS tagoffline_key, NULL, NULL, NULL, NULL, NULL, s1.`gmv`, "
                      "s1.`last_login`, s1.`vip`, s1.`birthday`, s1.`score` FROM `trade` s1 WHERE s1.`user_id` IS "
                      "NOT NULL AND s1.`dt` = %s AND NOT EXISTS (SELECT 1 FROM `profile` a0 WHERE a0.`user_id` = "
                      "s1.`user_id` AND a0.`ds` = %s)")
    assert q.params == ["M", "Male", "F", "Female", "U", "Unknown", "2026-11-23", "20261123", "2026-11-23",
                        "20261123"]


def _three_sources() -> RunSpec:
    data = make_spec("sqlite", "t").to_dict()
    data["sources"].append({"table": "visits", "key": "uid", "partition": None})
    data["tags"].append({"code": "visits", "name": "Visits", "type": "bigint", "source": 2, "column": "n"})
    data["outputs"].append({"column": "visits", "tag": "visits", "content": "value", "type": "bigint"})
    return RunSpec.model_validate(data)


def test_a_third_source_joins_on_the_key_of_either_earlier_one() -> None:
    q = build_extract_query(_three_sources(), get_dialect("postgres"), D, frozenset({2}))
    assert q.sql.startswith('SELECT COALESCE(s0."user_id", s1."user_id", s2."uid") AS tagoffline_key,')
    assert (' FULL JOIN (SELECT DISTINCT ON (d."uid") d.* FROM "visits" d WHERE d."uid" IS NOT NULL '
            'ORDER BY d."uid", d.ctid DESC) s2 ON s2."uid" = COALESCE(s0."user_id", s1."user_id") LEFT JOIN') in q.sql
    branches = build_extract_query(_three_sources(), get_dialect("mysql"), D).sql.split(" UNION ALL ")
    assert len(branches) == 3
    assert " LEFT JOIN `trade` s1 ON " in branches[0] and " LEFT JOIN `visits` s2 ON s2.`uid` = s0.`user_id`" \
        in branches[0]
    assert branches[1].startswith("SELECT s1.`user_id` AS tagoffline_key, NULL, NULL, NULL, NULL, NULL, s1.`gmv`")
    assert " LEFT JOIN `visits` s2 ON s2.`uid` = s1.`user_id` WHERE" in branches[1]
    assert branches[2] == ("SELECT s2.`uid` AS tagoffline_key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
                           "NULL, NULL, s2.`n` FROM `visits` s2 WHERE s2.`uid` IS NOT NULL AND NOT EXISTS (SELECT 1 "
                           "FROM `profile` a0 WHERE a0.`user_id` = s2.`uid` AND a0.`ds` = %s) AND NOT EXISTS "
                           "(SELECT 1 FROM `trade` a1 WHERE a1.`user_id` = s2.`uid` AND a1.`dt` = %s)")


def test_a_lookup_joins_on_native_types_when_both_columns_have_one() -> None:
    spec = make_spec("sqlite", "t")
    native = frozenset(lookup_joins(spec))
    q = build_extract_query(spec, get_dialect("postgres"), D, native_lookups=native)
    assert q.sql.endswith('LEFT JOIN (SELECT "level_code" AS tagoffline_code, MAX("level_name") AS tagoffline_name '
                          'FROM "dim_level" GROUP BY "level_code") l0 ON l0.tagoffline_code = s0."level"')
    assert lookup_joins(spec) == [LookupJoin("lv", 0, "level")]
    assert type_probe_sql(get_dialect("mysql"), "dws.dim_level", "level_code") == \
        "SELECT `level_code` FROM `dws`.`dim_level` WHERE 1 = 0"


def test_two_tags_of_one_source_with_one_lookup_table_get_a_join_each() -> None:
    data = make_spec("sqlite", "t").to_dict()
    data["tags"].append({"code": "level2", "name": "Level 2", "type": "bigint", "source": 0, "column": "level2",
                         "lookup": "lv"})
    data["outputs"].append({"column": "level2_name", "tag": "level2", "content": "codename", "type": "string"})
    q = build_extract_query(RunSpec.model_validate(data), get_dialect("postgres"), D)
    assert 'l0.tagoffline_code = CAST(s0."level" AS text)' in q.sql
    assert 'l1.tagoffline_code = CAST(s0."level2" AS text)' in q.sql
    assert 's1."score", l1.tagoffline_name FROM (' in q.sql  # each output names the join of its own column


def test_each_family_says_whether_it_has_full_join() -> None:
    import sqlite3

    assert not get_dialect("mysql").full_outer_join
    assert get_dialect("postgres").full_outer_join and get_dialect("duckdb").full_outer_join
    assert get_dialect("sqlite").full_outer_join == (sqlite3.sqlite_version_info >= (3, 39))
    assert plan_for(get_dialect("mysql")) == "anti_join" and plan_for(get_dialect("oracle")) == "full_join"


def test_extract_dedupes_a_source_keeping_the_physically_last_row() -> None:
    q = build_extract_query(make_spec("sqlite", "t"), get_dialect("postgres"), D, frozenset({0}))
    # PostgreSQL family: DISTINCT ON, the highest ctid of each ID
    assert (' FROM (SELECT DISTINCT ON (d."user_id") d.* FROM "profile" d WHERE d."user_id" IS NOT NULL AND '
            'd."ds" = %s ORDER BY d."user_id", d.ctid DESC) s0 FULL JOIN (SELECT * FROM "trade" s1') in q.sql
    assert "%s" in q.sql and "?" not in q.sql
    # elsewhere ROW_NUMBER, newest physical row first where the engine has a row order
    duck = build_extract_query(make_spec("sqlite", "t"), get_dialect("duckdb"), D, frozenset({0}))
    assert (' FROM (SELECT * FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d."user_id" ORDER BY rowid DESC) '
            'AS tagoffline_rn FROM "profile" d WHERE d."user_id" IS NOT NULL AND d."ds" = ?) r WHERE '
            'tagoffline_rn = 1) s0 FULL JOIN (SELECT * FROM "trade" s1') in duck.sql
    my = build_extract_query(make_spec("sqlite", "t"), get_dialect("mysql"), D, frozenset({0})).sql
    assert my.split(" UNION ALL ")[0].endswith("WHERE s0.`user_id` IS NOT NULL")  # filtered inside the dedupe


def test_identifiers_are_quoted_and_percent_survives_format_paramstyle() -> None:
    data = make_spec("sqlite", "t").to_dict()
    data["sources"][0]["table"] = 'dws.weird"name%'
    q = build_extract_query(RunSpec.model_validate(data), get_dialect("mysql"), D)
    assert '`dws`.`weird"name%%`' in q.sql  # MySQL quoting, % doubled for %s parameters
    q2 = build_extract_query(RunSpec.model_validate(data), get_dialect("postgres"), D)
    assert '"dws"."weird""name%%"' in q2.sql


def test_source_check_counts_rows_and_duplicates_with_a_group_by_on_servers() -> None:
    spec = make_spec("sqlite", "t")
    q = source_check_sql(get_dialect("postgres"), spec.sources[1], D)
    assert q.sql == ('SELECT COALESCE(SUM(g.n), 0), COALESCE(SUM(g.n), 0) - COUNT(*) FROM (SELECT COUNT(*) AS n '
                     'FROM "trade" s WHERE s."user_id" IS NOT NULL AND s."dt" = %s GROUP BY s."user_id") g')
    assert q.params == ["2026-11-23"]
    # text IDs on PostgreSQL: the same count, its sort by bytes
    assert source_check_sql(get_dialect("postgres"), spec.sources[1], D, "string").sql == (
        'SELECT COUNT(*), COUNT(*) - COUNT(DISTINCT CAST(s."user_id" AS text) COLLATE "C") FROM "trade" s '
        'WHERE s."user_id" IS NOT NULL AND s."dt" = %s')
    assert source_check_sql(get_dialect("postgres"), spec.sources[1], D, "date").sql == q.sql
    # integer IDs on PostgreSQL: COUNT(DISTINCT) sorts plain integers, 3x faster than the hash
    q = source_check_sql(get_dialect("postgres"), spec.sources[1], D, "BIGINT")
    assert q.sql == ('SELECT COUNT(*), COUNT(*) - COUNT(DISTINCT s."user_id") FROM "trade" s '
                     'WHERE s."user_id" IS NOT NULL AND s."dt" = %s')
    assert q.params == ["2026-11-23"]
    assert "GROUP BY" in source_check_sql(get_dialect("mysql"), spec.sources[1], D, "bigint").sql


def test_source_check_on_duckdb_sorts_instead_of_hashing() -> None:
    # DuckDB's hash aggregate fails with Out of Memory on ~10M IDs under a small limit; its sort spills.
    spec = make_spec("sqlite", "t")
    q = source_check_sql(get_dialect("duckdb"), spec.sources[1], D)
    assert q.sql == ('SELECT COUNT(*), COUNT(*) FILTER (WHERE c.k = c.prev) FROM (SELECT s."user_id" AS k, '
                     'LAG(s."user_id") OVER (ORDER BY s."user_id") AS prev FROM "trade" s '
                     'WHERE s."user_id" IS NOT NULL AND s."dt" = ?) c')
    assert q.params == ["2026-11-23"]


def test_only_a_plain_single_source_query_is_scan_only() -> None:
    one = make_spec("sqlite", "t").to_dict()
    one["sources"], one["lookups"] = one["sources"][:1], {}
    one["tags"] = [t for t in one["tags"] if t["source"] == 0]
    for t in one["tags"]:
        t["lookup"] = None
    one["outputs"] = [o for o in one["outputs"] if o["tag"] in {t["code"] for t in one["tags"]}
                      and o["content"] == "value"]
    single = RunSpec.model_validate(one)
    duck = get_dialect("duckdb")
    assert build_extract_query(single, duck, D).scan_only
    assert not build_extract_query(single, duck, D, frozenset({0})).scan_only  # dedupe: a window
    assert not build_extract_query(make_spec("sqlite", "t"), duck, D).scan_only  # two sources: joins


def test_partitioned_target_adds_the_partition_value_column() -> None:
    spec = make_spec("postgres", "t", partition={"column": "ds", "format": "yyyy-MM-dd"})
    q = build_extract_query(spec, get_dialect("duckdb"), D, booleans_as_int=True)
    assert q.columns[-1] == "ds" and ', CAST(? AS VARCHAR) AS "ds"' in q.sql
    assert 'CAST(s1."vip" AS INTEGER)' in q.sql  # booleans as 1/0 for MySQL's LOAD DATA


def test_ddl_postgres() -> None:
    stmts = create_table_sql(make_spec("postgres", "t", schema="crm"), "postgres")
    assert stmts[0].splitlines()[:3] == ['CREATE TABLE "crm"."user_tags" (', '  "user_id" bigint NOT NULL,',
                                         '  "gender" text,']
    assert '  "gmv" numeric(18,2),' in stmts[0] and '  "last_login" timestamp,' in stmts[0]
    assert stmts[0].endswith('  CONSTRAINT "user_tags_pk" PRIMARY KEY ("user_id")\n)')
    assert stmts[1].startswith('COMMENT ON TABLE "crm"."user_tags" IS \'Tags of user by user_id')
    assert 'COMMENT ON COLUMN "crm"."user_tags"."gender" IS \'性别\'' in stmts
    assert 'COMMENT ON COLUMN "crm"."user_tags"."gender_name" IS \'性别 (code name)\'' in stmts


def test_ddl_mysql_partitioned() -> None:
    stmts = create_table_sql(make_spec("mysql", "t", partition={"column": "ds", "format": "yyyyMMdd"}), "mysql")
    assert len(stmts) == 1
    sql = stmts[0]
    assert "`gender` text COMMENT '性别'" in sql and "`vip` tinyint(1) COMMENT 'VIP'" in sql
    assert "`ds` varchar(10) NOT NULL COMMENT 'data date'" in sql
    assert "PRIMARY KEY (`user_id`, `ds`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT 'Tags of user" in sql
    assert sql.endswith("PARTITION BY LIST COLUMNS(`ds`) (PARTITION p_init VALUES IN ('19700101'))")


def test_ddl_oracle_types() -> None:
    sql = create_table_sql(make_spec("oracle", "t", schema="CRM"), "oracle")[0]
    for fragment in ('"user_id" NUMBER(19) NOT NULL', '"gender" VARCHAR2(4000 CHAR)', '"score" BINARY_DOUBLE',
                     '"gmv" NUMBER(18,2)', '"vip" NUMBER(1)', '"birthday" DATE', '"last_login" TIMESTAMP(6)',
                     'CONSTRAINT "user_tags_pk" PRIMARY KEY ("user_id")'):
        assert fragment in sql


def test_ddl_refuses_partitions_where_the_dialect_has_none() -> None:
    with pytest.raises(ValueError, match="sqlite targets cannot be partitioned"):
        create_table_sql(make_spec("sqlite", "t", partition={"column": "ds", "format": "yyyyMMdd"}), "sqlite")


def test_string_key_gets_a_bounded_type() -> None:
    assert get_dialect("mysql").column_type("string", key=True) == "varchar(255)"
    assert get_dialect("oracle").column_type("string", key=True) == "VARCHAR2(255 CHAR)"
    assert get_dialect("greenplum").column_type("decimal(20,4)") == "numeric(20,4)"


@pytest.mark.parametrize(("value_type", "column", "problem"), [
    ("bigint", "integer", "a 32-bit integer column cannot hold every bigint"),
    ("bigint", "bigint(20)", None),
    ("bigint", "numeric(19,0)", None),
    ("decimal(18,2)", "numeric(10,2)", "decimal(10,2) is narrower than decimal(18,2)"),
    ("decimal(18,2)", "numeric", None),
    ("decimal(18,2)", "NUMBER", None),
    ("string", "integer", "a string needs a text column, not integer"),
    ("boolean", "tinyint(1)", None),
    ("datetime", "date", "a date column would drop the time of day"),
    ("datetime", "timestamp without time zone", None),
    ("date", "character varying(10)", None),
    ("double", "double precision", None),
])
def test_column_compatibility(value_type: str, column: str, problem: str | None) -> None:
    assert incompatibility(value_type, classify(column)) == problem


def _target(kind: str, **kw: object):
    spec = TargetSpec(conn_id="c", kind=kind, table="user_tags", key_column="user_id", **kw)  # type: ignore[arg-type]
    return make_target(spec, None, kind)


def test_mysql_swap_is_one_rename_statement_then_drop() -> None:
    t = _target("mysql")
    assert t.swap_sql() == ["RENAME TABLE `user_tags` TO `user_tags_dpfx_tmp`, `user_tags_dpfx_b` TO `user_tags`",
                            "DROP TABLE `user_tags_dpfx_tmp`"]
    t.partition_value = "20261123"
    assert t.exchange_sql("p20261123") == [
        "ALTER TABLE `user_tags` EXCHANGE PARTITION `p20261123` WITH TABLE `user_tags_dpfx_b`",
        "DROP TABLE `user_tags_dpfx_b`"]


def test_postgres_swap_renames_views_drop_and_index_names_in_order() -> None:
    from airflow_provider_tagoffline.dialects.postgres.target import IndexDef

    t = _target("postgres", schema="crm")
    t._indexes = [IndexDef("user_tags_pk", "PRIMARY KEY (user_id)", "", temp_name="tagoffline_x_0")]
    assert t.swap_sql([("crm", "vip_users", " SELECT user_id FROM crm.user_tags;")]) == [
        'ALTER TABLE "crm"."user_tags" RENAME TO "user_tags_dpfx_tmp"',
        'ALTER TABLE "crm"."user_tags_dpfx_b" RENAME TO "user_tags"',
        'CREATE OR REPLACE VIEW "crm"."vip_users" AS  SELECT user_id FROM crm.user_tags',
        'DROP TABLE "crm"."user_tags_dpfx_tmp"',
        'ALTER INDEX "crm"."tagoffline_x_0" RENAME TO "user_tags_pk"',
    ]
    assert t.build_index_sql(t._indexes[0]) == \
        'ALTER TABLE "crm"."user_tags_dpfx_b" ADD CONSTRAINT "tagoffline_x_0" PRIMARY KEY (user_id)'
    ix = IndexDef("user_tags_level_idx", None, "CREATE INDEX user_tags_level_idx ON crm.user_tags USING btree "
                  "(level) WHERE (level > 1)", temp_name="tagoffline_x_1")
    assert t.build_index_sql(ix) == \
        'CREATE INDEX "tagoffline_x_1" ON "crm"."user_tags_dpfx_b" USING btree (level) WHERE (level > 1)'
    assert "INCLUDING GENERATED" in t.create_stage_sql()
    assert "INCLUDING GENERATED" not in _target("greenplum").create_stage_sql()  # older forks


def test_mysql_asks_information_schema_for_type_and_collation_others_the_cursor() -> None:
    assert get_dialect("mysql").column_type_sql("dws.dim_level", "level_code") == (
        "SELECT DATA_TYPE, COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
        "COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND COLUMN_NAME = %s", ["dws", "dim_level", "level_code"])
    assert get_dialect("mysql").column_type_sql("dim_level", "c")[1] == [None, "dim_level", "c"]  # type: ignore[index]
    assert get_dialect("postgres").column_type_sql("dim_level", "c") is None
