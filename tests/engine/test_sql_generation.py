"""Pure SQL generation, checked without a server: extract, DDL, swap statements, type checks."""

from __future__ import annotations

import datetime as dt

import pytest
from engine_data import make_spec

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.dialects import get_dialect
from airflow_provider_tagoffline.engine.extract import build_extract_query, format_date, source_check_sql
from airflow_provider_tagoffline.engine.targets import make_target
from airflow_provider_tagoffline.engine.types import classify, incompatibility
from airflow_provider_tagoffline.runspec import RunSpec, TargetSpec

D = dt.date(2026, 11, 23)


@pytest.mark.parametrize(("fmt", "expected"), [("yyyyMMdd", "20261123"), ("yyyy-MM-dd", "2026-11-23"),
                                               ("yyyy/MM/dd", "2026/11/23"), ("yyyy.MM.dd", "2026.11.23")])
def test_format_date(fmt: str, expected: str) -> None:
    assert format_date(D, fmt) == expected


def test_extract_joins_sources_on_the_key_with_each_partition_format() -> None:
    q = build_extract_query(make_spec("sqlite", "t"), get_dialect("duckdb"), D)
    # The key set: every source's IDs for D, distinct. DuckDB sorts them (its sort spills, its
    # UNION's hash aggregate does not always).
    assert q.sql.startswith(
        'WITH k AS (SELECT d.tagoffline_key FROM (SELECT u.tagoffline_key, LAG(u.tagoffline_key) OVER '
        '(ORDER BY u.tagoffline_key) AS tagoffline_prev FROM (SELECT s0."user_id" AS tagoffline_key FROM "profile" s0 '
        'WHERE s0."user_id" IS NOT NULL AND s0."ds" = ? UNION ALL SELECT s1."user_id" AS tagoffline_key '
        'FROM "trade" s1 WHERE s1."user_id" IS NOT NULL AND s1."dt" = ?) u) d '
        'WHERE d.tagoffline_prev IS DISTINCT FROM d.tagoffline_key)')
    pg = build_extract_query(make_spec("sqlite", "t"), get_dialect("postgres"), D)
    assert pg.sql.startswith('WITH k AS (SELECT s0."user_id" AS tagoffline_key FROM "profile" s0 WHERE '
                             's0."user_id" IS NOT NULL AND s0."ds" = %s UNION SELECT s1."user_id" AS tagoffline_key '
                             'FROM "trade" s1 WHERE s1."user_id" IS NOT NULL AND s1."dt" = %s)')
    assert ' FROM k LEFT JOIN "profile" s0 ON s0."user_id" = k.tagoffline_key AND s0."ds" = ?' in q.sql
    assert ' LEFT JOIN "trade" s1 ON s1."user_id" = k.tagoffline_key AND s1."dt" = ?' in q.sql
    # inline lookup as CASE with bound values; table lookup reduced to one name per code
    assert 'CASE CAST(s0."gender" AS VARCHAR) WHEN ? THEN ? WHEN ? THEN ? WHEN ? THEN ? END' in q.sql
    assert ('LEFT JOIN (SELECT CAST("level_code" AS VARCHAR) AS tagoffline_code, MAX("level_name") AS '
            'tagoffline_name FROM "dim_level" GROUP BY "level_code") l0 ON l0.tagoffline_code = '
            'CAST(s0."level" AS VARCHAR)') in q.sql
    assert q.params == ["20261123", "2026-11-23", "M", "Male", "F", "Female", "U", "Unknown", "20261123",
                        "2026-11-23"]
    assert q.columns[0] == "user_id" and q.columns[1:3] == ["gender", "gender_name"]


def test_extract_dedupes_a_source_keeping_the_physically_last_row() -> None:
    q = build_extract_query(make_spec("sqlite", "t"), get_dialect("postgres"), D, frozenset({0}))
    assert ('LEFT JOIN (SELECT * FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d."user_id" ORDER BY ctid DESC) '
            'AS tagoffline_rn FROM "profile" d WHERE d."user_id" IS NOT NULL AND d."ds" = %s) r WHERE '
            'tagoffline_rn = 1) s0 ON s0."user_id" = k.tagoffline_key LEFT JOIN') in q.sql
    assert "%s" in q.sql and "?" not in q.sql


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
