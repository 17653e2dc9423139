"""Schemas, tables and columns of a DuckDB database: its ``information_schema``, read through the
family's connection, read-only (no SQLAlchemy dialect for DuckDB is installed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow_provider_tagoffline.contract.introspection import Column, Introspection
from airflow_provider_tagoffline.dialects.duckdb.connect import open_connection
from airflow_provider_tagoffline.errors import NotFound

SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog"})


class DuckDBIntrospection(Introspection):
    @contextmanager
    def _db(self) -> Iterator[Any]:
        db = open_connection(self.conn.conn_id, self.conn, self.kind, True)
        try:
            db.execute("SET enable_external_access = false")  # catalog reads only: no files, no network
            yield db
        finally:
            db.close()

    def schemas(self) -> list[str]:
        with self._db() as db:
            rows = db.execute("SELECT DISTINCT schema_name FROM information_schema.schemata "
                              "WHERE catalog_name = current_database() ORDER BY 1").fetchall()
        return [r[0] for r in rows if r[0] not in SYSTEM_SCHEMAS]

    def tables(self, schema: str | None) -> list[str]:
        with self._db() as db:
            rows = db.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = "
                              "current_database() AND table_schema = coalesce(?, current_schema()) "
                              "ORDER BY 1", [schema]).fetchall()
        return [r[0] for r in rows]

    def columns(self, schema: str | None, table: str) -> list[Column]:
        with self._db() as db:
            rows = db.execute("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                              "WHERE table_catalog = current_database() AND table_schema = "
                              "coalesce(?, current_schema()) AND table_name = ? ORDER BY ordinal_position",
                              [schema, table]).fetchall()
        if not rows:
            raise NotFound("table", ".".join(p for p in (schema, table) if p))
        return [Column(name=r[0], type=str(r[1]), nullable=r[2] == "YES") for r in rows]
