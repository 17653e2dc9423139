"""Shared fixtures: live PostgreSQL and MariaDB databases made per test module, an AIRFLOW_HOME.

Servers default to the local ones (PostgreSQL 127.0.0.1:5432 trust auth, MariaDB 127.0.0.1:3306
root); override with the variables tests/live.py reads (README). Every database a test makes is
dropped afterwards.
"""

from __future__ import annotations

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
