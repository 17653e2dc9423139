"""SQLite: embedded targets, one file per connection."""

from airflow_provider_tagoffline.dialects.family import Family
from airflow_provider_tagoffline.dialects.sqlite.dialect import SQLiteDialect

FAMILY = Family(
    name="sqlite",
    kinds=("sqlite",),
    conn_types=("sqlite",),
    dialect=SQLiteDialect,
    connect=f"{__name__}.connect:open_connection",
    target=f"{__name__}.target:SQLiteTarget",
    introspect=f"{__name__}.introspect:SQLiteIntrospection",
)
