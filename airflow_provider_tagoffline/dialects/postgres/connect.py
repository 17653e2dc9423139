"""Opening a PostgreSQL-family connection: Airflow's PostgresHook, whatever the flavour.

A connection read without Airflow (``env_connections.py``: the CLI) whose extra holds nothing but our
``flavor`` is opened the one way the hook opens it with psycopg 3 — ``psycopg.Connection.connect`` with
host, user, password, dbname and port, then psycopg's default JSON adapters — so the CLI does not import
Airflow for it (``docs/performance.md``, CLI startup). Any other extra (libpq options, ``cursor``,
``iam``...) or psycopg 2 goes through the hook. ``tests/test_env_connections.py`` opens one database
both ways and compares the connections' parameters, class and adapters.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_tagoffline.env_connections import EnvConnection

#: the extra keys a connection opened without the hook may hold: ours, which the hook also leaves out
#: (libpq refuses an option it does not know): the flavour and the warehouse's scratch schema
OWN_EXTRA = frozenset({"flavor", "tagoffline_scratch"})


def hook(conn_id: str) -> Any:
    """The PostgresHook of ``conn_id``, keeping ``extra.flavor`` (ours) away from libpq."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    pg_hook = PostgresHook(postgres_conn_id=conn_id)
    # The hook hands every other extra to libpq as a connection option, which refuses "flavor".
    pg_hook.ignored_extra_options = PostgresHook.ignored_extra_options | OWN_EXTRA
    return pg_hook


def _hook_uses_psycopg3() -> bool:
    """The hook's own choice (its ``USE_PSYCOPG3``): psycopg 3 importable and SQLAlchemy 2 or later."""
    try:
        import psycopg  # noqa: F401
        import sqlalchemy
    except ImportError:
        return False
    return int(sqlalchemy.__version__.split(".")[0]) >= 2


def opens_without_airflow(conn: Any) -> bool:
    """Whether ``conn`` holds only what the hook passes to psycopg 3 as it is."""
    return isinstance(conn, EnvConnection) and set(conn.extra_dejson) <= OWN_EXTRA and _hook_uses_psycopg3()


def _connect(conn: EnvConnection) -> Any:
    """What ``PostgresHook.get_conn`` does for such a connection under psycopg 3."""
    import psycopg
    from psycopg.types.json import register_default_adapters

    pg = psycopg.Connection.connect(host=conn.host, user=conn.login, password=conn.password, dbname=conn.schema,
                                    port=conn.port)
    register_default_adapters(pg)
    return pg


def open_connection(conn_id: str, conn: Any, kind: str, read_only: bool) -> Any:
    pg: Any = _connect(conn) if opens_without_airflow(conn) else hook(conn_id).get_conn()
    pg.autocommit = True
    return pg
