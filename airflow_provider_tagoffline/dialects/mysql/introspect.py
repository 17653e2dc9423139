"""Schemas (databases), tables and columns of a MySQL or MariaDB connection: SQLAlchemy over the hook."""

from __future__ import annotations

import sqlalchemy as sa

from airflow_provider_tagoffline.contract.introspection import SqlAlchemyIntrospection, engine_over
from airflow_provider_tagoffline.dialects.mysql.connect import hook

#: DB-API module of the hook's connection → the SQLAlchemy dialect+driver to inspect it with
DRIVER_URLS = {"MySQLdb": "mysql+mysqldb://", "pymysql": "mysql+pymysql://", "mysql": "mysql+mysqlconnector://"}


class MySQLIntrospection(SqlAlchemyIntrospection):
    system_schemas = frozenset({"information_schema", "mysql", "performance_schema", "sys"})

    def create_engine(self) -> sa.Engine:
        # Not hook.get_sqlalchemy_engine(): it puts every extra into the URL, and the driver
        # refuses extra.flavor.
        my_hook = hook(self.conn.conn_id)
        return engine_over(my_hook.get_conn, DRIVER_URLS, my_hook.get_sqlalchemy_engine)
