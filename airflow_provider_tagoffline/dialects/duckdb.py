"""DuckDB: the embedded warehouse, and a target kind of its own."""

from __future__ import annotations

from airflow_provider_tagoffline.dialects import register
from airflow_provider_tagoffline.dialects.base import Dialect


@register
class DuckDBDialect(Dialect):
    kinds = ("duckdb",)
    has_schemas = True
    supports_partitions = True
    row_order = "rowid"
