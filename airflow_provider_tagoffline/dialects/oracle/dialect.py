"""Oracle (built against the documented behaviour; no live server in CI, see docs/oracle.md)."""

from __future__ import annotations

from typing import Any

from airflow_provider_tagoffline.contract.dialect import DdlType, Dialect


class OracleDialect(Dialect):
    # 128 bytes since 12.2 (30 before); names are quoted, so their case is kept.
    max_identifier_bytes = 128
    has_schemas = True
    supports_partitions = True
    text_type = "VARCHAR2(4000)"
    ping_sql = "SELECT 1 FROM DUAL"
    default_port = 1521
    # OpenLineage: oracle://host:port, {service name}.{schema}.{table}
    lineage_scheme = "oracle"
    column_types = {"string": "VARCHAR2(4000 CHAR)", "key_string": "VARCHAR2(255 CHAR)", "bigint": "NUMBER(19)",
                    "double": "BINARY_DOUBLE", "decimal": "NUMBER({p},{s})", "boolean": "NUMBER(1)",
                    "date": "DATE", "datetime": "TIMESTAMP(6)", "partition": "VARCHAR2(10 CHAR)"}

    sqlglot_dialect = "oracle"
    ddl_types = {
        "DECIMAL": DdlType("NUMBER", limits=(38, 38)), "INT": DdlType("INTEGER"),
        "DOUBLE": DdlType("BINARY_DOUBLE"), "FLOAT": DdlType("BINARY_FLOAT"), "DATE": DdlType("DATE"),
        "TIMESTAMP": DdlType("TIMESTAMP", limits=(9,)),
        "VARCHAR": DdlType("VARCHAR2", limits=(32_767,), required=1, length_semantics=True),
        "NVARCHAR": DdlType("NVARCHAR2", limits=(32_767,), required=1),
        "CHAR": DdlType("CHAR", limits=(2000,), length_semantics=True), "TEXT": DdlType("CLOB"),
    }
    ddl_comment_on = True
    ddl_named_primary_key = True
    ddl_partition_clause = "PARTITION BY LIST ({col}) AUTOMATIC (PARTITION p_init VALUES ({first}))"

    def identifier_problem(self, name: str) -> str | None:
        # A quoted Oracle identifier cannot contain a double quote at all (there is no escape).
        if '"' in name:
            return "must not contain a double quote (\") on Oracle"
        return super().identifier_problem(name)

    def fold_unquoted(self, name: str) -> str:
        return name.upper()

    def database_name(self, conn: Any) -> str:
        extra = conn.extra_dejson or {}
        return str(extra.get("dsn") or extra.get("service_name") or extra.get("sid") or conn.schema or "").lower()

    def default_schema(self, login: str | None) -> str | None:
        # An unqualified name resolves in the session's schema: the user, stored upper-cased.
        return login.upper() if login else None
