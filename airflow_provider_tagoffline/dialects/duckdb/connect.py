"""Opening a DuckDB database: Airflow's DuckDBHook, read-only where it is only read.

A connection read without Airflow (``env_connections.py``: the CLI) that names only a database file is
opened the one way the hook would open it, ``duckdb.connect(file, read_only, config)`` with the hook's
defaults, so the CLI does not import Airflow for it (``docs/performance.md``, CLI startup). Anything more
(extensions, limits, settings, a MotherDuck token, an in-memory database) goes through the hook.
``tests/test_env_connections.py`` opens the same file both ways and compares every DuckDB setting.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_tagoffline.env_connections import EnvConnection

#: the configuration DuckDBHook.get_connect_config() gives a connection whose extra sets nothing
HOOK_DEFAULT_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": True,
                       "allow_community_extensions": False}


def opens_without_airflow(conn: Any) -> bool:
    """Whether ``conn`` names a database file and nothing else the hook would apply."""
    return isinstance(conn, EnvConnection) and bool(conn.host) and not conn.password and not conn.extra_dejson


def open_connection(conn_id: str, conn: Any, kind: str, read_only: bool) -> Any:
    if opens_without_airflow(conn):
        import duckdb

        return duckdb.connect(database=conn.host, read_only=read_only, config=dict(HOOK_DEFAULT_CONFIG))
    from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

    return DuckDBHook(duckdb_conn_id=conn_id, read_only=read_only).get_conn()
