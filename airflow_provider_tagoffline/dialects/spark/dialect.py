"""Spark SQL's facts for the extract: backticks, STRING, ``%s`` markers (PyHive's pyformat)."""

from __future__ import annotations

from typing import ClassVar

from airflow_provider_tagoffline.contract.dialect import Dialect


class SparkDialect(Dialect):
    quote_char: ClassVar[str] = "`"
    # PyHive interpolates parameters itself (escaped) and takes positional %s.
    paramstyle: ClassVar[str] = "format"
    # CAST(x AS VARCHAR) needs a length in Spark; STRING is its text type.
    text_type: ClassVar[str] = "STRING"
    # Databases ("schemas") are named by the source tables themselves (``db.table``).
    has_schemas: ClassVar[bool] = True
    default_port: ClassVar[int | None] = 10000
    # Unquoted and quoted names are both case-insensitive in Spark SQL.
    names_ignore_case: ClassVar[bool] = True

    def dedupe_order(self, key: str) -> str:
        # Spark refuses ROW_NUMBER() over an unordered window; with no physical row order, any row
        # of a duplicated ID is as good as another (the run reports how many were replaced).
        return f" ORDER BY {key}"
