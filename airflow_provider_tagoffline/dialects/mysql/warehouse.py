"""Reading a MySQL or MariaDB warehouse: an unbuffered (server-side) cursor."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from airflow_provider_tagoffline.engine.extract import Query
from airflow_provider_tagoffline.engine.warehouse import Reader


class MySQLReader(Reader):
    def stream(self, query: Query, batch_size: int) -> Iterator[list[tuple[Any, ...]]]:
        module = type(self.conn).__module__
        if module.startswith("MySQLdb"):
            from MySQLdb.cursors import SSCursor
        else:
            from pymysql.cursors import SSCursor
        cur = self.conn.cursor(SSCursor)
        try:
            cur.execute(query.sql, query.params)
            while batch := cur.fetchmany(batch_size):
                yield list(batch)
        finally:
            with contextlib.suppress(Exception):
                cur.close()

    def column_type(self, table: str, column: str) -> Any:
        # The type and the collation: two string columns of different collations cannot be
        # compared as they are ("Illegal mix of collations"), their CAST AS CHAR text can.
        schema, _, name = table.rpartition(".")
        cur = self.conn.cursor()
        try:
            cur.execute("SELECT DATA_TYPE, COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                        "COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND COLUMN_NAME = %s",
                        (schema or None, name, column))
            row = cur.fetchone()
        finally:
            with contextlib.suppress(Exception):
                cur.close()
        return tuple(row) if row else None
