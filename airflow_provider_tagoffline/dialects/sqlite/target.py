"""SQLite (embedded targets).

* Stage: the live table's own ``CREATE TABLE`` statement, renamed; indexes and triggers are
  recreated after the swap with their original statements.
* Load: ``executemany`` in one transaction.
* Swap: one ``BEGIN IMMEDIATE`` transaction with ``legacy_alter_table`` so views keep naming the
  live table (not the renamed old one); readers in WAL mode keep their snapshot meanwhile.
* The data date held: SQLite has no table comments, so a row per table in ``_tagoffline_held`` of the
  same file, written inside the swap's transaction.
* Bounded lock waits (``lockwait.py``): the swap waits at most ``busy_timeout`` (1.5 s) for another
  writer (``BEGIN IMMEDIATE``) and, in rollback-journal mode, for readers to let go of the file at
  ``COMMIT`` — while it waits there, new readers are refused (SQLITE_BUSY) or wait on their own busy
  timeout; then it rolls back and runs again. In WAL mode readers never hold it back. SQLite cannot
  say which connection holds the file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_tagoffline.dialects.sqlite.dialect import HELD_TABLE
from airflow_provider_tagoffline.engine.targets import lockwait
from airflow_provider_tagoffline.engine.targets.base import LoadResult, Row, Target, lock_retried, rename_create_table
from airflow_provider_tagoffline.engine.targets.filelock import file_lock
from airflow_provider_tagoffline.engine.targets.held import HeldRecord
from airflow_provider_tagoffline.engine.types import ColumnType

_HELD_FIELDS = ("data_date", "service", "run_id", "by", "at", "write_id", "digest")
#: the fields a table made before load mode changes' digest lacks (added by ALTER TABLE when a record has them)
_NEWER_FIELDS = ("write_id", "digest")
#: the row hash, a function of the target's connection (prepare_digest)
ROW_HASH = "tagoffline_row_hash"


def row_hash(*values: Any) -> int:
    """32 bits of the BLAKE2b of the row's values in a canonical, typed form: NULL, '' and 0 all differ; an
    integral REAL hashes as the INTEGER it equals (SQLite compares them equal). 32 bits, unsigned: a SUM over
    2**31 rows stays below 2**63, where SQLite's SUM would fail on an integer overflow."""
    h = hashlib.blake2b(digest_size=4)
    for v in values:
        if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 63:
            v = int(v)
        if v is None:
            h.update(b"N;")
        elif isinstance(v, int):
            h.update(b"i%d;" % v)
        elif isinstance(v, float):
            h.update(b"f" + v.hex().encode() + b";")
        else:
            data = v.encode("utf-8", "surrogatepass") if isinstance(v, str) else bytes(v)
            h.update(b"s" if isinstance(v, str) else b"b")
            h.update(b"%d:" % len(data) + data)
    return int.from_bytes(h.digest(), "big")


def sqlite_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)  # the column's affinity decides; sqlite3 cannot bind Decimal
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


class SQLiteTarget(Target):
    digest_alongside = False  # an engine in this process: its connection is its thread's
    begin_sql = "BEGIN IMMEDIATE"
    blocker_hint = ("SQLite cannot name the connection holding the database file; in WAL mode "
                    "(PRAGMA journal_mode = WAL) readers never hold the swap back")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.schema = None  # one file, one schema
        self._rebuild: list[str] = []
        self._record: HeldRecord | None = None
        #: columns of HELD_TABLE its file lacks (a table made before them), added by the next record's statements
        self._held_missing: tuple[str, ...] = ()

    def q(self, table: str) -> str:
        return self.d.quote(table)

    @contextlib.contextmanager
    def lock(self, wait_seconds: float | None = None) -> Iterator[None]:
        path = self.scalar("SELECT file FROM pragma_database_list WHERE name = 'main'") or ""
        if not path:  # in-memory: nothing else can reach it
            yield
            return
        with file_lock(path, self.display_name, wait_seconds):
            yield

    def exists(self, table: str) -> bool:
        return self.scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", [table]) > 0

    # ---- bounded lock waits: the busy timeout, set before BEGIN (which waits for other writers itself) --
    def lock_timeout_sql(self, seconds: float) -> list[str]:
        return [f"PRAGMA busy_timeout = {round(seconds * 1000)}"]

    @contextlib.contextmanager
    def bounded(self, transaction: contextlib.AbstractContextManager[None]) -> Iterator[None]:
        previous = int(self.scalar("PRAGMA busy_timeout") or 0)
        self.run_statements(self.lock_timeout_sql(lockwait.ATTEMPT_SECONDS))
        try:
            with transaction:
                yield
        finally:
            self.run_statements([f"PRAGMA busy_timeout = {previous}"])

    def is_lock_timeout(self, exc: BaseException) -> bool:
        # SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes
        return isinstance(exc, sqlite3.OperationalError) and (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (5, 6)

    def column_types(self, table: str) -> dict[str, ColumnType]:
        cur = self.execute("SELECT name, type FROM pragma_table_info(?)", [table])
        try:
            # SQLite stores any value in any column (type affinity): only existence is checked.
            return {name: ColumnType(raw=t or "", family="any") for name, t in cur.fetchall()}
        finally:
            cur.close()

    def _schema_sql(self, table: str, kinds: tuple[str, ...]) -> list[str]:
        marks = ", ".join("?" * len(kinds))
        cur = self.execute(f"SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ({marks}) "
                           "AND sql IS NOT NULL ORDER BY type, name", [table, *kinds])
        try:
            return [r[0] for r in cur.fetchall()]
        finally:
            cur.close()

    def prepare_stage(self) -> None:
        (create,) = self._schema_sql(self.live, ("table",))
        # Indexes and triggers belong to the live table's name; rebuilt after the swap.
        self._rebuild = self._schema_sql(self.live, ("index", "trigger"))
        self.run_in_tx([rename_create_table(create, self.q(self.stage))])

    def load(self, columns: list[str], batches: Iterable[list[Row]]) -> LoadResult:
        cols = ", ".join(self.d.quote(c) for c in columns)
        sql = f"INSERT INTO {self.load_ref} ({cols}) VALUES ({', '.join('?' * len(columns))})"
        rows = 0
        with self.transaction():
            cur = self.conn.cursor()
            for batch in batches:
                cur.executemany(sql, [tuple(map(sqlite_value, row)) for row in batch])
                rows += len(batch)
                if rows == len(batch):
                    self.checkpoint("during_load")
            cur.close()
        return LoadResult(rows=rows, method="executemany")

    def swap_sql(self) -> list[str]:
        return (self.rename_sql(self.live, self.backup) + self.rename_sql(self.stage, self.live)
                + self.drop_sql(self.backup) + list(self._rebuild)
                + (self.held_record_sql(self._record, None) if self._record else []))

    # ---- the data date held: a row of HELD_TABLE, written by the swap's own transaction ----------
    def held_record_sql(self, record: HeldRecord, live_comment: str | None) -> list[str]:
        lit = self.d.quote_literal
        cols = ", ".join(self.d.quote(c) for c in ("table_name", *_HELD_FIELDS))
        values = ", ".join(lit(v) for v in (self.live, record.data_date.isoformat(), record.service, record.run_id,
                                             record.by, record.at, record.write_id, record.digest))
        updates = ", ".join(f"{self.d.quote(c)} = excluded.{self.d.quote(c)}" for c in _HELD_FIELDS)
        return [f"CREATE TABLE IF NOT EXISTS {self.q(HELD_TABLE)} ({self.d.quote('table_name')} TEXT PRIMARY KEY, "
                + ", ".join(f"{self.d.quote(c)} TEXT" for c in _HELD_FIELDS) + ")",
                *(f"ALTER TABLE {self.q(HELD_TABLE)} ADD COLUMN {self.d.quote(c)} TEXT" for c in self._held_missing),
                f"INSERT INTO {self.q(HELD_TABLE)} ({cols}) VALUES ({values}) "
                f"ON CONFLICT ({self.d.quote('table_name')}) DO UPDATE SET {updates}"]

    def _held_columns(self) -> set[str]:
        """The columns HELD_TABLE has in this file (none: no such table); notes the ones it lacks."""
        cur = self.execute("SELECT name FROM pragma_table_info(?)", [HELD_TABLE])
        try:
            have = {r[0] for r in cur.fetchall()}
        finally:
            cur.close()
        self._held_missing = tuple(c for c in _NEWER_FIELDS if have and c not in have)
        return have

    def record_held(self, record: HeldRecord) -> None:
        self._held_columns()
        self._record = record  # swap_sql writes it, inside the swap's transaction

    # ---- load mode changes: the record is a row of HELD_TABLE, written in the changes' transaction --------
    def temp_ref(self, name: str) -> str:
        return f"temp.{self.d.quote(name)}"

    def create_temp_sql(self, name: str, select: str) -> str:
        return f"CREATE TABLE {self.temp_ref(name)} AS {select}"

    def distinct_sql(self, a: str, b: str) -> str:
        return f"{a} IS NOT {b}"

    def changes_record_sql(self, record: HeldRecord) -> list[str]:
        self._held_columns()
        return self.held_record_sql(record, None)

    def read_held(self) -> HeldRecord | None:
        fields = [c for c in _HELD_FIELDS if c in self._held_columns()]
        if not fields:
            return None
        cur = self.execute(f"SELECT {', '.join(self.d.quote(c) for c in fields)} FROM {self.q(HELD_TABLE)} "
                           f"WHERE {self.d.quote('table_name')} = ?", [self.live])
        try:
            row = cur.fetchone()
        finally:
            cur.close()
        if row is None:
            return None
        return HeldRecord.from_json(json.dumps(dict(zip(fields, row, strict=True))))

    # ---- the table's digest: a function of this connection ---------------------------------------------
    def prepare_digest(self) -> None:
        self.conn.create_function(ROW_HASH, -1, row_hash, deterministic=True)

    def row_hash_sql(self, alias: str, columns: list[str]) -> str:
        return f"{ROW_HASH}(" + ", ".join(f"{alias}.{self.d.quote(c)}" for c in columns) + ")"

    @lock_retried("the swap of {table}")
    def swap(self) -> None:
        stmts = self.swap_sql()
        self.run_statements(["PRAGMA legacy_alter_table = ON"])
        try:
            with self.bounded(self.transaction()):
                self.run_statements(stmts[:1])
                self.checkpoint("inside_swap")
                self.run_statements(stmts[1:])
        finally:
            self.run_statements(["PRAGMA legacy_alter_table = OFF"])

    def size_bytes(self, table: str) -> int | None:
        try:
            return int(self.scalar("SELECT SUM(pgsize) FROM dbstat WHERE name = ?", [table]) or 0)
        except Exception:  # dbstat is an optional compile-time module
            return None
