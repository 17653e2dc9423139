"""Airflow connections: the one place that reads them.

Connections are resolved through Airflow (metadata DB, ``AIRFLOW_CONN_*`` variables or a
secrets backend), so a service and a rendered DAG only ever carry the connection id.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_tagoffline.dialects import kind_for_connection
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
