"""Airflow connections: the one place that reads them.

Connections are resolved through Airflow (metadata DB, ``AIRFLOW_CONN_*`` variables or a
secrets backend), so a service and a rendered DAG only ever carry the connection id.
"""

from __future__ import annotations

import os
from typing import Any

from airflow_provider_tagoffline.dialects import Dialect, kind_for_connection
from airflow_provider_tagoffline.errors import ValidationFailed


def get_connection(conn_id: str, field: str = "conn_id") -> Any:
    """The Airflow ``Connection`` for ``conn_id``; a ValidationFailed naming ``field`` if unknown."""
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException, or a secrets backend error
        if "isn't defined" in str(exc) or type(exc).__name__ == "AirflowNotFoundException":
            raise ValidationFailed.one(field, f"Airflow connection {conn_id!r} does not exist") from None
        raise


def get_hook(conn_id: str) -> Any:
    """The DB-API hook of a connection (PostgresHook, MySqlHook, DuckDBHook, ...)."""
    return get_connection(conn_id).get_hook()


def target_kind(conn_id: str, warehouse_conn_id: str | None = None, field: str = "target.conn_id") -> str:
    """Target kind of a connection (spec §2); ``warehouse`` when it is the warehouse itself."""
    if warehouse_conn_id is not None and conn_id == warehouse_conn_id:
        return "warehouse"
    conn = get_connection(conn_id, field)
    try:
        return kind_for_connection(conn.conn_type, conn.extra_dejson)
    except ValueError as exc:
        raise ValidationFailed.one(field, f"connection {conn_id!r}: {exc}") from None


def warehouse_kind(conn_id: str) -> str:
    """Dialect kind of the warehouse connection (duckdb, postgres, mysql, ...)."""
    conn = get_connection(conn_id, "warehouse_conn_id")
    ct = (conn.conn_type or "").lower()
    return {"postgresql": "postgres"}.get(ct, ct)


#: host names that all mean "this machine" (an empty PostgreSQL host is its local socket)
_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "localhost.localdomain"}


def database_identity(conn: Any, dialect: Dialect) -> tuple[str, ...]:
    """Which physical database a connection points at, so two connection ids of one database are
    recognised: the family with host, port and database, or the file of SQLite and DuckDB.

    Host names are compared as written (lower-cased; the names of this machine as one): two DNS
    names of one server are not recognised.
    """
    family = dialect.family
    if family in ("sqlite", "duckdb"):
        path = (conn.host or (conn.schema if family == "sqlite" else "") or "").strip()
        if not path or path == ":memory:" or path.startswith("md:"):
            return (family, "conn", str(conn.conn_id))  # in memory, or MotherDuck: only its own id
        return (family, "file", os.path.realpath(os.path.expanduser(path)))
    host = (conn.host or "").strip().lower().rstrip(".")
    host = "localhost" if host in _LOCAL_HOSTS else host
    port = str(conn.port or dialect.default_port or "")
    extra = conn.extra_dejson or {}
    if family == "oracle":
        database = str(extra.get("dsn") or extra.get("service_name") or extra.get("sid") or conn.schema or "")
        database = database.lower()
    elif family == "postgres":
        database = conn.schema or conn.login or ""  # libpq connects to the user's database by default
    elif family == "mysql":
        database = (conn.schema or "").lower()
    else:
        database = conn.schema or ""
    return (family, host, port, database)
