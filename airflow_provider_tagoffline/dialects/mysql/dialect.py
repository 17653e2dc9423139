"""MySQL and MariaDB."""

from __future__ import annotations

from typing import Any

from airflow_provider_tagoffline.contract.dialect import DdlType, Dialect


class MySQLDialect(Dialect):
    max_identifier_chars = 64
    supports_partitions = True
    quote_char = "`"
    paramstyle = "format"
    text_type = "CHAR"
    names_ignore_case = True
    # Neither MySQL nor MariaDB has FULL JOIN. Of the plans without it, LEFT JOINs plus anti-joined
    # IDs beat the UNION key set (2 sources of 300k IDs, MariaDB 10.11: 5.5 s against 9.6 s with
    # indexes on the IDs, 24 s against 83 s without).
    full_outer_join = False
    default_port = 3306
    # OpenLineage: mysql://host:port, {database}.{table} (a MySQL schema is a database)
    lineage_scheme = "mysql"
    lineage_levels = 2
    column_types = {"string": "text", "key_string": "varchar(255)", "bigint": "bigint", "double": "double",
                    "decimal": "decimal({p},{s})", "boolean": "tinyint(1)", "date": "date",
                    "datetime": "datetime(6)", "partition": "varchar(10)"}

    sqlglot_dialect = "mysql"
    ddl_types = {
        "TINYINT": DdlType("tinyint", limits=(255,)), "SMALLINT": DdlType("smallint", limits=(255,)),
        "MEDIUMINT": DdlType("mediumint", limits=(255,)), "INT": DdlType("int", limits=(255,)),
        "BIGINT": DdlType("bigint", limits=(255,)), "UINT": DdlType("int unsigned"),
        "UBIGINT": DdlType("bigint unsigned"), "FLOAT": DdlType("float"), "DOUBLE": DdlType("double"),
        "DECIMAL": DdlType("decimal", limits=(65, 30)), "BOOLEAN": DdlType("tinyint", fixed="tinyint(1)"),
        "DATE": DdlType("date"), "DATETIME": DdlType("datetime", limits=(6,)),
        "TIMESTAMPTZ": DdlType("timestamp", limits=(6,)), "CHAR": DdlType("char", limits=(255,)),
        "VARCHAR": DdlType("varchar", limits=(65_535,), required=1), "TINYTEXT": DdlType("tinytext"),
        "TEXT": DdlType("text"), "MEDIUMTEXT": DdlType("mediumtext"), "LONGTEXT": DdlType("longtext"),
    }
    ddl_inline_comments = True
    ddl_partition_clause = "PARTITION BY LIST COLUMNS({col}) (PARTITION p_init VALUES IN ({first}))"
    # Only InnoDB: other engines (CONNECT, FEDERATED, ...) read files or remote servers.
    ddl_engine = "InnoDB"
    ddl_charsets = ("utf8mb4", "utf8mb3", "utf8", "latin1", "ascii", "binary")

    def database_name(self, conn: Any) -> str:
        return (conn.schema or "").lower()

    def differs(self, a: str, b: str) -> str:
        return f"(NOT ({a} <=> {b}))"  # no IS DISTINCT FROM; LENGTH counts bytes

    def char_length(self, expr: str) -> str:
        return f"CHAR_LENGTH({expr})"

    def column_type_sql(self, table: str, column: str) -> tuple[str, list[object]] | None:
        # The type and the collation: two string columns of different collations cannot be
        # compared as they are ("Illegal mix of collations"); their CAST AS CHAR text can.
        schema, _, name = table.rpartition(".")
        return ("SELECT DATA_TYPE, COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                "COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND COLUMN_NAME = %s", [schema or None, name, column])

    def quote_literal(self, value: str) -> str:
        # Backslash is an escape character in MySQL string literals (unless NO_BACKSLASH_ESCAPES).
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
