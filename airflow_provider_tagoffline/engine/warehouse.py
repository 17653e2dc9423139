"""The warehouse side of a run: source checks and the streamed extract (server-side cursors)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_tagoffline.connections import get_connection
from airflow_provider_tagoffline.dialects import FLAVORS, Dialect, get_dialect
from airflow_provider_tagoffline.dialects.duckdb.resources import DuckDBResources, is_out_of_memory
from airflow_provider_tagoffline.dialects.generic.dialect import PARAMSTYLES, driver_paramstyle, generic_dialect
from airflow_provider_tagoffline.engine.connect import (
    connection_kind,
    open_dbapi,
    open_generic_warehouse,
    warehouse_kind,
)
from airflow_provider_tagoffline.engine.extract import Query, format_date, source_check_sql
from airflow_provider_tagoffline.errors import RunFailed, first_line
from airflow_provider_tagoffline.runspec import SourceSpec

#: warehouses with a path of their own (COPY relays, server-side cursors, DuckDB's memory); any
#: other connection with an Airflow DB-API hook is read the generic way (dialects/generic.py)
WAREHOUSE_KINDS = ("duckdb", "postgres", "mysql")
CHUNK_BYTES = 1 << 20

def prefetch(chunks: Iterator[bytes], depth: int) -> Iterator[bytes]:
    """Run ``chunks`` in a thread, at most ``depth`` chunks ahead of the consumer."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        q.put(("chunk", chunk), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", None))
        except BaseException as exc:
            q.put(("error", exc))

    thread = threading.Thread(target=run, name="tagoffline-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()  # the consumer stopped early: let the producer finish
        thread.join(timeout=60)


@dataclass
class SourceCheck:
    table: str
    partition: str | None  # "ds=20261123"
    rows: int
    duplicates: int


class Warehouse:
    def __init__(self, conn_id: str, conn: Any = None):
        """Opens ``conn_id`` read-only, or reads through ``conn`` when the target is the warehouse."""
        self.conn_id = conn_id
        self._shared = conn is not None  # the target's connection (the target is the warehouse)
        self._duckdb: DuckDBResources | None = None  # a DuckDB warehouse of its own: memory per statement
        if conn is not None:  # the target's own dialect reads it too
            self.conn, self.kind = conn, connection_kind(conn_id)
            self.dialect: Dialect = get_dialect(self.kind)
            return
        kind = warehouse_kind(conn_id)
        if kind not in WAREHOUSE_KINDS:
            self._open_generic(conn_id, kind)
            return
        self.conn, kind = open_dbapi(conn_id, read_only=True)
        # Greenplum, AnalyticDB for PostgreSQL and openGauss flavours speak PostgreSQL's COPY and
        # cursors, and the extract is the same SQL for the whole family.
        self.kind = "postgres" if kind in FLAVORS["postgres"] else kind
        self.dialect = get_dialect(self.kind)
        if kind == "duckdb":
            self._duckdb = DuckDBResources(self.conn, conn_id, get_connection(conn_id).extra_dejson)

    def _open_generic(self, conn_id: str, kind: str) -> None:
        """Any other SQL engine with an Airflow DB-API hook: rows streamed with ``fetchmany``."""
        self.conn, hook = open_generic_warehouse(conn_id)
        style = driver_paramstyle(self.conn)
        if style not in PARAMSTYLES:
            self.close()
            raise RunFailed(f"warehouse connection {conn_id!r}: its driver's parameter style {style!r} is not "
                            f"supported; supported: {', '.join(PARAMSTYLES)}")
        self.kind = kind
        self.dialect = generic_dialect(kind, hook.escape_word_format, style)

    def _lean(self, lean: bool) -> None:
        if self._duckdb is not None:
            self._duckdb.use(lean)

    def _raise_if_out_of_memory(self, exc: BaseException, what: str) -> None:
        if self._duckdb is not None and is_out_of_memory(exc):
            raise self._duckdb.out_of_memory(exc, what) from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        if self._duckdb is not None:
            self._duckdb.close()

    def fetchone(self, query: Query) -> Any:
        cur = self.conn.cursor()
        try:
            cur.execute(query.sql, query.params)
            return cur.fetchone()
        finally:
            with contextlib.suppress(Exception):
                cur.close()

    def check_source(self, src: SourceSpec, data_date: dt.date) -> SourceCheck:
        """Rows and duplicate IDs of one source for D; a clear error if the table is missing."""
        part = (f"{src.partition.column}={format_date(data_date, src.partition.format)}"
                if src.partition else None)
        query = source_check_sql(self.dialect, src, data_date)
        try:
            try:
                self._lean(True)
                rows, duplicates = self.fetchone(query)
            except Exception as exc:
                if not is_out_of_memory(exc) or self._duckdb is None or self._duckdb.at_full:
                    raise
                self._lean(False)  # beyond the lean limit: once more with all the connection allows
                rows, duplicates = self.fetchone(query)
        except Exception as exc:
            self._raise_if_out_of_memory(exc, f"the check of source table {src.table!r}")
            self._reset()
            first = first_line(exc)
            raise RunFailed(f"source table {src.table!r} cannot be read from the warehouse "
                            f"{self.conn_id!r}: {first}") from None
        return SourceCheck(src.table, part, int(rows), int(duplicates))

    @property
    def checks_alongside_load(self) -> bool:
        """Whether the source checks (rows and duplicate IDs of partition D: a GROUP BY over it)
        run on a second connection while the load runs. Worth it on a PostgreSQL warehouse, where
        the GROUP BY costs as much as a third of the load; DuckDB answers it in a blink."""
        return self.kind == "postgres" and not self._shared

    def check_sources_in_background(self, sources: list[SourceSpec],
                                    data_date: dt.date) -> Callable[[], list[SourceCheck]]:
        """Start ``check_source`` of every source on a connection of its own; the function returned
        waits for the checks and returns them (or raises what they raised)."""
        checks: list[SourceCheck] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                other = Warehouse(self.conn_id)
            except BaseException as exc:
                errors.append(exc)
                return
            try:
                checks.extend(other.check_source(src, data_date) for src in sources)
            except BaseException as exc:
                errors.append(exc)
            finally:
                other.close()

        thread = threading.Thread(target=work, name="tagoffline-source-checks", daemon=True)
        thread.start()

        def wait() -> list[SourceCheck]:
            thread.join()
            if errors:
                raise errors[0]
            return checks

        return wait

    def _reset(self) -> None:
        # psycopg in autocommit needs nothing; a failed statement in a PG transaction would.
        with contextlib.suppress(Exception):
            self.conn.rollback()

    def stream(self, query: Query, batch_size: int) -> Iterator[list[tuple[Any, ...]]]:
        """Result batches of ``query``, never the whole result in memory."""
        if self.kind == "postgres":
            yield from self._stream_postgres(query, batch_size)
        elif self.kind == "mysql":
            yield from self._stream_mysql(query, batch_size)
        else:
            yield from self._stream_plain(query, batch_size)

    # ---- CSV transfer: the warehouse engine writes the rows, Python only moves bytes ---------
    @property
    def can_export_csv(self) -> bool:
        return self.kind in ("duckdb", "postgres")

    def csv_chunks(self, query: Query, flavor: str) -> Iterator[bytes]:
        """The result of ``query`` as CSV bytes, in chunks, in ``flavor``'s conventions.

        ``postgres``: NULL is an unquoted empty field, an empty string is ``""`` (PostgreSQL CSV).
        ``mysql``: every value quoted and NULL the unquoted word NULL (LOAD DATA with ENCLOSED BY).
        """
        if self.kind == "postgres":
            yield from self._csv_postgres(query, flavor)
        else:
            yield from self._csv_duckdb(query, flavor)

    def _csv_postgres(self, query: Query, flavor: str) -> Iterator[bytes]:
        options = "FORMAT csv" + (", FORCE_QUOTE *, NULL 'NULL'" if flavor == "mysql" else "")

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

        # Read the warehouse in a thread so reading and the target's load overlap.
        yield from prefetch(produce(), depth=4)

    def _csv_duckdb(self, query: Query, flavor: str) -> Iterator[bytes]:
        # DuckDB writes the CSV into a named pipe from its own threads while we read the other end:
        # extraction and load overlap, and no file or result set grows with the row count.
        options = "FORMAT csv, HEADER false" + (", FORCE_QUOTE *, NULLSTR 'NULL'" if flavor == "mysql" else "")
        folder = tempfile.mkdtemp(prefix="tagoffline-")
        fifo = os.path.join(folder, "extract.csv")
        os.mkfifo(fifo, 0o600)
        errors: list[BaseException] = []
        reader_done = threading.Event()
        self._lean(query.scan_only)

        def write() -> None:
            try:
                cur = self.conn.cursor()
                cur.execute(f"COPY ({query.sql}) TO {self.dialect.quote_literal(fifo)} ({options})", query.params)
                cur.close()
            except BaseException as exc:  # reported by the reader below
                errors.append(exc)
                _release_fifo_reader(fifo, reader_done)

        writer = threading.Thread(target=write, name="tagoffline-duckdb-copy", daemon=True)
        writer.start()
        try:
            with open(fifo, "rb") as f:
                while chunk := f.read(1 << 20):
                    yield chunk
            reader_done.set()
            writer.join()
            if errors:
                self._raise_if_out_of_memory(errors[0], "the extract query")
                raise errors[0]
        finally:
            # Closing our end makes a still-writing DuckDB fail with a broken pipe and stop.
            reader_done.set()
            writer.join(timeout=60)
            shutil.rmtree(folder, ignore_errors=True)

    def _stream_plain(self, query: Query, batch_size: int) -> Iterator[list[tuple[Any, ...]]]:
        # DuckDB streams results to fetchmany in chunks, as DB-API drivers of warehouses do (Trino
        # pages through the result, SQLite steps its statement); none materializes it all.
        self._lean(query.scan_only)
        cur = self.conn.cursor()
        try:
            try:
                cur.execute(query.sql, query.params)
            except Exception as exc:
                self._raise_if_out_of_memory(exc, "the extract query")
                raise
            while batch := cur.fetchmany(batch_size):
                yield batch
        finally:
            with contextlib.suppress(Exception):
                cur.close()

    def _stream_postgres(self, query: Query, batch_size: int) -> Iterator[list[tuple[Any, ...]]]:
        # A named (server-side) cursor lives inside a transaction.
        with self.conn.transaction(), self.conn.cursor(name="tagoffline_extract") as cur:
            cur.itersize = batch_size
            cur.execute(query.sql, query.params)
            while batch := cur.fetchmany(batch_size):
                yield batch

    def _stream_mysql(self, query: Query, batch_size: int) -> Iterator[list[tuple[Any, ...]]]:
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


def _release_fifo_reader(fifo: str, reader_done: threading.Event) -> None:
    """After a failed COPY: let the reader of ``fifo`` see its end, wherever it is.

    DuckDB may fail before opening the pipe (the reader waits in ``open()``, or has not reached it
    yet) or after (the reader reads to EOF and closes). A non-blocking open for writing pairs with a
    reader waiting in ``open()`` and fails (ENXIO) when none has the pipe open; so retry until it
    pairs or the reader says it is done, never blocking on a reader that has already left.
    """
    while not reader_done.is_set():
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            return
        except OSError:
            reader_done.wait(0.05)

