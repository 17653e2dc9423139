"""MySQL and MariaDB (``extra.flavor`` ``mariadb``: the same code, one kind)."""

from airflow_provider_tagoffline.contract.family import Family
from airflow_provider_tagoffline.dialects.mysql.dialect import MySQLDialect

FAMILY = Family(
    name="mysql", kinds=("mysql",), conn_types=("mysql",), flavor_aliases={"mariadb": "mysql"},
    dialect=MySQLDialect, package=__name__,
    target="target:MySQLTarget", warehouse="warehouse:MySQLReader", introspect="introspect:MySQLIntrospection",
    extra="mysql", needs=("airflow.providers.mysql.hooks.mysql",),
)
