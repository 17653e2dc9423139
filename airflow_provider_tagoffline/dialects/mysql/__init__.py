"""MySQL and MariaDB (``extra.flavor`` ``mariadb``: the same code, one kind)."""

from airflow_provider_tagoffline.dialects.family import Family
from airflow_provider_tagoffline.dialects.mysql.dialect import MySQLDialect

FAMILY = Family(
    name="mysql",
    kinds=("mysql",),
    conn_types=("mysql",),
    flavor_aliases={"mariadb": "mysql"},
    dialect=MySQLDialect,
    connect=f"{__name__}.connect:open_connection",
    target=f"{__name__}.target:MySQLTarget",
    warehouse=f"{__name__}.warehouse:MySQLReader",
    introspect=f"{__name__}.introspect:MySQLIntrospection",
)
