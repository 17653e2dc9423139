"""Any other warehouse reached through an Airflow DB-API hook (Trino, Hive, Snowflake, ...).

It claims no connection type: a warehouse connection no other family claims is read this way,
with a dialect built from what its hook and driver declare. It is never a target.
"""

from airflow_provider_tagoffline.contract.family import Family
from airflow_provider_tagoffline.dialects.generic.dialect import GenericDialect

FAMILY = Family(
    name="generic", kinds=(), conn_types=(),
    dialect=GenericDialect, package=__name__,
    warehouse="warehouse:GenericReader",
)
