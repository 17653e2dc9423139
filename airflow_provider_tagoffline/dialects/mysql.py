"""MySQL and MariaDB."""

from __future__ import annotations

from airflow_provider_tagoffline.dialects import register
from airflow_provider_tagoffline.dialects.base import Dialect


@register
class MySQLDialect(Dialect):
    kinds = ("mysql",)
    max_identifier_chars = 64
    supports_partitions = True
    quote_char = "`"
    paramstyle = "format"
    text_type = "CHAR"
    names_ignore_case = True
    default_port = 3306

    def quote_literal(self, value: str) -> str:
        # Backslash is an escape character in MySQL string literals (unless NO_BACKSLASH_ESCAPES).
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
