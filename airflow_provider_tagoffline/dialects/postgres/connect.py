"""Opening a PostgreSQL-family connection: Airflow's PostgresHook, whatever the flavour."""

from __future__ import annotations

from typing import Any


def hook(conn_id: str) -> Any:
    """The PostgresHook of ``conn_id``, keeping ``extra.flavor`` (ours) away from libpq."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    pg_hook = PostgresHook(postgres_conn_id=conn_id)
    # The hook hands every other extra to libpq as a connection option, which refuses "flavor".
    pg_hook.ignored_extra_options = PostgresHook.ignored_extra_options | {"flavor"}
    return pg_hook


def open_connection(conn_id: str, conn: Any, kind: str, read_only: bool) -> Any:
    pg: Any = hook(conn_id).get_conn()
    pg.autocommit = True
    return pg
