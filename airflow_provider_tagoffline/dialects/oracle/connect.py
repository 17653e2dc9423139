"""Opening an Oracle connection: Airflow's OracleHook (python-oracledb)."""

from __future__ import annotations

from typing import Any


def hook(conn_id: str) -> Any:
    from airflow.providers.oracle.hooks.oracle import OracleHook

    return OracleHook(oracle_conn_id=conn_id)


def open_connection(conn_id: str, conn: Any, kind: str, read_only: bool) -> Any:
    ora = hook(conn_id).get_conn()
    ora.autocommit = True
    return ora
