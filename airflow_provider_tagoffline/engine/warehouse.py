"""The warehouse side of a run: source checks and the streamed extract.

``Warehouse`` is what the runner reads through. What differs between engines is a ``Reader``:
the family's own (``dialects/<family>/warehouse.py``: server-side cursors, the engine's COPY
writing CSV, memory set per statement) or, for a family without one and any warehouse no family
claims, the generic family's (``fetchmany`` through the connection's Airflow DB-API hook).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from airflow_provider_tagoffline.contract.connection import Resolved
from airflow_provider_tagoffline.contract.dialect import Dialect
from airflow_provider_tagoffline.contract.memory import NO_MEMORY_STRATEGY, MemoryStrategy
from airflow_provider_tagoffline.engine.extract import (
    LookupJoin,
    Query,
    format_date,
    hash_operators,
    lookup_joins,
    source_check_sql,
    type_probe_sql,
)
from airflow_provider_tagoffline.engine.targets.base import CsvFormat
from airflow_provider_tagoffline.errors import RunFailed, first_line
from airflow_provider_tagoffline.runspec import RunSpec, SourceSpec

if TYPE_CHECKING:
    from airflow_provider_tagoffline.engine.snapshot_sql import SnapshotSql

T = TypeVar("T")
CHUNK_BYTES = 1 << 20
#: how long an abandoned stream may take to stop (a cancelled statement stops within a second)
PREFETCH_JOIN_SECONDS = 60
#: source checks running at once beside the load, each on a connection of its own: the one source
#: with duplicate IDs is known when its own check ends, not after the checks of the sources before it
PARALLEL_CHECKS = 4


def prefetch(chunks: Iterator[bytes], depth: int, cancel: Callable[[], None] | None = None) -> Iterator[bytes]:
    """Run ``chunks`` in a thread, at most ``depth`` chunks ahead of the consumer.

    However the consumer stops (the end, an error, or closing this generator early), the thread
    closes ``chunks`` — so a statement streaming into it ends and frees its connection — and is
    joined before this generator returns. ``cancel`` interrupts a source waiting on its server;
    it is called from the consumer's thread when it stops before the end.
    """
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    finished = threading.Event()  # the source ran to its end or failed: nothing left to cancel

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for chunk in chunks:
                if not put(("chunk", chunk)):
                    return
            finished.set()
            put(("end", None))
        except BaseException as exc:
            finished.set()
            put(("error", exc))
        finally:
            # In this thread, which ran it: a generator source leaves its statement here.
            close = getattr(chunks, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

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
        stop.set()
        if cancel is not None and not finished.is_set():
            with contextlib.suppress(Exception):
                cancel()
        thread.join(timeout=PREFETCH_JOIN_SECONDS)
        if thread.is_alive():
            raise RunFailed(f"the warehouse stream did not stop within {PREFETCH_JOIN_SECONDS} s of being "
                            "abandoned; its connection cannot be used again")


def each_pass(queries: list[Query], read: Callable[[Query], Iterator[T]]) -> Iterator[T]:
    """What ``read`` gives for each query, one after another: the passes of one extract
    (``Warehouse.extract_passes``) are one stream (closing it closes the pass being read)."""
    for q in queries:
        yield from read(q)


class Reader:
    """How one warehouse connection is read: rows with ``fetchmany``, unless a family knows better."""

    #: whether the source checks (rows and duplicate IDs of partition D: a GROUP BY over it) are
    #: worth running on a second connection while the load runs
    checks_alongside_load: ClassVar[bool] = False
    #: whether the engine writes query results as CSV itself (``csv_chunks``)
    exports_csv: ClassVar[bool] = False
    #: the SQL of a service's snapshot in the warehouse's scratch place (``engine/snapshots.py``);
    #: None: the family keeps no snapshots (its ``changes`` runs diff in the target)
    snapshot_sql: ClassVar[type[SnapshotSql] | None] = None

    def __init__(self, conn: Any, conn_id: str, dialect: Dialect):
        self.conn, self.conn_id, self.dialect = conn, conn_id, dialect
        #: how its engine's memory is sized per statement: a family whose engine runs in the task's
        #: process supplies its own (DuckDB); a server sizes its statements itself
        self.memory: MemoryStrategy = NO_MEMORY_STRATEGY

    @classmethod
    def open(cls, where: Resolved) -> Reader:
        """The warehouse ``where``, opened read-only and read by this class."""
        return cls(where.open(read_only=True), where.conn_id, where.dialect)

    def explain(self, exc: BaseException, what: str) -> RunFailed | None:
        """A clearer error for ``exc`` raised by ``what``, or None."""
        return None

    # ---- types ---------------------------------------------------------------------------------
    def column_type(self, table: str, column: str) -> Any:
        """The type of ``column`` of warehouse table ``table`` as the engine names it, comparable
        with another column's; None when the engine does not say (SQLite's sqlite3)."""
        asked = self.dialect.column_type_sql(table, column)
        cur = self.conn.cursor()
        try:
            if asked is not None:
                cur.execute(*asked)
                row = cur.fetchone()
                return tuple(row) if row else None
            cur.execute(type_probe_sql(self.dialect, table, column))
            type_code = cur.description[0][1]
            cur.fetchall()
            return type_code
        finally:
            with contextlib.suppress(Exception):
                cur.close()

    # ---- reading -------------------------------------------------------------------------------
    def stream(self, query: Query, batch_size: int) -> Iterator[list[tuple[Any, ...]]]:
        """Result batches of ``query``, never the whole result in memory."""
        # DB-API drivers of warehouses stream results to fetchmany in chunks (Trino pages through
        # the result, SQLite steps its statement); none materializes it all.
        self.memory.use_lean(query.scan_only, query.operators)
        cur = self.conn.cursor()
        try:
            try:
                cur.execute(query.sql, query.params)
            except Exception as exc:
                explained = self.explain(exc, "the extract query")
                if explained is not None:
                    raise explained from None
                raise
            while batch := cur.fetchmany(batch_size):
                yield batch
        finally:
            with contextlib.suppress(Exception):
                cur.close()

    def csv_chunks(self, query: Query, fmt: CsvFormat) -> Iterator[bytes]:
        """The result of ``query`` as CSV bytes in ``fmt``, in chunks (only when ``exports_csv``)."""
        raise NotImplementedError

    def reset(self) -> None:
        # psycopg in autocommit needs nothing; a failed statement in a PG transaction would.
        with contextlib.suppress(Exception):
            self.conn.rollback()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


class BackgroundChecks:
    """Source checks running on connections of their own while the load goes on."""

    def __init__(self, sources: int) -> None:
        #: per source, in the spec's order: its check, or what the check raised (None: not yet)
        self.results: list[SourceCheck | None] = [None] * sources
        self.errors: list[BaseException | None] = [None] * sources
        self.threads: list[threading.Thread] = []

    def __call__(self) -> list[SourceCheck]:
        """Wait for every check; their results, or what the first failing source's check raised."""
        for thread in self.threads:
            thread.join()
        for error in self.errors:
            if error is not None:
                raise error
        return [c for c in self.results if c is not None]

    def spoil_the_load(self) -> bool:
        """Already known, without waiting: a check failed or found a source repeating IDs, so the load
        running on the assumption that none does is wasted."""
        return (any(e is not None for e in self.errors)
                or any(c is not None and c.duplicates for c in self.results))


@dataclass
class SourceCheck:
    table: str
    partition: str | None  # "ds=20261123"
    rows: int
    duplicates: int


class Warehouse:
    def __init__(self, where: Resolved, conn: Any = None):
        """Opens the warehouse ``where`` (resolved by the caller) read-only, or reads through ``conn``
        when the target is the warehouse."""
        self.where, self.conn_id = where, where.conn_id
        #: the target is the warehouse: one connection reads and writes, the data never leaves it
        self.is_the_target = conn is not None
        if conn is not None:  # the target's own dialect reads it too, the plain way
            self.reader = Reader(conn, where.conn_id, where.dialect)
        else:
            self.reader = (where.reader_class() or Reader).open(where)
        self.conn, self.dialect = self.reader.conn, self.reader.dialect

    @property
    def memory(self) -> MemoryStrategy:
        """How the warehouse's memory is sized per statement (its reader's strategy)."""
        return self.reader.memory

    def close(self) -> None:
        self.reader.close()

    def fetchone(self, query: Query) -> Any:
        cur = self.conn.cursor()
        try:
            cur.execute(query.sql, query.params)
            return cur.fetchone()
        finally:
            with contextlib.suppress(Exception):
                cur.close()

    def check_source(self, src: SourceSpec, data_date: dt.date, key_type: str | None = None) -> SourceCheck:
        """Rows and duplicate IDs of one source for D; a clear error if the table is missing.
        ``key_type``: the entity key's value type, when known (it may choose a faster count)."""
        part = (f"{src.partition.column}={format_date(data_date, src.partition.format)}"
                if src.partition else None)
        query = source_check_sql(self.dialect, src, data_date, key_type)
        try:
            rows, duplicates = self.memory.lean_first(lambda: self.fetchone(query))
        except Exception as exc:
            explained = self.reader.explain(exc, f"the check of source table {src.table!r}")
            if explained is not None:
                raise explained from None
            self.reader.reset()
            first = first_line(exc)
            raise RunFailed(f"source table {src.table!r} cannot be read from the warehouse "
                            f"{self.conn_id!r}: {first}") from None
        return SourceCheck(src.table, part, int(rows), int(duplicates))

    def native_lookups(self, spec: RunSpec) -> frozenset[LookupJoin]:
        """The lookup-table joins of ``spec`` whose tag column and code column have one type here:
        they join on it; the others on their text. A column the engine cannot describe is cast."""
        same: set[LookupJoin] = set()
        for join in lookup_joins(spec):
            lookup = spec.lookups[join.lookup]
            assert lookup.table and lookup.code_column
            try:
                tag_type = self.reader.column_type(spec.sources[join.source].table, join.column)
                code_type = self.reader.column_type(lookup.table, lookup.code_column)
            except Exception:  # a missing table or column: the extract or a check says so clearly
                self.reader.reset()
                continue
            if tag_type is not None and tag_type == code_type:
                same.add(join)
        return frozenset(same)

    def extract_passes(self, spec: RunSpec, checks: list[SourceCheck], dedupe: frozenset[int]) -> int:
        """In how many passes (``extract.Slice``) the extract of ``spec`` reads the entity IDs: one,
        unless it joins or deduplicates and the memory strategy bounds that memory by passes."""
        if self.is_the_target or not checks or (len(spec.sources) == 1 and not dedupe):
            return 1
        # held per ID: every source's key and every output
        per_pass = self.memory.rows_per_pass(len(spec.sources) + len(spec.outputs), hash_operators(spec, dedupe))
        rows = max(c.rows for c in checks)
        if per_pass is None or rows <= per_pass or self.dialect.slice_of("k", 2) is None:
            return 1
        # Equal IDs must hash alike in every source: keys of one type (else one pass, as before).
        try:
            types = {self.reader.column_type(src.table, src.key) for src in spec.sources}
        except Exception:
            self.reader.reset()
            return 1
        return -(-rows // per_pass) if len(types) == 1 and None not in types else 1

    @property
    def checks_alongside_load(self) -> bool:
        """Whether the source checks run on a second connection while the load runs (the family's
        reader says whether they are worth it; never on the target's own connection)."""
        return self.reader.checks_alongside_load and not self.is_the_target

    def check_sources_in_background(self, sources: list[SourceSpec], data_date: dt.date,
                                    key_type: str | None = None) -> BackgroundChecks:
        """Start ``check_source`` of every source, on connections of their own: up to
        ``PARALLEL_CHECKS`` sources at once, each connection taking the next source in the spec's order."""
        checks = BackgroundChecks(len(sources))
        pending = queue.SimpleQueue[int]()
        for i in range(len(sources)):
            pending.put(i)
        failed = threading.Event()  # the run fails anyway: the sources not begun are not checked

        def next_source() -> int | None:
            try:
                return None if failed.is_set() else pending.get_nowait()
            except queue.Empty:
                return None

        def work() -> None:
            try:
                other = Warehouse(self.where)
            except BaseException as exc:
                # Said as the check of the next source failing: the runner raises the first error.
                i = next_source()
                if i is not None:
                    checks.errors[i] = exc
                    failed.set()
                return
            try:
                while (i := next_source()) is not None:
                    try:
                        checks.results[i] = other.check_source(sources[i], data_date, key_type)
                    except BaseException as exc:
                        checks.errors[i] = exc
                        failed.set()
            finally:
                other.close()

        for _ in range(min(len(sources), PARALLEL_CHECKS)):
            thread = threading.Thread(target=work, name="tagoffline-source-checks", daemon=True)
            checks.threads.append(thread)
            thread.start()
        return checks

    def stream(self, query: Query, batch_size: int) -> Iterator[list[tuple[Any, ...]]]:
        """Result batches of ``query``, never the whole result in memory."""
        return self.reader.stream(query, batch_size)

    # ---- CSV transfer: the warehouse engine writes the rows, Python only moves bytes ---------
    @property
    def can_export_csv(self) -> bool:
        return self.reader.exports_csv

    def csv_chunks(self, query: Query, fmt: CsvFormat) -> Iterator[bytes]:
        """The result of ``query`` as CSV bytes, in chunks, in the target's format ``fmt``."""
        return self.reader.csv_chunks(query, fmt)
