"""Shared fixtures: live PostgreSQL and MariaDB databases made per test module, an AIRFLOW_HOME, the
DuckDB warehouse of tests/run_data.py and the live target and warehouse of a family.

Servers default to the local ones (PostgreSQL 127.0.0.1:5432 trust auth, MariaDB 127.0.0.1:3306
root); override with the variables tests/live.py reads (README). Every database a test makes is
dropped afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import live
from tests.mail_sink import Sink, running_sink
from tests.run_data import LiveTarget, fill_warehouse, filled_warehouse, open_target


def pytest_configure(config: pytest.Config) -> None:
    """Each test session gets its own AIRFLOW_HOME so nothing leaks into ~/airflow — set before the test
    modules are collected: Airflow reads AIRFLOW_HOME once, when a module first imports it."""
    if os.environ.get("TAGOFFLINE_KEEP_AIRFLOW_HOME"):
        return
    home = Path(tempfile.mkdtemp(prefix="tagoffline-airflow-home-"))
    config.stash[_HOME_KEY] = home
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_HOME_KEY, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


_HOME_KEY = pytest.StashKey[Path]()


@pytest.fixture(scope="session", autouse=True)
def _airflow_home() -> Path:
    """The session's AIRFLOW_HOME (``pytest_configure``)."""
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture(scope="session")
def airflow_db(_airflow_home: Path) -> None:
    """Airflow's metadata database (SQLite in the session's AIRFLOW_HOME), migrated once."""
    subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], check=True,
                   capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def spark_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Spark SQL warehouse: the Spark Thrift Server of PyPI's pyspark, started once per session."""
    from spark_server import java_missing, start_server

    why = java_missing()
    if why:
        pytest.skip(why)
    server = start_server(tmp_path_factory.mktemp("spark"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database; yields its name."""
    with live.pg_database() as name:
        yield name


@pytest.fixture(scope="module")
def pg_url(pg_database: str) -> str:
    """SQLAlchemy URL (psycopg 3) of a fresh PostgreSQL database."""
    return live.pg_url(pg_database, driver="psycopg")


@pytest.fixture(scope="module")
def mysql_database() -> Iterator[str]:
    """A fresh MariaDB/MySQL database; yields its name."""
    with live.mysql_database() as name:
        yield name


@pytest.fixture(scope="module")
def mysql_url(mysql_database: str) -> str:
    """SQLAlchemy URL (PyMySQL) of a fresh MariaDB/MySQL database."""
    return live.mysql_url(mysql_database)


# ---- runs: the warehouse of tests/run_data.py, a live target and a live warehouse of a family ------------------
@pytest.fixture(scope="session")
def duckdb_warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    import duckdb

    path = str(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb")
    con = duckdb.connect(path)
    fill_warehouse(con, "duckdb")
    con.close()
    return path


@pytest.fixture
def warehouse_env(duckdb_warehouse: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The session's DuckDB warehouse registered as connection ``tot_warehouse`` (run_data's specs name
    it). Not autouse here: the API's introspection lists every AIRFLOW_CONN_*; the directories of run
    tests use it in their conftest, a module elsewhere with ``pytest.mark.usefixtures``."""
    monkeypatch.setenv("AIRFLOW_CONN_TOT_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": duckdb_warehouse}))


def _family(request: pytest.FixtureRequest, fixture: str) -> str:
    """The family a live fixture is for: the test's indirect parameter, else the ``family`` of the
    conformance class the test inherits (tests/conformance/)."""
    family = getattr(request, "param", None) or getattr(request.cls, "family", None)
    if not family:
        raise LookupError(f"{fixture} needs a family: parametrize it indirectly with family names, or inherit a "
                          "suite of tests/conformance/ in a class naming its family")
    return str(family)


@pytest.fixture
def live_target(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LiveTarget:
    """An empty target database of the test's family (``_family``), registered as ``tot_target``."""
    target = open_target(_family(request, "live_target"), request, tmp_path)
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", target.conn_json)
    return target


@pytest.fixture
def pg_target_db() -> Iterator[str]:
    with live.pg_database() as name:
        yield name


@pytest.fixture
def mysql_target_db() -> Iterator[str]:
    with live.mysql_database() as name:
        yield name


@pytest.fixture
def warehouse_conn(request: pytest.FixtureRequest, duckdb_warehouse: str, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A filled warehouse of the test's family (``_family``), registered as connection ``tot_wh``; yields
    the family."""
    family = _family(request, "warehouse_conn")
    with filled_warehouse(family, duckdb_warehouse, tmp_path) as conn_json:
        monkeypatch.setenv("AIRFLOW_CONN_TOT_WH", conn_json)
        yield family


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    """A local SMTP server keeping every mail (tests/mail_sink.py); yields its sink and port."""
    with running_sink() as sink:
        yield sink
