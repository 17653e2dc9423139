"""SQLite (embedded targets)."""

from __future__ import annotations

from airflow_provider_tagoffline.dialects import register
from airflow_provider_tagoffline.dialects.base import Dialect


@register
class SQLiteDialect(Dialect):
    kinds = ("sqlite",)
    row_order = "rowid"
    text_type = "TEXT"
    names_ignore_case = True
