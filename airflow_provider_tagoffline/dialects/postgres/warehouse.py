"""Reading a PostgreSQL-family warehouse: a server-side cursor for rows, ``COPY ... TO STDOUT`` for CSV."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_tagoffline.engine.extract import Query
from airflow_provider_tagoffline.engine.targets.base import CsvFormat
from airflow_provider_tagoffline.engine.warehouse import CHUNK_BYTES, Reader, prefetch


class PostgresReader(Reader):
    # The checks' GROUP BY costs as much as a third of the load here: run it alongside.
    checks_alongside_load = True
    exports_csv = True

    def stream(self, query: Query, batch_size: int) -> Iterator[list[tuple[Any, ...]]]:
        # A named (server-side) cursor lives inside a transaction.
        with self.conn.transaction(), self.conn.cursor(name="tagoffline_extract") as cur:
            cur.itersize = batch_size
            cur.execute(query.sql, query.params)
            while batch := cur.fetchmany(batch_size):
                yield batch

    def csv_chunks(self, query: Query, fmt: CsvFormat) -> Iterator[bytes]:
        options = "FORMAT csv" + (", FORCE_QUOTE *, NULL 'NULL'" if fmt.quote_all else "")

        def produce() -> Iterator[bytes]:
            # The server sends one message per row: gather them into ~1 MB chunks for the target.
            # Copying each row into a bytearray is 3x faster than keeping the rows' memoryviews
            # and joining them (measured: 0.8 s against 2.6 s for 1M rows), which holds one
            # libpq buffer per row until the join.
            buf = bytearray()
            with self.conn.cursor() as cur, cur.copy(f"COPY ({query.sql}) TO STDOUT ({options})",
                                                      query.params) as copy:
                while row := copy.read():
                    buf += row
                    if len(buf) >= CHUNK_BYTES:
                        yield bytes(buf)
                        buf = bytearray()
            if buf:
                yield bytes(buf)

        # Read the warehouse in a thread so reading and the target's load overlap. A stream the
        # target gives up on is closed: the COPY is cancelled (psycopg does it when ``produce`` is
        # closed inside ``copy``; ``cancel_safe`` interrupts a read still waiting on the server),
        # because until it ends it holds this connection and the next COPY would wait forever.
        yield from prefetch(produce(), depth=4, cancel=self.conn.cancel_safe)
