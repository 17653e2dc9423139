"""SQLite: embedded targets, one file per connection."""

from airflow_provider_tagoffline.contract.family import Family
from airflow_provider_tagoffline.dialects.sqlite.dialect import SQLiteDialect

FAMILY = Family(
    name="sqlite", kinds=("sqlite",), conn_types=("sqlite",),
    dialect=SQLiteDialect, package=__name__,
    target="target:SQLiteTarget", introspect="introspect:SQLiteIntrospection",
)
