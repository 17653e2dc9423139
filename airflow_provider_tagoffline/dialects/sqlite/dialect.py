"""SQLite (embedded targets)."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from airflow_provider_tagoffline.contract.dialect import DdlType, Dialect

#: the table of a target file recording the data date each whole table in it holds (``target.py``): the
#: family's own, never a target
HELD_TABLE = "_tagoffline_held"


class SQLiteDialect(Dialect):
    row_order = "rowid"
    text_type = "TEXT"
    names_ignore_case = True
    # FULL JOIN came in SQLite 3.39; the library Python links is the one that runs the query.
    full_outer_join = sqlite3.sqlite_version_info >= (3, 39, 0)
    # No exact decimal: NUMERIC affinity would round 18 digits to a double, TEXT keeps them.
    column_types = {"string": "TEXT", "key_string": "TEXT", "bigint": "INTEGER", "double": "REAL",
                    "decimal": "TEXT", "boolean": "BOOLEAN", "date": "DATE", "datetime": "TIMESTAMP",
                    "partition": "TEXT"}

    sqlglot_dialect = "sqlite"
    ddl_types = {
        "INT": DdlType("INTEGER"), "BIGINT": DdlType("BIGINT"), "DOUBLE": DdlType("REAL"),
        "DECIMAL": DdlType("NUMERIC", limits=(1000, 1000)), "BOOLEAN": DdlType("BOOLEAN"), "DATE": DdlType("DATE"),
        "TIMESTAMP": DdlType("TIMESTAMP"), "DATETIME": DdlType("DATETIME"), "TEXT": DdlType("TEXT"),
        "VARCHAR": DdlType("VARCHAR", limits=(1_000_000_000,)),
    }

    # OpenLineage names no SQLite datasets: the namespace is the database file (the datasource),
    # the name the table.
    lineage_scheme = "sqlite"
    lineage_levels = 1

    def lineage_namespace(self, conn: Any) -> str:
        path = (conn.host or conn.schema or "").strip()
        return "sqlite://" + (os.path.realpath(os.path.expanduser(path)) if path and path != ":memory:" else ":memory:")

    def database_identity(self, conn: Any) -> tuple[str, ...]:
        return self.file_identity(conn, conn.host or conn.schema)
