"""Opening a SQLite database: the file the connection names (no Airflow provider needed)."""

from __future__ import annotations

import sqlite3
from typing import Any

from airflow_provider_tagoffline.errors import RunFailed


def database_path(conn_id: str, conn: Any) -> str:
    """The file of a SQLite connection: its host field, else its schema field."""
    path = conn.host or conn.schema
    if not path:
        raise RunFailed(f"SQLite connection {conn_id!r} has no file path in its host field")
    return str(path)


def open_connection(conn_id: str, conn: Any, kind: str, read_only: bool) -> Any:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, DDL included.
    return sqlite3.connect(database_path(conn_id, conn), isolation_level=None, timeout=60)
