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
