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
