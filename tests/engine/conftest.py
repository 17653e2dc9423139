"""Engine fixtures: the DuckDB warehouse of engine_data.py and a live target of each kind."""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbs import (
    MYSQL_HOST,
    MYSQL_PASSWORD,
    MYSQL_PORT,
    MYSQL_USER,
    _mysql_connect,
    _pg_connect,
    pg_conn_json,
)
from engine_data import LiveTarget, _mysql_target, _postgres_target, fill_warehouse


@pytest.fixture(scope="session")
def duckdb_warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    import duckdb

    path = str(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb")
    con = duckdb.connect(path)
    fill_warehouse(con, "duckdb")
    con.close()
    return path


@pytest.fixture(autouse=True)
def _warehouse_env(duckdb_warehouse: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TOT_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": duckdb_warehouse}))


@pytest.fixture(params=["postgres", "mysql", "sqlite", "duckdb"])
def live_target(request: pytest.FixtureRequest, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveTarget]:
    """An empty target database of each kind, its connection registered as ``tot_target``."""
    kind = request.param
    if kind == "postgres":
        db = request.getfixturevalue("pg_target_db")
        target = _postgres_target(db)
    elif kind == "mysql":
        db = request.getfixturevalue("mysql_target_db")
        target = _mysql_target(db)
    elif kind == "sqlite":
        path = str(tmp_path / "target.db")
        conn_json = json.dumps({"conn_type": "sqlite", "host": path})
        target = LiveTarget("sqlite", "tot_target", conn_json, lambda: sqlite3.connect(path))
    else:
        import duckdb

        path = str(tmp_path / "target.duckdb")
        conn_json = json.dumps({"conn_type": "duckdb", "host": path})
        target = LiveTarget("duckdb", "tot_target", conn_json, lambda: duckdb.connect(path))
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", target.conn_json)
    yield target


@pytest.fixture
def pg_target_db() -> Iterator[str]:
    name = f"tot_{uuid.uuid4().hex[:10]}"
    with _pg_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with _pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def mysql_target_db() -> Iterator[str]:
    name = f"tot_{uuid.uuid4().hex[:10]}"
    conn = _mysql_connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    conn.close()
    yield name
    conn = _mysql_connect()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


@pytest.fixture(params=["duckdb", "postgres", "mysql", "sqlite"])
def warehouse_conn(request: pytest.FixtureRequest, duckdb_warehouse: str, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A filled warehouse of each kind, registered as connection ``tot_wh``; yields its kind."""
    kind = request.param
    name = f"tot_{uuid.uuid4().hex[:10]}"
    if kind == "duckdb":
        path = tmp_path / "wh.duckdb"
        shutil.copy(duckdb_warehouse, path)
        monkeypatch.setenv("AIRFLOW_CONN_TOT_WH", json.dumps({"conn_type": "duckdb", "host": str(path)}))
        yield kind
        return
    if kind == "sqlite":
        path = tmp_path / "wh.sqlite"
        with sqlite3.connect(path) as db:
            fill_warehouse(db, "sqlite")
        db.close()
        monkeypatch.setenv("AIRFLOW_CONN_TOT_WH", json.dumps({"conn_type": "sqlite", "host": str(path)}))
        yield kind
        return
    if kind == "postgres":
        with _pg_connect() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        with _pg_connect(name) as conn:
            fill_warehouse(conn, "postgres")
        monkeypatch.setenv("AIRFLOW_CONN_TOT_WH", pg_conn_json(name))
        yield kind
        with _pg_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    admin = _mysql_connect()
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    admin.close()
    conn = _mysql_connect(name)
    fill_warehouse(conn, "mysql")
    conn.close()
    monkeypatch.setenv("AIRFLOW_CONN_TOT_WH", json.dumps(
        {"conn_type": "mysql", "host": MYSQL_HOST, "port": MYSQL_PORT, "login": MYSQL_USER,
         "password": MYSQL_PASSWORD, "schema": name, "extra": {"charset": "utf8mb4"}}))
    yield kind
    admin = _mysql_connect()
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    admin.close()
