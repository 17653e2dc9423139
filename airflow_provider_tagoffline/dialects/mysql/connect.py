"""Opening a MySQL or MariaDB connection: Airflow's MySqlHook."""

from __future__ import annotations

from typing import Any


def hook(conn_id: str, *, local_infile: bool = False) -> Any:
    """The MySqlHook of ``conn_id``; ``local_infile`` for the bulk load (LOAD DATA LOCAL INFILE)."""
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    return MySqlHook(mysql_conn_id=conn_id, local_infile=local_infile)


def open_connection(conn_id: str, conn: Any, kind: str, read_only: bool) -> Any:
    my: Any = hook(conn_id, local_infile=True).get_conn()
    my.autocommit(True)
    return my
