"""DuckDB: the embedded warehouse (memory set per statement), and a target kind of its own."""

from airflow_provider_tagoffline.contract.family import Family
from airflow_provider_tagoffline.dialects.duckdb.dialect import DuckDBDialect

FAMILY = Family(
    name="duckdb", kinds=("duckdb",), conn_types=("duckdb",),
    dialect=DuckDBDialect, package=__name__,
    target="target:DuckDBTarget", warehouse="warehouse:DuckDBReader", introspect="introspect:DuckDBIntrospection",
    without_provider="connect:opens_without_airflow",
    needs=("airflow.providers.duckdb.hooks.duckdb",),  # in the base install: the embedded default warehouse
)
