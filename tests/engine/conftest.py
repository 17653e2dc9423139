"""Engine fixtures: the DuckDB warehouse of engine_data.py and a live target of each kind."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_data import LiveTarget, _mysql_target, _postgres_target, fill_warehouse

from tests.live import mysql_conn_json, mysql_connect, mysql_database, pg_conn_json, pg_connect, pg_database


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
    with pg_database() as name:
        yield name


@pytest.fixture
def mysql_target_db() -> Iterator[str]:
    with mysql_database() as name:
        yield name


@pytest.fixture(params=["duckdb", "postgres", "mysql", "sqlite"])
def warehouse_conn(request: pytest.FixtureRequest, duckdb_warehouse: str, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A filled warehouse of each kind, registered as connection ``tot_wh``; yields its kind."""
    kind = request.param
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
        with pg_database() as name:
            with pg_connect(name) as conn:
                fill_warehouse(conn, "postgres")
            monkeypatch.setenv("AIRFLOW_CONN_TOT_WH", pg_conn_json(name))
            yield kind
        return
    with mysql_database() as name:
        conn = mysql_connect(name)
        fill_warehouse(conn, "mysql")
        conn.close()
        monkeypatch.setenv("AIRFLOW_CONN_TOT_WH", mysql_conn_json(name))
        yield kind
