"""Where the live test servers are, and plain connections to them (importable from any test)."""

from __future__ import annotations

import json
import os

PG_ADMIN_URL = os.environ.get("TAGOFFLINE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_HOST = os.environ.get("TAGOFFLINE_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("TAGOFFLINE_TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("TAGOFFLINE_TEST_MYSQL_USER", "root")
MYSQL_PASSWORD = os.environ.get("TAGOFFLINE_TEST_MYSQL_PASSWORD", "")


def _pg_connect(dbname: str = "postgres"):
    import psycopg

    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return psycopg.connect(f"{base}/{dbname}", autocommit=True)


def pg_conn_json(dbname: str) -> str:
    """An Airflow connection (AIRFLOW_CONN_* JSON) to database ``dbname`` of the test PostgreSQL server."""
    login, host = PG_ADMIN_URL.rsplit("/", 1)[0].split("//", 1)[1].split("@", 1)
    h, _, port = host.partition(":")
    return json.dumps({"conn_type": "postgres", "host": h, "port": int(port or 5432), "login": login, "schema": dbname})


def _mysql_connect(db: str | None = None):
    import pymysql

    return pymysql.connect(
        host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, password=MYSQL_PASSWORD,
        database=db, autocommit=True, charset="utf8mb4", local_infile=True,
    )
