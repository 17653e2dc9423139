"""Fuzz of the DDL-edit path: thousands of generated edits, none runs anything but a rendered CREATE
TABLE of the target (and comments on it).

Edits are built from pieces of valid statements and hostile tokens (quotes, backslashes, dollar
quotes, comments, MySQL executable comments, second statements, file functions). For every one,
``parse_edited`` either refuses it (``ValidationFailed``, never another error: that would be a 500)
or returns a design whose rendering is, to the dialect's own parser, one ``CREATE TABLE`` of the
target plus ``COMMENT ON`` it. The renderings run on live DuckDB (every example), PostgreSQL
(rolled back) and MariaDB: afterwards only the victim table and the target exist, the victim keeps
its row, no file is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from airflow_provider_tagoffline.create_table.parse import parse_edited
from airflow_provider_tagoffline.create_table.render import render
from airflow_provider_tagoffline.dialects import Dialect, get_dialect
from airflow_provider_tagoffline.errors import ValidationFailed
from tests.live import mysql_connect, mysql_database, pg_connect, pg_database

NAMES = ["t", '"t"', "`t`", "T", "public.t", "victim", '"a""b"', "`a``b`", "x", '"x;y"', "a b", "用户"]
HOSTILE = ["'", "''", "\\'", "\\", ";", "; DROP TABLE victim", "--", "-- ')", "/*", "*/", "/*!50000", "#", "$$",
           "$t$", "E'", '"', "`", "\n", "DEFAULT", "DEFAULT '\\'", "AS SELECT 1", "AS SELECT * FROM victim",
           "COPY (SELECT 1) TO '/tmp/tagoffline_fuzz.py'", "read_text('/etc/hostname')",
           "pg_read_file('/etc/hostname')", "LOAD_FILE('/etc/hostname')", "ATTACH 'x.db'",
           "INTO OUTFILE '/tmp/tagoffline_fuzz.py'", "COMMENT",
           "COMMENT 'x'", "COMMENT ON TABLE t IS 'x'", "COMMENT ON COLUMN t.a IS 'y'", "NOT NULL", "PRIMARY KEY",
           "PRIMARY KEY (a)", "PARTITION BY LIST (ds)", "ENGINE=InnoDB", "ENGINE=CONNECT", "CHECK (a > 0)",
           "REFERENCES victim (a)", "GENERATED ALWAYS AS (1) STORED", "(", ")", ",", "CREATE", "TABLE", "TEMP",
           "IF NOT EXISTS", "OR REPLACE", "'x'); DROP TABLE victim; --", "\u2028", "ç", "1e9", "-1", "serial", "json"]
#: what comments may hold: the characters that end literals, statements and comments
COMMENT_TEXT = st.lists(st.sampled_from([*"ab '\\;-/*$`\"#\n", "--", "/*", "*/", "$$", "张",
                                         "'); DROP TABLE victim; --"]), max_size=8).map("".join)


def _literal(kind: str, text: str) -> str:
    """``text`` as a string literal the way a user of ``kind`` would write it."""
    if kind == "mysql":  # backslash escapes
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + text.replace("'", "''") + "'"


@st.composite
def _type(draw: st.DrawFn, d: Dialect) -> str:
    t = draw(st.sampled_from(sorted(d.ddl_types.values(), key=lambda x: x.spelling)))
    if not t.limits or (not t.required and draw(st.booleans())):
        return t.spelling
    first = draw(st.integers(1, min(t.limits[0], 40)))
    params = [first] + ([draw(st.integers(0, first))] if len(t.limits) > 1 and draw(st.booleans()) else [])
    return f"{t.spelling}({','.join(map(str, params))})"


@st.composite
def edits(draw: st.DrawFn, kind: str) -> str:
    """A CREATE TABLE of the dialect's own types with hostile comments, then (half of the time)
    hostile pieces spliced in anywhere."""
    d = get_dialect(kind)
    q = "`" if kind == "mysql" else '"'
    columns = []
    for name in draw(st.lists(st.sampled_from(["a", "b", "ds", "user_id", f"{q}c;d{q}", f"{q}e{q}{q}f{q}"]),
                              min_size=1, max_size=4, unique=True)):
        extra = draw(st.lists(st.sampled_from(["NOT NULL", "NULL", "PRIMARY KEY", "COMMENT"]), max_size=2, unique=True))
        extra = [f"COMMENT {_literal(kind, draw(COMMENT_TEXT))}" if e == "COMMENT" else e for e in extra]
        columns.append(" ".join([name, draw(_type(d)), *extra]))
    base = ["CREATE", "TABLE", draw(st.sampled_from(["t"] * 4 + NAMES)), "(", ", ".join(columns), ")"]
    tail = draw(st.sampled_from(["", "; COMMENT ON TABLE t IS", "ENGINE=InnoDB COMMENT", "PARTITION BY LIST (ds)",
                                 ";", "; DROP TABLE victim"]))
    if tail.endswith(("IS", "COMMENT")):
        tail += " " + _literal(kind, draw(COMMENT_TEXT))
    base.append(tail)
    if draw(st.booleans()):
        for piece in draw(st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=3)):
            base.insert(draw(st.integers(0, len(base))), piece)
    return " ".join(base)


def _rendering(kind: str, text: str) -> tuple[Dialect, list[str]] | None:
    """The statements that would run for ``text``, or None when it is refused."""
    d = get_dialect(kind)
    try:
        design = parse_edited([text], d, schema=None, table="t", partition_column=None)
    except ValidationFailed:
        return None
    statements = render(design, d)
    _assert_only_create_of_target(d, statements)
    return d, statements


def _assert_only_create_of_target(d: Dialect, statements: list[str]) -> None:
    """To the dialect's own parser, each rendered statement is one statement: the first a CREATE
    TABLE of "t" with columns, the rest COMMENT ON "t"."""
    for i, sql in enumerate(statements):
        parsed = [p for p in sqlglot.parse(sql, read=d.sqlglot_dialect) if p is not None]
        assert len(parsed) == 1, sql
        stmt = parsed[0]
        if i == 0:
            assert isinstance(stmt, exp.Create) and stmt.kind == "TABLE" and stmt.expression is None, sql
            assert isinstance(stmt.this, exp.Schema) and stmt.this.this.name == "t", sql
        else:
            assert isinstance(stmt, exp.Comment), sql


FUZZ = settings(max_examples=800, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("kind", ["postgres", "mysql", "oracle", "sqlite", "duckdb"])
def test_every_edit_is_refused_or_rendered_as_a_create_table_of_the_target(kind: str) -> None:
    @FUZZ
    @given(edits(kind))
    def check(text: str) -> None:
        _rendering(kind, text)

    check()


@pytest.fixture(scope="module")
def duck(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import duckdb

    con = duckdb.connect(str(tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb"))
    con.execute("CREATE TABLE victim (a INTEGER)")
    con.execute("INSERT INTO victim VALUES (1)")
    con.execute("SET enable_external_access = false")
    yield con
    con.close()


def test_renderings_run_as_a_create_table_of_the_target_on_duckdb(duck: Any) -> None:
    ran: list[int] = []

    @FUZZ
    @given(edits("duckdb"))
    def check(text: str) -> None:
        out = _rendering("duckdb", text)
        if out is None:
            return
        for sql in out[1]:
            assert len(duck.extract_statements(sql)) == 1
        duck.execute("BEGIN")
        try:
            for sql in out[1]:
                duck.execute(sql)
            assert sorted(r[0] for r in duck.execute("SELECT table_name FROM duckdb_tables()").fetchall()) == [
                "t", "victim"]
        finally:
            duck.execute("ROLLBACK")
        ran.append(1)

    check()
    assert duck.execute("SELECT a FROM victim").fetchall() == [(1,)]
    assert len(ran) > 100  # the generator makes plenty of acceptable edits, not only refusals
    assert not Path("/tmp/tagoffline_fuzz.py").exists()


@pytest.mark.postgres
def test_renderings_run_as_a_create_table_of_the_target_on_postgres() -> None:
    import psycopg

    with pg_database("tot_fuzz") as name:
        with pg_connect(name) as con:
            con.execute("CREATE TABLE victim (a int)")
            con.execute("INSERT INTO victim VALUES (1)")

            def tables() -> list[str]:
                return sorted(r[0] for r in con.execute(
                    "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p', 'v', 'm') "
                    "AND relnamespace = 'public'::regnamespace").fetchall())

            @settings(FUZZ, max_examples=400)
            @given(edits("postgres"))
            def check(text: str) -> None:
                out = _rendering("postgres", text)
                if out is None:
                    return
                try:
                    with con.transaction(force_rollback=True):
                        for sql in out[1]:
                            con.execute(sql, prepare=True)
                        assert tables() == ["t", "victim"]
                except psycopg.DatabaseError:  # PostgreSQL refused the rendering (e.g. a key on a missing column)
                    pass
                assert tables() == ["victim"]

            check()
            assert con.execute("SELECT a FROM victim").fetchall() == [(1,)]


@pytest.mark.mysql
def test_renderings_run_as_a_create_table_of_the_target_on_mariadb() -> None:
    import pymysql

    def tables(cur: Any) -> list[str]:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1")
        return [r[0] for r in cur.fetchall()]

    with mysql_database("tot_fuzz", collation=None) as name:
        con = mysql_connect(name)
        if callable(getattr(con, "set_server_option", None)):
            con.set_server_option(1)  # multi-statements off, as the target does
        with con.cursor() as cur:
            cur.execute("CREATE TABLE victim (a int)")
            cur.execute("INSERT INTO victim VALUES (1)")
        con.commit()

        @settings(FUZZ, max_examples=300)
        @given(edits("mysql"))
        def check(text: str) -> None:
            out = _rendering("mysql", text)
            if out is None:
                return
            with con.cursor() as cur:
                try:
                    for sql in out[1]:
                        cur.execute(sql)
                except pymysql.MySQLError:  # MariaDB refused the rendering (e.g. a TEXT key without length)
                    assert tables(cur) == ["victim"]
                    return
                assert tables(cur) == ["t", "victim"]
                cur.execute("DROP TABLE t")

        check()
        with con.cursor() as cur:
            cur.execute("SELECT a FROM victim")
            assert cur.fetchall() == ((1,),)
        con.close()
