"""PostgreSQL and its flavours: Greenplum, AnalyticDB for PostgreSQL (``adb_pg``), openGauss.

A connection of type ``postgres`` declares its flavour in ``extra.flavor``; every flavour speaks
PostgreSQL's protocol, COPY and catalogs, and differs in a few facts its dialect knows (ADB targets
cannot be partitioned; the forks know fewer ``LIKE ... INCLUDING`` options).
"""

from airflow_provider_tagoffline.contract.family import Family
from airflow_provider_tagoffline.dialects.postgres.dialect import PostgresDialect

FAMILY = Family(
    name="postgres", conn_types=("postgres", "postgresql"), kinds=("postgres", "greenplum", "adb_pg", "opengauss"),
    dialect=PostgresDialect, package=__name__,
    target="target:PostgresTarget", warehouse="warehouse:PostgresReader", introspect="introspect:PostgresIntrospection",
    without_provider="connect:opens_without_airflow",
    extra="postgres", needs=("airflow.providers.postgres.hooks.postgres",),
)
