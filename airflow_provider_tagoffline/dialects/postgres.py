"""PostgreSQL family: PostgreSQL, Greenplum, AnalyticDB for PostgreSQL, openGauss."""

from __future__ import annotations

from airflow_provider_tagoffline.dialects import register
from airflow_provider_tagoffline.dialects.base import Dialect


@register
class PostgresDialect(Dialect):
    kinds = ("postgres", "greenplum", "adb_pg", "opengauss")
    # Longer names are silently truncated, which would make _dpfx_b and _dpfx_tmp collide.
    max_identifier_bytes = 63
    has_schemas = True
    supports_partitions = True
    default_port = 5432

    def __init__(self, kind: str):
        super().__init__(kind)
        # AnalyticDB for PostgreSQL targets cannot be partitioned (spec §3).
        self.supports_partitions = kind != "adb_pg"
    paramstyle = "format"
    text_type = "text"
    row_order = "ctid"

    def default_schema(self, login: str | None) -> str | None:
        # What the service rules assume for an unset schema (the default search_path's first
        # existing schema on a fresh database).
        return "public"
