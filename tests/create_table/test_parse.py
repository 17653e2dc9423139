"""One-click create table, pure: an edit is parsed per dialect and rendered again, or refused by name.

The live counterparts (the rendered statements run, every attack leaves the database as it was)
are in tests/conformance/target.py (every family) and tests/api/test_ddl_attacks.py.
"""

from __future__ import annotations

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.create_table.design import design_for
from airflow_provider_tagoffline.create_table.parse import parse_edited
from airflow_provider_tagoffline.create_table.render import render
from airflow_provider_tagoffline.dialects import get_dialect
from airflow_provider_tagoffline.errors import ValidationFailed, redacted_first_line
from tests.run_data import make_spec

KINDS = ["postgres", "greenplum", "opengauss", "mysql", "oracle", "sqlite", "duckdb"]


def _parse(kind: str, *statements: str, schema: str | None = None, table: str = "t",
           partition: str | None = None) -> list[str]:
    d = get_dialect(kind)
    return render(parse_edited(list(statements), d, schema=schema, table=table, partition_column=partition), d)


def _refusal(kind: str, *statements: str, **kw: object) -> str:
    with pytest.raises(ValidationFailed) as info:
        _parse(kind, *statements, **kw)  # type: ignore[arg-type]
    return "; ".join(str(e) for e in info.value.errors)


@pytest.mark.parametrize(("kind", "partitioned"), [(k, p) for k in KINDS for p in (False, True)
                                                   if get_dialect(k).supports_partitions or not p])
def test_generated_statements_round_trip_unchanged(kind: str, partitioned: bool) -> None:
    """Executing the preview unedited runs exactly the preview: parse ∘ render is the identity on it."""
    d = get_dialect(kind)
    schema = "crm" if d.has_schemas else None
    spec = make_spec(kind, "c", schema=schema,
                     partition={"column": "ds", "format": "yyyyMMdd"} if partitioned else None)
    generated = create_table_sql(spec, kind)
    assert generated == render(design_for(spec, d), d)
    part = "ds" if partitioned else None
    assert _parse(kind, *generated, schema=schema, table="user_tags", partition=part) == generated
    # the web view's editor sends the whole text as one item
    assert _parse(kind, ";\n\n".join(generated) + ";", schema=schema, table="user_tags", partition=part) == generated


@pytest.mark.parametrize(("kind", "sql", "named"), [
    # the quote trick: one statement to sqlparse, three to PostgreSQL and DuckDB
    ("postgres", "CREATE TABLE t (a text DEFAULT '\\'); DROP TABLE victim; --')", "DROP TABLE is not allowed"),
    ("duckdb", "CREATE TABLE t (a VARCHAR DEFAULT '\\'); DROP TABLE victim; --')", "DROP TABLE is not allowed"),
    ("mysql", "CREATE TABLE t (a int COMMENT 'x\\\\'); DROP TABLE victim; -- ')", "DROP TABLE is not allowed"),
    ("postgres", "CREATE TABLE t AS SELECT 1 AS a", "CREATE TABLE ... AS SELECT is not allowed"),
    ("duckdb", "CREATE TABLE t AS SELECT * FROM read_text('/proc/self/environ')",
     "CREATE TABLE ... AS SELECT is not allowed"),
    ("mysql", "CREATE TABLE t (a int) SELECT 1 AS a", "CREATE TABLE ... AS SELECT is not allowed"),
    ("duckdb", "COPY (SELECT 1) TO '/tmp/x.py'", "COPY is not allowed"),
    ("postgres", "CREATE TABLE t (a int); COPY (SELECT 1) TO '/tmp/x.py'", "COPY is not allowed"),
    ("postgres", "SELECT pg_read_file('/etc/passwd')", "SELECT is not allowed"),
    ("duckdb", "CREATE TABLE t (a VARCHAR DEFAULT (read_text('/etc/passwd')))", "DEFAULT is not allowed"),
    ("mysql", "CREATE TABLE t (a text DEFAULT (LOAD_FILE('/etc/passwd')))", "DEFAULT is not allowed"),
    ("duckdb", "ATTACH '/tmp/x.db' AS x", "ATTACH is not allowed"),
    ("duckdb", "CREATE TABLE t (a INTEGER); INSTALL httpfs", "INSTALL is not allowed"),
    ("postgres", "DROP TABLE t", "DROP TABLE is not allowed"),
    ("postgres", "CREATE VIEW t AS SELECT 1", "CREATE VIEW is not allowed"),
    ("postgres", "CREATE TEMP TABLE t (a int)", "TEMPORARY is not allowed"),
    ("postgres", "CREATE TABLE IF NOT EXISTS t (a int)", "IF NOT EXISTS is not allowed"),
    ("postgres", "CREATE TABLE t (LIKE victim)", "LIKE is not allowed"),
    ("postgres", "CREATE TABLE t (a int CHECK (a > 0))", "CHECK is not allowed"),
    ("postgres", "CREATE TABLE t (a int REFERENCES victim (a))", "REFERENCES is not allowed"),
    ("postgres", "CREATE TABLE t (a text GENERATED ALWAYS AS ('x') STORED)", "a generated column is not allowed"),
    ("postgres", "CREATE TABLE t (a serial)", "type SERIAL is not allowed on postgres"),
    ("postgres", "CREATE TABLE t (a int) TABLESPACE pg_default", "TABLESPACE pg_default is not allowed"),
    ("postgres", "CREATE TABLE t (a int) WITH (fillfactor=10)", "fillfactor=10 is not allowed"),
    ("mysql", "CREATE TABLE t (a int) ENGINE=CONNECT", "ENGINE=CONNECT is not allowed"),
    ("mysql", "CREATE TABLE t (a int) DATA DIRECTORY='/tmp'", "this CREATE has clauses that are not allowed"),
    ("mysql", "CREATE TABLE t (a int, KEY k (a))", "INDEX is not allowed"),
    ("mysql", "CREATE TABLE t (a int AUTO_INCREMENT)", "AUTO INCREMENT is not allowed"),
    ("oracle", 'CREATE TABLE "t" ("a" NUMBER) TABLESPACE users', "TABLESPACE users is not allowed"),
    ("sqlite", "CREATE TABLE t (a)", "column 'a' needs a type"),
    ("postgres", "CREATE TABLE victim (a int)", "creates table victim, not the service's target table 't'"),
    ("postgres", "CREATE TABLE other.t (a int)", "names schema 'other', but the service's target has no schema"),
    ("postgres", "CREATE TABLE t (a int); CREATE TABLE t (b int)", "a second CREATE TABLE is not allowed"),
    ("postgres", "CREATE TABLE t (a int); COMMENT ON TABLE victim IS 'x'", "creates table victim"),
    ("postgres", "CREATE TABLE t (a int, a text)", "column 'a' is defined twice"),
    ("postgres", "CREATE TABLE t (a numeric(5,7))", "scale 7 is larger than precision 5"),
    ("postgres", "CREATE TABLE t (a varchar(0))", "varchar parameter 0 is outside 1..10485760"),
    ("mysql", "CREATE TABLE t (a varchar)", "varchar takes 1 parameter(s), not 0"),
    ("oracle", 'CREATE TABLE "t" ("a" VARCHAR2(10 WIDE))', "10 WIDE is not a length"),
    ("oracle", 'CREATE TABLE "t" ("a""b" NUMBER)', "must not contain a double quote"),
    ("postgres", "CREATE TABLE t (a int $$; DROP TABLE x; $$)", "cannot be parsed as postgres SQL"),
    ("postgres", "CREATE TABLE t (a int) PARTITION BY LIST (a)", "the service's target is not partitioned"),
    ("sqlite", "CREATE TABLE t (a int); COMMENT ON TABLE t IS 'x'", "COMMENT ON TABLE is not allowed"),
    ("postgres", "", "is empty"),
    ("postgres", "CREATE TABLE t (a int)\x00", "must not contain a NUL character"),
])
def test_edits_are_refused_naming_the_construct(kind: str, sql: str, named: str) -> None:
    assert named in _refusal(kind, sql)


def test_refusals_name_the_item_and_the_statement() -> None:
    with pytest.raises(ValidationFailed) as info:
        _parse("postgres", "CREATE TABLE t (a int)", "CREATE TABLE t (a int); DROP TABLE victim")
    fields = [e.field for e in info.value.errors]
    assert fields == ["statements[1] (statement 1)", "statements[1] (statement 2)"]
    assert "statements: no CREATE TABLE" in _refusal("postgres", "COMMENT ON TABLE t IS 'x'")


def test_names_resolve_as_the_database_does() -> None:
    # PostgreSQL folds unquoted names to lower case, Oracle to upper case; quoted names stay as written.
    assert _parse("postgres", 'CREATE TABLE T (UserId BIGINT, "Nick" TEXT, PRIMARY KEY (USERID))') == [
        'CREATE TABLE "t" (\n  "userid" bigint,\n  "Nick" text,\n  CONSTRAINT "t_pk" PRIMARY KEY ("userid")\n)']
    assert _parse("oracle", "CREATE TABLE t (user_id NUMBER(19))", table="T") == [
        'CREATE TABLE "T" (\n  "USER_ID" NUMBER(19)\n)']
    assert "creates table t" in _refusal("oracle", "CREATE TABLE t (a NUMBER)", table="t")
    # the service's schema is what runs; a schema in the edit must be that one
    assert _parse("postgres", "CREATE TABLE Crm.t (a int)", schema="crm")[0].startswith('CREATE TABLE "crm"."t"')
    assert _parse("postgres", "CREATE TABLE t (a int)", schema="crm")[0].startswith('CREATE TABLE "crm"."t"')
    assert "not the target's schema 'crm'" in _refusal("postgres", "CREATE TABLE public.t (a int)", schema="crm")


def test_literals_are_rendered_by_the_dialect() -> None:
    out = _parse("postgres", "CREATE TABLE t (a int); COMMENT ON TABLE t IS 'it''s'; "
                             "COMMENT ON COLUMN t.a IS 'back\\slash'")
    assert out[1:] == ["COMMENT ON TABLE \"t\" IS 'it''s'", "COMMENT ON COLUMN \"t\".\"a\" IS E'back\\\\slash'"]
    # MySQL reads \' as a quote inside the literal; the rendering doubles quotes and backslashes
    out = _parse("mysql", "CREATE TABLE t (a int COMMENT 'x\\'; DROP TABLE v; -- ', b varchar(255) "
                          "COLLATE utf8mb4_bin NOT NULL, PRIMARY KEY (a)) ENGINE=innodb CHARSET=latin1 COMMENT='tbl'")
    assert out == ["CREATE TABLE `t` (\n  `a` int COMMENT 'x''; DROP TABLE v; -- ',\n  `b` varchar(255) COLLATE "
                   "utf8mb4_bin NOT NULL,\n  PRIMARY KEY (`a`)\n) ENGINE=InnoDB DEFAULT CHARSET=latin1 COMMENT 'tbl'"]
    # MySQL's executable comments are comments to the parser: never rendered, never run
    assert _parse("mysql", "CREATE TABLE t (a int) /*!50000 , b int) ; DROP TABLE victim; -- */") == [
        "CREATE TABLE `t` (\n  `a` int\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"]


def test_partition_clause_is_checked_and_rendered_canonically() -> None:
    mysql = _parse("mysql", "CREATE TABLE t (id bigint, ds varchar(10) NOT NULL, PRIMARY KEY (id, ds)) "
                            "PARTITION BY LIST COLUMNS(ds) (PARTITION p0 VALUES IN ('20260101'))", partition="ds")
    assert mysql[0].endswith("PARTITION BY LIST COLUMNS(`ds`) (PARTITION p_init VALUES IN ('19700101'))")
    oracle = _parse("oracle", 'CREATE TABLE "t" ("ds" VARCHAR2(10 CHAR)) PARTITION BY LIST ("ds") AUTOMATIC '
                              "(PARTITION p VALUES ('x'))", partition="ds")
    assert oracle[0].endswith('PARTITION BY LIST ("ds") AUTOMATIC (PARTITION p_init VALUES (\'19700101\'))')
    assert "keep the clause PARTITION BY LIST" in _refusal("postgres", "CREATE TABLE t (ds text)", partition="ds")
    assert "partitions by 'a'" in _refusal("postgres", "CREATE TABLE t (a int, ds text) PARTITION BY LIST (a)",
                                           partition="ds")
    assert "must read PARTITION BY LIST" in _refusal(
        "postgres", "CREATE TABLE t (ds text) PARTITION BY RANGE (ds)", partition="ds")
    assert "DROP TABLE is not allowed" in _refusal(
        "postgres", "CREATE TABLE t (ds text) PARTITION BY LIST (ds) ; DROP TABLE v", partition="ds")
    assert "must define the date partition column 'ds'" in _refusal("duckdb", "CREATE TABLE t (a INTEGER)",
                                                                    partition="ds")


def test_database_errors_are_redacted_to_their_first_line() -> None:
    exc = Exception("IO Error: cannot open 'AWS_SECRET=abc' and 'it''s' or '\\'x\nDETAIL: the row (1, 'secret')")
    assert redacted_first_line(exc) == "IO Error: cannot open '…' and '…' or '…'"
    assert redacted_first_line(Exception("cut 'in the middle of a value")) == "cut '…'"
