"""SQLite (embedded targets)."""

from __future__ import annotations

from airflow_provider_tagoffline.dialects import register
from airflow_provider_tagoffline.dialects.base import DdlType, Dialect


@register
class SQLiteDialect(Dialect):
    kinds = ("sqlite",)
    row_order = "rowid"
    text_type = "TEXT"
    names_ignore_case = True

    sqlglot_dialect = "sqlite"
    ddl_types = {
        "INT": DdlType("INTEGER"), "BIGINT": DdlType("BIGINT"), "DOUBLE": DdlType("REAL"),
        "DECIMAL": DdlType("NUMERIC", limits=(1000, 1000)), "BOOLEAN": DdlType("BOOLEAN"), "DATE": DdlType("DATE"),
        "TIMESTAMP": DdlType("TIMESTAMP"), "DATETIME": DdlType("DATETIME"), "TEXT": DdlType("TEXT"),
        "VARCHAR": DdlType("VARCHAR", limits=(1_000_000_000,)),
    }
