"""Tables and columns of a SQLite file: SQLAlchemy over the family's own connection."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from airflow_provider_tagoffline.contract.introspection import SqlAlchemyIntrospection
from airflow_provider_tagoffline.dialects.sqlite.connect import open_connection
from airflow_provider_tagoffline.dialects.sqlite.dialect import HELD_TABLE


class SQLiteIntrospection(SqlAlchemyIntrospection):
    def create_engine(self) -> sa.Engine:
        conn_id, conn, kind = self.conn.conn_id, self.conn, self.kind
        return sa.create_engine("sqlite://", creator=lambda: open_connection(conn_id, conn, kind, True),
                                poolclass=NullPool)

    def tables(self, schema: str | None) -> list[str]:
        # the record of the data date each table holds is the family's own table, not one to pick as a target
        return [t for t in super().tables(schema) if t != HELD_TABLE]
