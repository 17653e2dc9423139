"""A connection read from its AIRFLOW_CONN_* variable without Airflow (env_connections.py) is the one Airflow
reads: every field compared with Airflow's own answer for the same variable, on the JSON and URI forms; what
this module is not sure of goes to Airflow; a DuckDB file opened without the hook is opened as the hook opens
it (every DuckDB setting compared)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from airflow.sdk import BaseHook

from airflow_provider_tagoffline import env_connections
from airflow_provider_tagoffline.dialects.duckdb.connect import open_connection, opens_without_airflow
from airflow_provider_tagoffline.env_connections import EnvConnection
from tests.live import pg_conn_json

FIELDS = ("conn_id", "conn_type", "description", "host", "schema", "login", "password", "port", "extra")

READ_AS_AIRFLOW_READS = [
    # JSON: what `tagoffline demo` sets, and each field's conversions
    json.dumps({"conn_type": "duckdb", "host": "/tmp/warehouse.duckdb"}),
    json.dumps({"conn_type": "sqlite", "host": "/tmp/target.db"}),
    json.dumps({"conn_type": "postgresql", "host": "db", "login": "u", "password": "p@ss:/w", "schema": "tags",
                "port": "5432", "extra": {"sslmode": "require", "flavor": "greenplum"}}),
    json.dumps({"conn_type": "mysql", "host": "db", "port": 3306, "extra": '{"charset": "utf8mb4"}',
                "description": "the CRM"}),
    json.dumps({"conn_type": "google-cloud-platform", "port": 0, "extra": {}}),
    '  {"conn_type": "mysql", "host": "db"}  ',
    # URIs: quoting, ports, query extras, __extra__, a host with a protocol, a file path as host
    "postgres://user:p%40ss%3Aw@db.example.com:5432/tags",
    "postgresql://user@db/tags?sslmode=require&options=-c%20search_path%3Dx",
    "mysql://root@127.0.0.1:3306/crm?__extra__=%7B%22flavor%22%3A+%22mariadb%22%7D",
    "mysql://root@127.0.0.1:3306/crm?charset=utf8mb4&empty=",
    "duckdb://%2Ftmp%2Fwarehouse.duckdb",
    "sqlite://%2Ftmp%2Ftarget.db",
    "spark://http://master.example.com:7077",
    "hive-cli://hive@hive.example.com:10000/default",
    "oracle://sys:secret@ora:1521/ORCLPDB1?service_name=ORCLPDB1",
    "postgres://db",
    "postgres://:5432",
]


@pytest.mark.parametrize("value", READ_AS_AIRFLOW_READS)
def test_a_variable_reads_as_airflow_reads_it(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TOT_PROBE", value)
    ours = env_connections.lookup("tot_probe")
    assert ours is not None, value
    airflows = BaseHook.get_connection("tot_probe")
    assert {f: getattr(ours, f) for f in FIELDS} == {f: getattr(airflows, f) for f in FIELDS}
    assert ours.extra_dejson == airflows.extra_dejson


@pytest.mark.parametrize("value", [
    json.dumps({"conn_type": "mysql", "uri": "mysql://db"}),  # a field Airflow treats its own way
    json.dumps({"conn_type": "mysql", "port": "not a port"}),  # Airflow raises its own error
    json.dumps({"conn_type": "mysql", "extra": "not json"}),  # Airflow logs an error and reads {}
    json.dumps({"conn_type": "mysql", "extra": "[1, 2]"}),
    "mysql://db:99999/crm",  # port out of range
    "a://b://c://d",
    "spark://spark://master.example.com:7077",  # Airflow: "Invalid connection string"
    "",
    "   ",
])
def test_what_airflow_reads_its_own_way_goes_to_airflow(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TOT_PROBE", value)
    assert env_connections.lookup("tot_probe") is None


def test_no_variable_a_team_id_or_a_secrets_backend_go_to_airflow(monkeypatch: pytest.MonkeyPatch) -> None:
    value = json.dumps({"conn_type": "sqlite", "host": "/tmp/t.db"})
    assert env_connections.lookup("tot_not_set_anywhere") is None
    monkeypatch.setenv("AIRFLOW_CONN_TEAM_A___DB", value)
    assert env_connections.lookup("team_a___db") is None
    monkeypatch.setenv("AIRFLOW_CONN_TOT_PROBE", value)
    assert env_connections.lookup("tot_probe") == EnvConnection("tot_probe", "sqlite", host="/tmp/t.db")
    for variable in ("AIRFLOW__SECRETS__BACKEND", "AIRFLOW__WORKERS__SECRETS_BACKEND"):
        with monkeypatch.context() as m:
            m.setenv(variable, "airflow.secrets.local_filesystem.LocalFilesystemBackend")
            assert env_connections.lookup("tot_probe") is None, variable


def _settings(conn: duckdb.DuckDBPyConnection) -> dict[str, object]:
    return dict(conn.execute("SELECT name, value FROM duckdb_settings()").fetchall())


@pytest.mark.parametrize("read_only", [True, False])
def test_a_duckdb_file_opens_without_airflow_as_the_hook_opens_it(tmp_path: Path, read_only: bool,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    monkeypatch.setenv("AIRFLOW_CONN_TOT_DUCK", json.dumps({"conn_type": "duckdb", "host": str(path)}))
    plain = env_connections.lookup("tot_duck")
    assert plain is not None and opens_without_airflow(plain)
    direct = open_connection("tot_duck", plain, "duckdb", read_only)
    try:
        ours = _settings(direct)
    finally:
        direct.close()
    hooked = open_connection("tot_duck", BaseHook.get_connection("tot_duck"), "duckdb", read_only)
    try:
        theirs = _settings(hooked)
    finally:
        hooked.close()
    assert ours["access_mode"] == ("read_only" if read_only else "automatic")
    assert ours == theirs


def test_only_a_plain_file_read_without_airflow_opens_without_the_hook() -> None:
    file = EnvConnection("w", "duckdb", host="/tmp/w.duckdb")
    assert opens_without_airflow(file)
    assert opens_without_airflow(EnvConnection("w", "duckdb", host="/tmp/w.duckdb", extra="{}"))
    for other in (EnvConnection("w", "duckdb"),  # in memory
                  EnvConnection("w", "duckdb", host="/tmp/w.duckdb", password="motherduck token"),
                  EnvConnection("w", "duckdb", host="/tmp/w.duckdb", extra='{"memory_limit": "1GB"}'),
                  EnvConnection("w", "duckdb", host="/tmp/w.duckdb", extra='{"extensions": ["httpfs"]}')):
        assert not opens_without_airflow(other), other
    from airflow.sdk import Connection

    assert not opens_without_airflow(Connection(conn_id="w", conn_type="duckdb", host="/tmp/w.duckdb"))


def test_a_postgres_connection_opens_without_airflow_as_the_hook_opens_it(pg_database: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from psycopg.types.json import Json

    from airflow_provider_tagoffline.dialects.postgres import connect as pg_connect

    monkeypatch.setenv("AIRFLOW_CONN_TOT_PG", pg_conn_json(pg_database, extra={"flavor": "postgres"}))
    plain = env_connections.lookup("tot_pg")
    assert plain is not None and pg_connect.opens_without_airflow(plain)

    def looks(conn: object) -> dict[str, object]:
        c: Any = conn
        with c.cursor() as cur:
            cur.execute("SELECT %s::json, %s::jsonb, '{\"b\": [1]}'::jsonb, current_database(), current_user",
                        (Json({"a": 1}), Json({"c": "d"})))
            row = cur.fetchone()
        return {"class": type(c), "parameters": c.info.get_parameters(), "autocommit": c.autocommit,
                "row_factory": c.row_factory, "cursor_factory": c.cursor_factory,
                "prepare_threshold": c.prepare_threshold, "notice_handlers": len(c._notice_handlers),
                "json_dumper": c.adapters.get_dumper(Json, "t"), "row": row}

    direct = pg_connect.open_connection("tot_pg", plain, "postgres", False)
    hooked = pg_connect.open_connection("tot_pg", BaseHook.get_connection("tot_pg"), "postgres", False)
    try:
        ours, theirs = looks(direct), looks(hooked)
    finally:
        direct.close()
        hooked.close()
    login = json.loads(pg_conn_json(pg_database))["login"]
    assert ours["row"] == ({"a": 1}, {"c": "d"}, {"b": [1]}, pg_database, login)
    assert ours == theirs


def test_only_a_postgres_connection_without_options_opens_without_the_hook() -> None:
    from airflow_provider_tagoffline.dialects.postgres.connect import opens_without_airflow as pg_plain

    assert pg_plain(EnvConnection("p", "postgres", host="db", extra='{"flavor": "greenplum"}'))
    assert pg_plain(EnvConnection("p", "postgres", host="db"))
    for other in ('{"sslmode": "require"}', '{"cursor": "dictcursor"}', '{"iam": true}'):
        assert not pg_plain(EnvConnection("p", "postgres", host="db", extra=other)), other
    from airflow.sdk import Connection

    assert not pg_plain(Connection(conn_id="p", conn_type="postgres", host="db"))
