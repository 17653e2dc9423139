"""Opening a DuckDB database: Airflow's DuckDBHook, read-only where it is only read."""

from __future__ import annotations

from typing import Any


def open_connection(conn_id: str, conn: Any, kind: str, read_only: bool) -> Any:
    from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

    return DuckDBHook(duckdb_conn_id=conn_id, read_only=read_only).get_conn()
