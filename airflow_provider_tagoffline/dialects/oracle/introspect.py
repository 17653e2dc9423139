"""Schemas (owners), tables and columns of an Oracle connection: SQLAlchemy over the hook."""

from __future__ import annotations

import sqlalchemy as sa

from airflow_provider_tagoffline.contract.introspection import SqlAlchemyIntrospection, engine_over
from airflow_provider_tagoffline.dialects.oracle.connect import hook

DRIVER_URLS = {"oracledb": "oracle+oracledb://"}


class OracleIntrospection(SqlAlchemyIntrospection):
    system_schemas = frozenset({"sys"})

    def create_engine(self) -> sa.Engine:
        ora_hook = hook(self.conn.conn_id)
        return engine_over(ora_hook.get_conn, DRIVER_URLS, ora_hook.get_sqlalchemy_engine)
