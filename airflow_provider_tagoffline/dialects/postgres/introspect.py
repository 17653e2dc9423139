"""Schemas, tables and columns of a PostgreSQL-family connection: SQLAlchemy over the family's hook."""

from __future__ import annotations

import sqlalchemy as sa

from airflow_provider_tagoffline.contract.introspection import SqlAlchemyIntrospection, engine_over
from airflow_provider_tagoffline.dialects.postgres.connect import hook

#: DB-API module of the hook's connection → the SQLAlchemy dialect+driver to inspect it with
DRIVER_URLS = {"psycopg": "postgresql+psycopg://", "psycopg2": "postgresql+psycopg2://"}


class PostgresIntrospection(SqlAlchemyIntrospection):
    # PostgreSQL's own, Greenplum's (gp_toolkit), openGauss's (db4ai ... pkg_service)
    system_schemas = frozenset({"information_schema", "pg_catalog", "pg_toast", "pg_internal", "sys", "gp_toolkit",
                                "db4ai", "dbe_perf", "snapshot", "blockchain", "sqladvisor", "dbe_pldebugger",
                                "dbe_pldeveloper", "dbe_sql_util", "cstore", "pkg_service"})
    system_prefixes = ("pg_",)

    def create_engine(self) -> sa.Engine:
        pg_hook = hook(self.conn.conn_id)
        return engine_over(pg_hook.get_conn, DRIVER_URLS, pg_hook.get_sqlalchemy_engine)
