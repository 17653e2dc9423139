"""Opening any other warehouse: the DB-API connection of the connection's own Airflow hook."""

from __future__ import annotations

from typing import Any

from airflow_provider_tagoffline.errors import RunFailed, first_line


def sql_hook(conn_id: str, conn: Any) -> Any:
    """The Airflow hook of ``conn``, when it is a DB-API (SQL) hook; a clear RunFailed otherwise."""
    try:
        hook = conn.get_hook()
    except Exception as exc:
        first = first_line(exc)
        raise RunFailed(f"warehouse connection {conn_id!r} ({conn.conn_type}) has no Airflow hook here "
                        f"(is its provider installed?): {first}") from None
    if not callable(getattr(hook, "get_conn", None)) or not hasattr(hook, "escape_word_format"):
        raise RunFailed(f"warehouse connection {conn_id!r} ({conn.conn_type}): {type(hook).__name__} is not "
                        "a DB-API (SQL) hook")
    return hook


def open_connection(conn_id: str, conn: Any, kind: str, read_only: bool) -> Any:
    return sql_hook(conn_id, conn).get_conn()
