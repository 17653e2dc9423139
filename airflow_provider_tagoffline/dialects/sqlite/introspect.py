"""Tables and columns of a SQLite file: SQLAlchemy over the family's own connection."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from airflow_provider_tagoffline.dialects.sqlite.connect import open_connection
from airflow_provider_tagoffline.inspection import SqlAlchemyIntrospection


class SQLiteIntrospection(SqlAlchemyIntrospection):
    def create_engine(self) -> sa.Engine:
        conn_id, conn, kind = self.conn.conn_id, self.conn, self.kind
        return sa.create_engine("sqlite://", creator=lambda: open_connection(conn_id, conn, kind, True),
                                poolclass=NullPool)
