"""DuckDB: the embedded warehouse, and a target kind of its own."""

from __future__ import annotations

import os
from typing import Any

from airflow_provider_tagoffline.contract.dialect import DdlType, Dialect


class DuckDBDialect(Dialect):
    has_schemas = True
    supports_partitions = True
    row_order = "rowid"
    names_ignore_case = True
    column_types = {"string": "VARCHAR", "key_string": "VARCHAR", "bigint": "BIGINT", "double": "DOUBLE",
                    "decimal": "DECIMAL({p},{s})", "boolean": "BOOLEAN", "date": "DATE", "datetime": "TIMESTAMP",
                    "partition": "VARCHAR"}

    def default_schema(self, login: str | None) -> str | None:
        return "main"

    # OpenLineage names no DuckDB datasets: the namespace is the database file (the datasource, as
    # a server's host:port is), the name DuckDB's own {catalog}.{schema}.{table}; the catalog of a
    # file is its stem.
    lineage_scheme = "duckdb"

    def lineage_namespace(self, conn: Any) -> str:
        return f"duckdb://{_file_of(conn.host)}"

    def lineage_database(self, conn: Any) -> str:
        path = (conn.host or "").strip()
        if not path or path == ":memory:":
            return "memory"
        if path.startswith("md:"):  # MotherDuck: the database named after md:
            return path.removeprefix("md:").split("?")[0]
        return os.path.splitext(os.path.basename(path))[0]

    def database_identity(self, conn: Any) -> tuple[str, ...]:
        if (conn.host or "").strip().startswith("md:"):  # MotherDuck: remote, known by its connection id only
            return (self.family, "conn", str(conn.conn_id))
        return self.file_identity(conn, conn.host)

    sqlglot_dialect = "duckdb"
    ddl_types = {
        "BOOLEAN": DdlType("BOOLEAN"), "TINYINT": DdlType("TINYINT"), "SMALLINT": DdlType("SMALLINT"),
        "INT": DdlType("INTEGER"), "BIGINT": DdlType("BIGINT"), "INT128": DdlType("HUGEINT"),
        "FLOAT": DdlType("FLOAT"), "DOUBLE": DdlType("DOUBLE"), "DECIMAL": DdlType("DECIMAL", limits=(38, 38)),
        "DATE": DdlType("DATE"), "TIMESTAMP": DdlType("TIMESTAMP"), "TIMESTAMPNTZ": DdlType("TIMESTAMP"),
        "TIMESTAMPTZ": DdlType("TIMESTAMPTZ"), "TEXT": DdlType("VARCHAR"), "VARCHAR": DdlType("VARCHAR"),
    }
    ddl_comment_on = True

    def slice_of(self, key: str, count: int) -> str | None:
        # hash() is DuckDB's own, alike for every integer type (1::INTEGER and 1::BIGINT)
        return f"hash({key}) % {int(count)}"

    def rows_and_duplicates_sql(self, relation: str, key: str, where: str, key_type: str | None = None) -> str:
        # DuckDB's hash aggregate cannot always spill: a GROUP BY over 10M IDs failed with "Out of
        # Memory" at 32 MB, over 30M at 64 MB. Its sort spills, so count the IDs equal to their
        # predecessor in ID order (10M IDs: 0.8 s, 30M: 2.3 s, both in 32 MB with 2 threads).
        return (f"SELECT COUNT(*), COUNT(*) FILTER (WHERE c.k = c.prev) FROM (SELECT {key} AS k, "
                f"LAG({key}) OVER (ORDER BY {key}) AS prev FROM {relation} WHERE {where}) c")


def _file_of(path: str | None) -> str:
    """The database file as a namespace's path: absolute; MotherDuck and in-memory as written."""
    path = (path or "").strip()
    if not path or path == ":memory:" or path.startswith("md:"):
        return path or ":memory:"
    return os.path.realpath(os.path.expanduser(path))
