"""PostgreSQL and its flavours: Greenplum, AnalyticDB for PostgreSQL (``adb_pg``), openGauss.

A connection of type ``postgres`` declares its flavour in ``extra.flavor``; every flavour speaks
PostgreSQL's protocol, COPY and catalogs, and differs in a few facts its dialect knows (ADB targets
cannot be partitioned; the forks know fewer ``LIKE ... INCLUDING`` options).
"""

from airflow_provider_tagoffline.dialects.family import Family
from airflow_provider_tagoffline.dialects.postgres.dialect import PostgresDialect

FAMILY = Family(
    name="postgres",
    kinds=("postgres", "greenplum", "adb_pg", "opengauss"),
    conn_types=("postgres", "postgresql"),
    dialect=PostgresDialect,
    connect=f"{__name__}.connect:open_connection",
    target=f"{__name__}.target:PostgresTarget",
    warehouse=f"{__name__}.warehouse:PostgresReader",
    introspect=f"{__name__}.introspect:PostgresIntrospection",
)
