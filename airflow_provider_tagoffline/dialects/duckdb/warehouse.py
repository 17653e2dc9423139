"""Reading a DuckDB warehouse: memory and threads set per statement (``resources.py``), and
``COPY ... TO`` a named pipe for CSV."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from airflow_provider_tagoffline.contract.dialect import Dialect
from airflow_provider_tagoffline.dialects.duckdb.resources import DuckDBResources, is_out_of_memory
from airflow_provider_tagoffline.dialects.duckdb.snapshots import DuckDBSnapshotSql
from airflow_provider_tagoffline.engine.extract import Query
from airflow_provider_tagoffline.engine.targets.base import CsvFormat
from airflow_provider_tagoffline.engine.warehouse import Reader
from airflow_provider_tagoffline.errors import RunFailed

if TYPE_CHECKING:
    from airflow_provider_tagoffline.connections import Resolved


class DuckDBReader(Reader):
    # It answers the checks' GROUP BY in a blink: no second connection.
    exports_csv = True
    snapshot_sql = DuckDBSnapshotSql

    def __init__(self, conn: Any, conn_id: str, dialect: Dialect, extra: dict[str, Any]):
        super().__init__(conn, conn_id, dialect)
        self.resources = DuckDBResources(conn, conn_id, extra)
        self.memory = self.resources

    @classmethod
    def open(cls, where: Resolved) -> Reader:
        return cls(where.open(read_only=True), where.conn_id, where.dialect, where.connection.extra_dejson)

    def explain(self, exc: BaseException, what: str) -> RunFailed | None:
        return self.resources.out_of_memory(exc, what) if is_out_of_memory(exc) else None

    def csv_chunks(self, query: Query, fmt: CsvFormat) -> Iterator[bytes]:
        # DuckDB writes the CSV into a named pipe from its own threads while we read the other end:
        # extraction and load overlap, and no file or result set grows with the row count.
        options = "FORMAT csv, HEADER false" + (", FORCE_QUOTE *, NULLSTR 'NULL'" if fmt.quote_all else "")
        folder = tempfile.mkdtemp(prefix="tagoffline-")
        fifo = os.path.join(folder, "extract.csv")
        os.mkfifo(fifo, 0o600)
        errors: list[BaseException] = []
        reader_done = threading.Event()
        self.memory.use_lean(query.scan_only, query.operators)

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
                explained = self.explain(errors[0], "the extract query")
                if explained is not None:
                    raise explained from None
                raise errors[0]
        finally:
            # Closing our end makes a still-writing DuckDB fail with a broken pipe and stop.
            reader_done.set()
            writer.join(timeout=60)
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        super().close()
        self.resources.close()


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
