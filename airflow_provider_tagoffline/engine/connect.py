"""DB-API connections for the engine, opened through Airflow's hooks (the one place that does).

Each run opens its own connections and closes them; nothing is pooled across runs. Secrets stay in
Airflow's connection store: only the connection id travels in the run spec.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from airflow_provider_tagoffline.connections import get_connection, warehouse_kind
from airflow_provider_tagoffline.dialects import kind_for_connection
from airflow_provider_tagoffline.errors import RunFailed, first_line


def connection_kind(conn_id: str) -> str:
    """The dialect kind of a connection (postgres, greenplum, mysql, oracle, sqlite, duckdb, ...)."""
    conn = get_connection(conn_id)
    return kind_for_connection(conn.conn_type, conn.extra_dejson)


def open_dbapi(conn_id: str, *, read_only: bool = False) -> tuple[Any, str]:
    """``(DB-API connection, dialect kind)`` for ``conn_id``, in autocommit mode."""
    conn = get_connection(conn_id)
    kind = kind_for_connection(conn.conn_type, conn.extra_dejson)
    try:
        return _open(conn_id, conn, kind, read_only), kind
    except RunFailed:
        raise
    except Exception as exc:
        first = first_line(exc)
        raise RunFailed(f"cannot connect to {conn_id!r} ({kind}): {first}") from None


def _open(conn_id: str, conn: Any, kind: str, read_only: bool) -> Any:
    if kind == "sqlite":
        path = conn.host or conn.schema
        if not path:
            raise RunFailed(f"SQLite connection {conn_id!r} has no file path in its host field")
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, DDL included.
        return sqlite3.connect(path, isolation_level=None, timeout=60)
    if kind == "duckdb":
        from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

        return DuckDBHook(duckdb_conn_id=conn_id, read_only=read_only).get_conn()
    if kind in ("postgres", "greenplum", "adb_pg", "opengauss"):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        hook = PostgresHook(postgres_conn_id=conn_id)
        # The hook hands every other extra to libpq as a connection option; extra.flavor is ours.
        hook.ignored_extra_options = PostgresHook.ignored_extra_options | {"flavor"}
        pg: Any = hook.get_conn()
        pg.autocommit = True
        return pg
    if kind == "mysql":
        from airflow.providers.mysql.hooks.mysql import MySqlHook

        my: Any = MySqlHook(mysql_conn_id=conn_id, local_infile=True).get_conn()
        my.autocommit(True)
        return my
    if kind == "oracle":
        from airflow.providers.oracle.hooks.oracle import OracleHook

        ora = OracleHook(oracle_conn_id=conn_id).get_conn()
        ora.autocommit = True
        return ora
    raise RunFailed(f"connection {conn_id!r}: unsupported kind {kind!r}")


def open_generic_warehouse(conn_id: str) -> tuple[Any, Any]:
    """``(DB-API connection, hook)`` of a warehouse the engine has no path of its own for."""
    conn = get_connection(conn_id)
    try:
        hook = conn.get_hook()
    except Exception as exc:
        first = first_line(exc)
        raise RunFailed(f"warehouse connection {conn_id!r} ({conn.conn_type}) has no Airflow hook here "
                        f"(is its provider installed?): {first}") from None
    if not callable(getattr(hook, "get_conn", None)) or not hasattr(hook, "escape_word_format"):
        raise RunFailed(f"warehouse connection {conn_id!r} ({conn.conn_type}): {type(hook).__name__} is not "
                        "a DB-API (SQL) hook")
    try:
        return hook.get_conn(), hook
    except Exception as exc:
        first = first_line(exc)
        raise RunFailed(f"cannot connect to {conn_id!r} ({conn.conn_type}): {first}") from None


__all__ = ["connection_kind", "open_dbapi", "open_generic_warehouse", "warehouse_kind"]
