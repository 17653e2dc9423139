"""Oracle (built against the documented behaviour; no live server in CI, see docs/oracle.md)."""

from __future__ import annotations

from airflow_provider_tagoffline.dialects import register
from airflow_provider_tagoffline.dialects.base import Dialect


@register
class OracleDialect(Dialect):
    kinds = ("oracle",)
    # 128 bytes since 12.2 (30 before); names are quoted, so their case is kept.
    max_identifier_bytes = 128
    has_schemas = True
    supports_partitions = True
    text_type = "VARCHAR2(4000)"
    default_port = 1521

    def default_schema(self, login: str | None) -> str | None:
        # An unqualified name resolves in the session's schema: the user, stored upper-cased.
        return login.upper() if login else None
