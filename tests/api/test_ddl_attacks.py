"""One-click create table as an attacker with an ordinary account (a member of an application) would
try it, through the plugin inside Airflow's API server, on live PostgreSQL, MariaDB and the DuckDB
warehouse: the security issue's quote trick, CREATE TABLE ... AS SELECT, COPY TO a file the
dag-processor would run, file-reading functions, a second statement.

Each edit is refused with 422 naming the statement and the construct; the victim table keeps its
row; no file appears; no secret of the API server's environment comes back in a message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from api_data import PG_TARGET_PASSWORD

pytestmark = pytest.mark.airflow


@contextmanager
def _db(api_server: Any, conn_id: str) -> Iterator[Callable[[str], list[tuple[Any, ...]]]]:
    """``sql -> rows`` on the database behind ``conn_id``, opened behind the API server's back."""
    if conn_id == "crm_pg":
        from tests.live import pg_connect

        with pg_connect(api_server.pg_dbs["target"]) as conn:
            yield lambda sql: (lambda c: c.fetchall() if c.description else [])(conn.execute(sql))
    elif conn_id == "crm_mysql":
        from tests.live import mysql_connect, pg_connect

        conn = mysql_connect(api_server.mysql_db)
        try:
            def run(sql: str) -> list[tuple[Any, ...]]:
                with conn.cursor() as cur:
                    cur.execute(sql)
                    return list(cur.fetchall())
            yield run
        finally:
            conn.close()
    else:
        import duckdb

        conn = duckdb.connect(str(api_server.home / "warehouse.duckdb"))
        try:
            yield lambda sql: conn.execute(sql).fetchall()
        finally:
            conn.close()


def _attacks(conn_id: str, dags: str) -> list[tuple[str, str]]:
    """(edited statement, the construct the refusal must name)."""
    common = [
        ("CREATE TABLE t_evil (a int); DROP TABLE victim", "DROP TABLE is not allowed"),
        ("CREATE TABLE t_evil AS SELECT * FROM victim", "CREATE TABLE ... AS SELECT is not allowed"),
        ("CREATE TABLE t_evil (a int); INSERT INTO victim VALUES (2)", "INSERT is not allowed"),
    ]
    return common + {
        "crm_pg": [
            ("CREATE TABLE t_evil (a text DEFAULT '\\'); DROP TABLE victim; --')", "DROP TABLE is not allowed"),
            (f"CREATE TABLE t_evil (a int); COPY (SELECT 'import os') TO '{dags}/evil.py'", "COPY is not allowed"),
            ("CREATE TABLE t_evil AS SELECT pg_read_file('/proc/self/environ') AS a",
             "CREATE TABLE ... AS SELECT is not allowed"),
        ],
        "crm_mysql": [
            ("CREATE TABLE t_evil (a int COMMENT 'x\\\\'); DROP TABLE victim; -- ')", "DROP TABLE is not allowed"),
            ("CREATE TABLE t_evil (a text DEFAULT (LOAD_FILE('/proc/self/environ')))", "DEFAULT is not allowed"),
            (f"CREATE TABLE t_evil (a int) ENGINE=CONNECT table_type=CSV file_name='{dags}/evil.py'",
             "ENGINE=CONNECT is not allowed"),
        ],
        "tag_warehouse": [
            ("CREATE TABLE t_evil (a VARCHAR DEFAULT '\\'); DROP TABLE victim; --')", "DROP TABLE is not allowed"),
            ("CREATE TABLE t_evil AS SELECT * FROM read_text('/proc/self/environ')",
             "CREATE TABLE ... AS SELECT is not allowed"),
            ("CREATE TABLE t_evil (a VARCHAR DEFAULT '\\'); COPY (SELECT 'import os') TO "
             f"'{dags}/evil.py'; --')", "COPY is not allowed"),
            (f"COPY (SELECT 'import os') TO '{dags}/evil.py'", "COPY is not allowed"),
        ],
    }[conn_id]


@pytest.mark.parametrize("conn_id", ["crm_pg", "crm_mysql", "tag_warehouse"])
def test_edited_ddl_never_runs_user_sql(conn_id: str, api_server: Any, alice: Any, bob: Any,
                                        service_body: Any) -> None:
    with _db(api_server, conn_id) as run:
        run("CREATE TABLE victim (a int)")
        run("INSERT INTO victim VALUES (1)")
    dags = api_server.home / "dags"
    draft = service_body(f"svc_evil_{conn_id}", owner="bob", conn_id=conn_id)
    draft["target"]["table"] = "t_evil"
    try:
        for sql, named in _attacks(conn_id, str(dags)):
            r = bob.post("/helpers/ddl/execute", json={"service": draft, "statements": [sql]})
            assert r.status_code == 422, (sql, r.text)
            messages = [d["message"] for d in r.json()["detail"]]
            assert any(named in m for m in messages), (sql, messages)
            assert all(d["field"].startswith("statements[0]") for d in r.json()["detail"])
            assert PG_TARGET_PASSWORD not in r.text and "AIRFLOW_CONN" not in r.text
        # the same through a saved service
        assert bob.post("/services", json=draft).status_code == 201
        sql, named = _attacks(conn_id, str(dags))[0]
        r = bob.post(f"/services/{draft['name']}/ddl", json={"statements": [sql]})
        assert r.status_code == 422 and named in r.text, r.text
    finally:
        bob.delete(f"/services/{draft['name']}")
        with _db(api_server, conn_id) as run:
            assert run("SELECT a FROM victim") == [(1,)]
            tables = {r[0] for r in run({
                "crm_pg": "SELECT tablename FROM pg_tables WHERE tablename = 't_evil'",
                "crm_mysql": "SELECT table_name FROM information_schema.tables WHERE table_name = 't_evil' "
                             "AND table_schema = DATABASE()",
                "tag_warehouse": "SELECT table_name FROM duckdb_tables() WHERE table_name = 't_evil'"}[conn_id])}
            run("DROP TABLE victim")
    assert tables == set()
    assert sorted(p.name for p in dags.rglob("evil*")) == []


def test_a_database_refusal_is_one_redacted_line(api_server: Any, alice: Any, service_body: Any) -> None:
    """What the database says about an accepted edit: its first line, quoted values redacted."""
    with _db(api_server, "crm_pg") as run:
        run("CREATE TABLE taken_name (a int)")
    draft = service_body("svc_refused_ddl", conn_id="crm_pg")
    draft["target"]["table"] = "t_refused"
    edit = "CREATE TABLE t_refused (user_id bigint, CONSTRAINT taken_name PRIMARY KEY (user_id))"
    r = alice.post("/helpers/ddl/execute", json={"service": draft, "statements": [edit]})
    assert r.status_code == 422, r.text
    (detail,) = r.json()["detail"]
    assert detail == {"field": "statements",
                      "message": 'the database refused it: relation "taken_name" already exists'}
    with _db(api_server, "crm_pg") as run:
        assert run("SELECT tablename FROM pg_tables WHERE tablename = 't_refused'") == []
        run("DROP TABLE taken_name")
