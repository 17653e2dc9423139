"""Oracle, through python-oracledb (built against the documented behaviour: docs/oracle.md)."""

from airflow_provider_tagoffline.contract.family import Family
from airflow_provider_tagoffline.dialects.oracle.dialect import OracleDialect

FAMILY = Family(
    name="oracle", kinds=("oracle",), conn_types=("oracle",),
    dialect=OracleDialect, package=__name__,
    target="target:OracleTarget", introspect="introspect:OracleIntrospection",
    extra="oracle", needs=("airflow.providers.oracle.hooks.oracle",),
)
