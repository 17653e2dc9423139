"""One-click create table on live PostgreSQL, MariaDB, SQLite and DuckDB: what runs is our rendering.

Each attack of the security issue is tried as an edited statement: it is refused, or (where the
parser reads it as a harmless CREATE TABLE) only the rendered CREATE TABLE of the target runs. Either
way the victim table keeps its row, no other table appears and no file is written. Below the
parser, the connection itself runs one statement per call.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_data import LiveTarget, make_spec

from airflow_provider_tagoffline.connections import resolve_connection
from airflow_provider_tagoffline.create_table.execute import create_on_target
from airflow_provider_tagoffline.create_table.parse import parse_edited
from airflow_provider_tagoffline.create_table.render import render
from airflow_provider_tagoffline.dialects import get_dialect, make_target
from airflow_provider_tagoffline.errors import Conflict, RunFailed, ValidationFailed

pytestmark = [pytest.mark.postgres, pytest.mark.mysql]


def _attacks(kind: str, out: Path) -> list[str]:
    """The issue's attacks in the target's own syntax (``out``: where a file must never appear)."""
    common = [
        "CREATE TABLE t_new (a int); DROP TABLE victim",
        "CREATE TABLE t_new AS SELECT * FROM victim",
        "DROP TABLE victim",
        "CREATE TABLE t_new (a int); DELETE FROM victim",
        "CREATE TABLE t_new (a int); INSERT INTO victim VALUES (2)",
    ]
    return common + {
        "postgres": [
            "CREATE TABLE t_new (a text DEFAULT '\\'); DROP TABLE victim; --')",
            f"CREATE TABLE t_new (a int); COPY (SELECT 'import os') TO '{out}/x.py'",
            "CREATE TABLE t_new AS SELECT pg_read_file('/etc/hostname') AS a",
            "CREATE TABLE t_new (a text DEFAULT pg_read_file('/etc/hostname'))",
            "CREATE TABLE t_new (a text DEFAULT $$x$$); DROP TABLE victim",
            "CREATE TABLE t_new (a text /* ; DROP TABLE victim; */)",
        ],
        "mysql": [
            "CREATE TABLE t_new (a int COMMENT 'x\\\\'); DROP TABLE victim; -- ')",
            "CREATE TABLE t_new (a int) /*!50000 ; DROP TABLE victim */",
            "CREATE TABLE t_new (a text DEFAULT (LOAD_FILE('/etc/hostname')))",
            f"CREATE TABLE t_new (a int) ENGINE=CONNECT table_type=CSV file_name='{out}/x.py'",
            f"SELECT 'import os' INTO OUTFILE '{out}/x.py'",
        ],
        "sqlite": [
            "CREATE TABLE t_new (a text DEFAULT 'x'); DROP TABLE victim; --')",
            f"ATTACH DATABASE '{out}/x.py' AS x",
        ],
        "duckdb": [
            "CREATE TABLE t_new (a VARCHAR DEFAULT '\\'); DROP TABLE victim; --')",
            f"COPY (SELECT 'import os') TO '{out}/x.py'",
            f"CREATE TABLE t_new (a int); COPY (SELECT 'import os') TO '{out}/x.py'",
            "CREATE TABLE t_new AS SELECT * FROM read_text('/proc/self/environ')",
            "CREATE TABLE t_new (a VARCHAR DEFAULT (getenv('HOME')))",
            f"ATTACH '{out}/x.db' AS x",
        ],
    }[kind]


def test_attacks_leave_the_database_as_it_was(live_target: LiveTarget, tmp_path: Path) -> None:
    t = live_target
    d = get_dialect(t.kind)
    t.execute("CREATE TABLE victim (a int)", "INSERT INTO victim VALUES (1)")
    out = tmp_path / "out"
    out.mkdir()
    spec = make_spec(t.kind, t.conn_id, table="t_new")
    refused = ran = 0
    for sql in _attacks(t.kind, out):
        try:
            design = parse_edited([sql], d, schema=None, table="t_new", partition_column=None)
        except ValidationFailed:
            refused += 1
            continue
        statements = render(design, d)
        assert statements[0].startswith(f"CREATE TABLE {d.quote('t_new')} ("), (sql, statements)
        assert not any(s.split()[0:2] != ["CREATE", "TABLE"] and not s.startswith("COMMENT ON") for s in statements)
        create_on_target(spec.target, t.conn_id, statements)
        ran += 1
        t.execute("DROP TABLE t_new")
    # Only the comment tricks parse as a harmless CREATE TABLE (their comment is never rendered).
    harmless = [sql for sql in _attacks(t.kind, out) if "/*" in sql]
    assert (refused, ran) == (len(_attacks(t.kind, out)) - len(harmless), len(harmless))
    assert t.tables() == ["victim"]
    assert t.rows("SELECT a FROM victim") == [(1,)]
    assert list(out.iterdir()) == []


def test_generated_table_is_created_once(live_target: LiveTarget) -> None:
    t = live_target
    d = get_dialect(t.kind)
    spec = make_spec(t.kind, t.conn_id, table="t_made")
    statements = render(parse_edited(["CREATE TABLE t_made (user_id bigint NOT NULL, nick text, PRIMARY KEY "
                                      "(user_id))"] if t.kind != "duckdb" else
                                     ["CREATE TABLE t_made (user_id BIGINT NOT NULL, nick VARCHAR, PRIMARY KEY "
                                      "(user_id))"], d, schema=None, table="t_made", partition_column=None), d)
    create_on_target(spec.target, t.conn_id, statements)
    t.execute("INSERT INTO t_made (user_id, nick) VALUES (1, 'x')")
    with pytest.raises(Conflict, match="already exists"):
        create_on_target(spec.target, t.conn_id, statements)
    assert t.rows("SELECT user_id, nick FROM t_made") == [(1, "x")]


def test_a_refusal_of_the_database_leaves_nothing_half_made(live_target: LiveTarget) -> None:
    """A later statement fails: the table made by the first is gone (rolled back or dropped)."""
    t = live_target
    spec = make_spec(t.kind, t.conn_id, table="t_half")
    d = get_dialect(t.kind)
    create = f"CREATE TABLE {d.quote('t_half')} (a int)"
    with pytest.raises(ValidationFailed, match="the database refused it"):
        create_on_target(spec.target, t.conn_id, [create, "CREATE TABLE no_such_schema.x (a int)"])
    assert "t_half" not in t.tables()


def test_the_connection_runs_one_statement_per_call(live_target: LiveTarget) -> None:
    """Below the parser: psycopg's extended protocol, mysqlclient's server option, DuckDB's own
    statement count and sqlite3 each refuse a string holding two statements."""
    t = live_target
    where = resolve_connection(t.conn_id)
    conn, kind = where.open(), where.kind
    target = make_target(make_spec(t.kind, t.conn_id).target, conn, kind)
    try:
        target.prepare_for_ddl()
        with pytest.raises(Exception):  # noqa: B017 - each driver raises its own error type
            target.execute_one("CREATE TABLE two_a (a int); CREATE TABLE two_b (a int)")
    finally:
        target.close()
    assert t.tables() == []


def test_duckdb_ddl_connection_reads_and_writes_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

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
