"""Oracle, through python-oracledb (built against the documented behaviour: docs/oracle.md)."""

from airflow_provider_tagoffline.dialects.family import Family
from airflow_provider_tagoffline.dialects.oracle.dialect import OracleDialect

FAMILY = Family(
    name="oracle",
    kinds=("oracle",),
    conn_types=("oracle",),
    dialect=OracleDialect,
    connect=f"{__name__}.connect:open_connection",
    target=f"{__name__}.target:OracleTarget",
    introspect=f"{__name__}.introspect:OracleIntrospection",
)
