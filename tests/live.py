"""The live servers the tests and the benches use, and everything either needs of them: URLs, plain
connections, Airflow connections (``AIRFLOW_CONN_*`` JSON), throwaway databases and a free port.

One set of environment variables for both (README): ``TAGOFFLINE_TEST_PG_URL``, an admin URL of the
PostgreSQL server (default ``postgresql://postgres@127.0.0.1:5432/postgres``, trust auth), and
``TAGOFFLINE_TEST_MYSQL_HOST``/``_PORT``/``_USER``/``_PASSWORD`` for MariaDB/MySQL (default
127.0.0.1:3306, root, no password). Tests import it as ``tests.live`` (pytest puts the checkout on
``sys.path``), the benches too (they run as ``python -m bench.<script>`` from the checkout).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

PG_ADMIN_URL = os.environ.get("TAGOFFLINE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_HOST = os.environ.get("TAGOFFLINE_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("TAGOFFLINE_TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("TAGOFFLINE_TEST_MYSQL_USER", "root")
MYSQL_PASSWORD = os.environ.get("TAGOFFLINE_TEST_MYSQL_PASSWORD", "")

_PG = urlsplit(PG_ADMIN_URL)
#: the server part of the admin URL (``postgresql://user@host:port``), with no database
_PG_SERVER = PG_ADMIN_URL.rsplit("/", 1)[0]


def unique(prefix: str = "tot") -> str:
    """A database (or other) name no concurrent test session picks too."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- PostgreSQL -----------------------------------------------------------------------------------

def pg_url(dbname: str = "postgres", driver: str | None = None) -> str:
    """URL of database ``dbname`` on the test server: libpq's form, or SQLAlchemy's with ``driver``
    (``psycopg`` for the catalog store, ``psycopg2`` for Airflow's metadata database)."""
    base = _PG_SERVER if driver is None else _PG_SERVER.replace("postgresql://", f"postgresql+{driver}://", 1)
    return f"{base}/{dbname}"


def pg_connect(dbname: str = "postgres", autocommit: bool = True, **kwargs: Any) -> Any:
    """A psycopg 3 connection to ``dbname`` (autocommit unless told otherwise)."""
    import psycopg

    return psycopg.connect(pg_url(dbname), autocommit=autocommit, **kwargs)


def pg_conn_json(dbname: str, **fields: Any) -> str:
    """An Airflow connection to database ``dbname`` of the test server; ``fields`` replace or add
    connection fields (``password``, ``extra``, ``host``...)."""
    conn: dict[str, Any] = {"conn_type": "postgres", "host": _PG.hostname, "port": _PG.port or 5432,
                            "login": _PG.username, "schema": dbname}
    if _PG.password:
        conn["password"] = _PG.password
    return json.dumps({**conn, **fields})


@contextmanager
def pg_database(prefix: str = "tot") -> Iterator[str]:
    """A fresh PostgreSQL database, dropped (its sessions ended) on the way out; yields its name."""
    name = unique(prefix)
    with pg_connect() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with pg_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- MariaDB / MySQL ------------------------------------------------------------------------------

def mysql_url(dbname: str) -> str:
    """SQLAlchemy URL (PyMySQL) of database ``dbname`` on the test server."""
    auth = MYSQL_USER + (f":{MYSQL_PASSWORD}" if MYSQL_PASSWORD else "")
    return f"mysql+pymysql://{auth}@{MYSQL_HOST}:{MYSQL_PORT}/{dbname}?charset=utf8mb4"


def mysql_connect(db: str | None = None) -> Any:
    """A PyMySQL connection (autocommit, utf8mb4, LOAD DATA LOCAL allowed), to ``db`` if given."""
    import pymysql

    return pymysql.connect(
        host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, password=MYSQL_PASSWORD,
        database=db, autocommit=True, charset="utf8mb4", local_infile=True,
    )


def mysql_conn_json(dbname: str, **fields: Any) -> str:
    """An Airflow connection to database ``dbname`` of the test server; ``fields`` replace or add fields."""
    conn = {"conn_type": "mysql", "host": MYSQL_HOST, "port": MYSQL_PORT, "login": MYSQL_USER,
            "password": MYSQL_PASSWORD, "schema": dbname, "extra": {"charset": "utf8mb4"}}
    return json.dumps({**conn, **fields})


def _mysql_admin(sql: str) -> None:
    conn = mysql_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@contextmanager
def mysql_database(prefix: str = "tot", collation: str | None = "utf8mb4_bin") -> Iterator[str]:
    """A fresh utf8mb4 database (binary collation unless told otherwise: ``None`` is the server's
    default), dropped on the way out; yields its name."""
    name = unique(prefix)
    _mysql_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4" + (f" COLLATE {collation}" if collation else ""))
    try:
        yield name
    finally:
        _mysql_admin(f"DROP DATABASE IF EXISTS `{name}`")
