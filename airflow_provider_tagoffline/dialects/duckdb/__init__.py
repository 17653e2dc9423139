"""DuckDB: the embedded warehouse (memory set per statement), and a target kind of its own."""

from airflow_provider_tagoffline.dialects.duckdb.dialect import DuckDBDialect
from airflow_provider_tagoffline.dialects.family import Family

FAMILY = Family(
    name="duckdb",
    kinds=("duckdb",),
    conn_types=("duckdb",),
    dialect=DuckDBDialect,
    connect=f"{__name__}.connect:open_connection",
    target=f"{__name__}.target:DuckDBTarget",
    warehouse=f"{__name__}.warehouse:DuckDBReader",
    introspect=f"{__name__}.introspect:DuckDBIntrospection",
)
