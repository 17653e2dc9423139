"""The target interface: everything a run does to the target database, one subclass per family
(``dialects/<family>/target.py``).

The runner (``engine/runner.py``) only calls these methods, in this order::

    lock → recover → check_table → read_held → prepare_stage → load → finish_stage → stats
         → record_held → swap → drop leftovers

Statement *generation* is kept in methods ending in ``_sql`` that return strings and never touch a
connection, so each dialect's SQL is unit-testable without a server (Oracle relies on that).

Every step that takes an exclusive lock on the live table (the swap, a partition's replacement, the
recovery renames) runs in ``bounded`` transactions retried by ``with_lock_retries`` (``lockwait.py``):
a family supplies only ``lock_timeout_sql``, ``is_lock_timeout`` and ``blockers``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from airflow_provider_tagoffline.contract.dialect import Dialect
from airflow_provider_tagoffline.engine import faults
from airflow_provider_tagoffline.engine.extract import Query
from airflow_provider_tagoffline.engine.targets import lockwait
from airflow_provider_tagoffline.engine.targets.held import (
    HeldRecord,
    TableDigest,
    comment_with,
    join_comment,
    longest_record,
    split_comment,
)
from airflow_provider_tagoffline.engine.targets.lockwait import Blocker, LockPatienceExhausted, LockWaits
from airflow_provider_tagoffline.engine.types import ColumnType, incompatibility
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runspec import OutputSpec, TargetSpec

log = logging.getLogger(__name__)

STAGE_SUFFIX = "_dpfx_b"
BACKUP_SUFFIX = "_dpfx_tmp"

Row = Sequence[Any]
T = TypeVar("T")
M = TypeVar("M", bound=Callable[..., Any])


def lock_retried(what: str) -> Callable[[M], M]:
    """A Target method that is one atomic step taking exclusive locks in ``bounded`` transactions, run
    again while its lock is not granted (``Target.with_lock_retries``); ``what`` may name ``{table}`` and
    ``{partition}`` (the value of partition D)."""
    def wrap(method: M) -> M:
        @functools.wraps(method)
        def retried(self: Target, *args: Any, **kwargs: Any) -> Any:
            return self.with_lock_retries(what.format(table=self.display_name, partition=self.partition_value),
                                          lambda: method(self, *args, **kwargs))
        return retried  # type: ignore[return-value]
    return wrap

_CREATE_NAME = re.compile(
    r'^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")*"|\[[^\]]*\]|`(?:[^`]|``)*`|[^\s(]+)\s*\(',
    re.IGNORECASE)


def rename_create_table(create_sql: str, new_quoted_name: str) -> str:
    """``CREATE TABLE old (...)`` → ``CREATE TABLE new (...)``, the body untouched."""
    m = _CREATE_NAME.match(create_sql)
    if not m:
        raise RunFailed(f"cannot read the table definition: {create_sql[:80]!r}")
    return f"CREATE TABLE {new_quoted_name} (" + create_sql[m.end():]


@contextlib.contextmanager
def spooled(batches: Iterable[list[Row]], suffix: str,
            lines: Callable[[list[Row]], str]) -> Iterator[tuple[str, int]]:
    """The rows of ``batches`` in a temporary file, each batch written as ``lines(batch)``:
    ``(path, rows)``; the file is removed afterwards."""
    fd, path = tempfile.mkstemp(prefix="tagoffline-", suffix=suffix)
    rows = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            for batch in batches:
                f.write(lines(batch))
                rows += len(batch)
        yield path, rows
    finally:
        os.unlink(path)


@dataclass(frozen=True)
class CsvFormat:
    """The CSV a target bulk-loads, which the warehouse engine writes for it (``Target.load_csv``).

    Comma-separated, one row a line, quotes doubled inside quoted values, no header.
    """

    #: every value quoted and NULL the bare word NULL; otherwise NULL is an unquoted empty field
    #: and an empty string ``""``
    quote_all: bool = False
    #: booleans as 1 and 0 (a target that loads them into integer columns)
    booleans_as_int: bool = False


@dataclass
class LoadResult:
    rows: int
    method: str  # e.g. "COPY", "LOAD DATA LOCAL INFILE", "executemany"
    #: ``rows`` is exactly what the stage now holds (COPY is all or nothing; our LOAD DATA fails on
    #: any warning and reports the server's count), so the gates need not scan the stage to count it
    exact_count: bool = False


@dataclass
class TableStats:
    rows: int
    nulls: dict[str, int]  # column -> NULL count


class Target:
    """One target table on one connection. Subclasses implement the dialect-specific parts."""

    #: what starts a transaction (``BEGIN IMMEDIATE``: SQLite's, writing from the start)
    begin_sql: ClassVar[str] = "BEGIN"
    #: the longest table comment the engine keeps, in characters or in bytes (UTF-8); None: no limit
    comment_limit: ClassVar[tuple[int, str] | None] = None
    #: False where every DDL statement commits by itself (MySQL, Oracle): a retried step is then one statement
    transactional_ddl: ClassVar[bool] = True
    #: said when the sessions in the way cannot be named (an engine without session views)
    blocker_hint: ClassVar[str] = ""

    def __init__(self, spec: TargetSpec, conn: Any, dialect: Dialect):
        self.spec = spec
        self.conn = conn
        self.d = dialect
        self.schema = spec.schema_
        self.live = spec.table
        self.stage = spec.table + STAGE_SUFFIX
        self.backup = spec.table + BACKUP_SUFFIX
        #: set by the runner for partitioned targets: only rows with this value are replaced
        self.partition_column: str | None = None
        self.partition_value: str | None = None
        #: how this run writes: the service's load mode, or ``overwrite`` when a ``changes`` run knows before
        #: its load that it swaps (its stage is then a swap's from the start)
        self.load_mode = spec.load
        #: the run's bounded lock waits against the service's patience (the run report shows them)
        self.lock_waits = LockWaits(lambda: lockwait.patience_seconds(spec.wait_for_lock))

    # ---- naming -------------------------------------------------------------------------
    def q(self, table: str) -> str:
        """A table of the target's schema, qualified and quoted."""
        return self.d.qualify(self.schema, table)

    @property
    def display_name(self) -> str:
        return f"{self.schema}.{self.live}" if self.schema else self.live

    @staticmethod
    def lock_key(*resolved: str | None) -> str:
        """The name of the run lock of the table the server resolves to (``resolved``: its database /
        schema / table as the server names them). Keyed on the resolved table, not on how the service
        spells it, so ``t`` and ``public.t`` take one lock; 51 characters, within every engine's limit."""
        return "tagoffline:" + hashlib.sha1(json.dumps(resolved, ensure_ascii=False).encode()).hexdigest()

    # ---- execution helpers --------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params) if params is not None else cur.execute(sql)
        except Exception:
            with contextlib.suppress(Exception):
                cur.close()
            raise
        return cur

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        cur = self.execute(sql, params)
        try:
            row = cur.fetchone()
        finally:
            cur.close()
        return None if row is None else row[0]

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        cur = self.execute(sql, params)
        try:
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()

    def run_statements(self, statements: Iterable[str]) -> None:
        for sql in statements:
            cur = self.execute(sql)
            cur.close()

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """One database transaction (DDL included where the engine supports it)."""
        return self.statement_transaction(self.begin_sql)

    @contextlib.contextmanager
    def statement_transaction(self, begin: str) -> Iterator[None]:
        """A transaction opened by the statement ``begin``, committed, or rolled back on any error."""
        self.run_statements([begin])
        try:
            yield
            # A COMMIT that fails (SQLite's SQLITE_BUSY) leaves the transaction open: rolled back too.
            self.run_statements(["COMMIT"])
        except BaseException:
            with contextlib.suppress(Exception):
                self.run_statements(["ROLLBACK"])
            raise

    # ---- to implement per family ---------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, wait_seconds: float | None = None) -> Iterator[None]:
        """Exclusive right to write this target for the whole run, waiting for it up to ``wait_seconds``
        (None: the family's usual wait)."""
        raise NotImplementedError

    def exists(self, table: str) -> bool:
        raise NotImplementedError

    def column_types(self, table: str) -> dict[str, ColumnType]:
        """Columns of ``table`` (name as stored → type); empty if the table does not exist."""
        raise NotImplementedError

    def rename_sql(self, old: str, new: str) -> list[str]:
        return [f"ALTER TABLE {self.q(old)} RENAME TO {self.d.quote(new)}"]

    def drop_sql(self, table: str) -> list[str]:
        return [f"DROP TABLE {self.q(table)}"]

    def prepare_stage(self) -> None:
        """Create ``{table}_dpfx_b`` with the live table's columns, empty, ready for the load."""
        raise NotImplementedError

    #: set while a load writes elsewhere than the stage (``loading_into``)
    _load_into: str | None = None

    @property
    def load_ref(self) -> str:
        """The table ``load`` / ``load_csv`` write into, quoted: the stage, or what ``loading_into`` names."""
        return self._load_into or self.q(self.stage)

    @contextlib.contextmanager
    def loading_into(self, ref: str) -> Iterator[None]:
        """Loads inside the block write into ``ref`` (a quoted table: a changes run's temporary change set)
        through the family's own fastest path, as a stage is loaded."""
        self._load_into = ref
        try:
            yield
        finally:
            self._load_into = None

    def load(self, columns: list[str], batches: Iterable[list[Row]]) -> LoadResult:
        raise NotImplementedError

    #: the CSV this target bulk-loads from a warehouse that writes CSV, or None for row loading
    csv_format: ClassVar[CsvFormat | None] = None

    def load_csv(self, columns: list[str], chunks: Iterable[bytes]) -> LoadResult:
        """Load CSV bytes produced by the warehouse engine (only when ``csv_format`` is set)."""
        raise NotImplementedError

    def load_from_query(self, columns: list[str], query: Query) -> LoadResult:
        """Load the stage from a query of this same database (the ``warehouse`` target kind)."""
        cols = ", ".join(self.d.quote(c) for c in columns)
        with self.transaction():
            cur = self.execute(f"INSERT INTO {self.q(self.stage)} ({cols}) {query.sql}", query.params)
            cur.close()
        self.checkpoint("during_load")
        return LoadResult(rows=0, method="INSERT ... SELECT inside the warehouse")

    def finish_stage(self) -> None:
        """After the load: build what is cheaper to build on a full table (indexes)."""
        self.checkpoint("index")

    def check_dependents(self) -> None:
        """Preflight: refuse objects depending on the live table that a swap could not keep."""

    def swap(self) -> None:
        """Live ← stage, old live dropped: atomically where the engine allows it (spec §5.6)."""
        raise NotImplementedError

    def size_bytes(self, table: str) -> int | None:
        return None

    def read_only_statements(self) -> list[str]:
        """What makes this session refuse writes (a preview's guarantee), where the engine has it."""
        return []

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    # ---- the data date the table holds (spec §4, docs/data-dates.md) ---------------------
    # One pair per family: ``held_record_sql`` (pure) and ``read_held``. By default the record is the
    # last line of the table's own comment, written on the stage just before the swap: the swap that
    # makes the stage's rows live makes their record live with them, atomically wherever the swap is,
    # and a run that fails or dies before it leaves the live table and its record as they were.
    def table_comment(self, table: str) -> str | None:
        """``table``'s comment as stored (None: none)."""
        raise NotImplementedError

    def table_comment_sql(self, table: str, text: str) -> str:
        """The statement giving ``table`` the comment ``text`` (pure)."""
        raise NotImplementedError

    def read_held(self) -> HeldRecord | None:
        """What the live table records about the data date it holds (None: nothing recorded)."""
        return split_comment(self.table_comment(self.live))[1]

    def held_record_sql(self, record: HeldRecord, live_comment: str | None) -> list[str]:
        """What records ``record`` with the table (pure): the stage's comment becomes the live table's own
        text (``live_comment`` without its record) followed by ``record``."""
        return [self.table_comment_sql(self.stage, self.record_comment(split_comment(live_comment)[0], record))]

    def record_comment(self, user_text: str | None, record: HeldRecord) -> str:
        """The comment a swap gives the table: the user's text, then ``record``'s line (pure; a family
        whose line carries more says so here, and the preflight's room check counts it)."""
        return join_comment(user_text, record)

    def record_held(self, record: HeldRecord) -> None:
        """Attach ``record`` to the stage, right before ``swap`` (the comment as it is then)."""
        self.run_statements(self.held_record_sql(record, self.table_comment(self.live)))

    def check_record_room(self) -> None:
        """Preflight: the live table's comment leaves room for a record, where the engine limits comments."""
        if self.comment_limit is None:
            return
        limit, unit = self.comment_limit
        user_text = split_comment(self.table_comment(self.live))[0]
        longest = self.record_comment(user_text, longest_record())
        size = len(longest.encode()) if unit == "bytes" else len(longest)
        if size > limit:
            raise RunFailed(f"the comment of table {self.display_name} leaves no room for the record of the data "
                            f"date it holds (the engine keeps {limit} {unit}): shorten it by {size - limit} {unit} "
                            "or more")

    # ---- load mode changes (engine/changes.py, docs/changes-mode.md) ----------------------
    #: why this family cannot take a ``changes`` run (None: it can): its record of the data date must be
    #: written by the same transaction as the rows
    changes_refusal: ClassVar[str | None] = None

    def changes_refused(self) -> str | None:
        """Preflight: why this table cannot take a ``changes`` run now (None: it can)."""
        return self.changes_refusal

    def prepare_changes(self) -> None:
        """Before the diff: what the changes' transaction needs and cannot create itself (MySQL: HELD_TABLE)."""

    def stage_for_swap(self) -> None:
        """A ``changes`` run swaps after all: make its stage what a swap's stage is (PostgreSQL: logged,
        indexed)."""

    def temp_ref(self, name: str) -> str:
        """A temporary table of this session, quoted (and qualified where the engine needs it)."""
        return self.d.quote(name)

    def create_temp_sql(self, name: str, select: str) -> str:
        return f"CREATE TEMP TABLE {self.temp_ref(name)} AS {select}"

    def distinct_sql(self, a: str, b: str) -> str:
        """``a`` and ``b`` differ, NULL counting as a value (NULL vs NULL: same; NULL vs 1: different)."""
        return f"{a} IS DISTINCT FROM {b}"

    def changes_delta_sql(self, delta: str, key: str, columns: list[str]) -> str:
        """The diff of the stage against the live table, into the temporary table ``delta`` (pure): one row
        per changed ID, ``tagoffline_op`` i(nsert) / u(pdate) / d(elete), ``tagoffline_key`` and the new
        values of ``columns`` (the mapped ones: a column the service does not write is not compared)."""
        q, k = self.d.quote, self.d.quote(key)
        new = ", ".join(f"s.{q(c)}" for c in columns)
        differs = self._row_differs_sql(columns)
        nulls = ", ".join(f"NULL AS {q(c)}" for c in columns)
        sep = ", " if columns else ""
        live, stage = self.q(self.live), self.q(self.stage)
        if self.d.full_outer_join:
            # one join of the two tables (a hash join on PostgreSQL and DuckDB), not three
            op = f"CASE WHEN l.{k} IS NULL THEN 'i' WHEN s.{k} IS NULL THEN 'd' ELSE 'u' END"
            return self.create_temp_sql(delta, (
                f"SELECT {op} AS {q('tagoffline_op')}, COALESCE(s.{k}, l.{k}) AS {q('tagoffline_key')}{sep}{new} "
                f"FROM {stage} s FULL JOIN {live} l ON l.{k} = s.{k} "
                f"WHERE l.{k} IS NULL OR s.{k} IS NULL OR {differs}"))
        return self.create_temp_sql(delta, (
            f"SELECT 'u' AS {q('tagoffline_op')}, s.{k} AS {q('tagoffline_key')}{sep}{new} FROM {stage} s "
            f"JOIN {live} l ON l.{k} = s.{k} WHERE {differs} "
            f"UNION ALL SELECT 'i', s.{k}{sep}{new} FROM {stage} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {live} l WHERE l.{k} = s.{k}) "
            f"UNION ALL SELECT 'd', l.{k}{sep}{nulls} FROM {live} l "
            f"WHERE NOT EXISTS (SELECT 1 FROM {stage} s WHERE s.{k} = l.{k})"))

    def empty_delta_sql(self, delta: str, key: str, columns: list[str]) -> str:
        """An empty temporary table ``delta`` in the layout of ``changes_delta_sql`` with the live table's
        types, for a change set computed in the warehouse (pure). Through an outer join so that no column
        inherits a NOT NULL (MySQL's CREATE ... SELECT would): a deleted ID's values are NULL."""
        q = self.d.quote
        values = "".join(f", l.{q(c)}" for c in columns)
        return self.create_temp_sql(delta, (
            f"SELECT 'i' AS {q('tagoffline_op')}, l.{q(key)} AS {q('tagoffline_key')}{values} "
            f"FROM (SELECT 1 AS one) one LEFT JOIN {self.q(self.live)} l ON 1 = 0 WHERE 1 = 0"))

    def delta_loaded(self, delta: str) -> None:
        """After the change set is in ``delta``: what the engine's planner needs to join it with the live
        table through the key's index (PostgreSQL: its statistics)."""

    def changes_sample_sql(self, key: str, columns: list[str], rows: int) -> str:
        """(rows looked at, rows new or different) for the first ``rows`` rows of the stage, each found in the
        live table by its key (pure): a cheap look before the whole diff."""
        k = self.d.quote(key)
        differs = self._row_differs_sql(columns)
        return (f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN l.{k} IS NULL OR {differs} THEN 1 ELSE 0 END), 0) "
                f"FROM (SELECT * FROM {self.q(self.stage)} LIMIT {int(rows)}) s "
                f"LEFT JOIN {self.q(self.live)} l ON l.{k} = s.{k}")

    def _row_differs_sql(self, columns: list[str]) -> str:
        """The live row ``l`` and the stage's row ``s`` differ in one of ``columns`` (NULL-safe; pure)."""
        q = self.d.quote
        return " OR ".join(self.distinct_sql(f"l.{q(c)}", f"s.{q(c)}") for c in columns) or "1 = 0"

    def changes_count_sql(self, delta: str) -> str:
        op = self.d.quote("tagoffline_op")
        return f"SELECT {op}, COUNT(*) FROM {self.temp_ref(delta)} GROUP BY {op}"

    def changes_update_sql(self, delta: str, key: str, columns: list[str]) -> str:
        q = self.d.quote
        sets = ", ".join(f"{q(c)} = d.{q(c)}" for c in columns)
        return (f"UPDATE {self.q(self.live)} SET {sets} FROM {self.temp_ref(delta)} d "
                f"WHERE d.{q('tagoffline_op')} = 'u' AND {q(key)} = d.{q('tagoffline_key')}")

    def changes_delete_sql(self, delta: str, key: str) -> str:
        q = self.d.quote
        return (f"DELETE FROM {self.q(self.live)} WHERE {q(key)} IN (SELECT {q('tagoffline_key')} FROM "
                f"{self.temp_ref(delta)} WHERE {q('tagoffline_op')} = 'd')")

    def changes_apply_sql(self, delta: str, key: str, columns: list[str]) -> tuple[str, str, str]:
        """(delete, update, insert) of the changes in ``delta`` on the live table (pure)."""
        q, live, d = self.d.quote, self.q(self.live), self.temp_ref(delta)
        op, dk = q("tagoffline_op"), q("tagoffline_key")
        cols = ", ".join(q(c) for c in [key, *columns])
        new = ", ".join([dk, *(q(c) for c in columns)])
        delete = self.changes_delete_sql(delta, key)
        insert = f"INSERT INTO {live} ({cols}) SELECT {new} FROM {d} WHERE {op} = 'i'"
        update = self.changes_update_sql(delta, key, columns) if columns else f"SELECT 1 FROM {d} WHERE 1 = 0"
        return delete, update, insert

    def changes_settings_sql(self) -> list[str]:
        """Settings of the changes' transaction, first in it (PostgreSQL: how its planner reaches the rows)."""
        return []

    def changes_record_sql(self, record: HeldRecord) -> list[str]:
        """What records ``record`` on the live table inside the changes' transaction (a transactional comment)."""
        return [self.table_comment_sql(self.live, comment_with(self.table_comment(self.live), record))]

    def changes_drop_delta_sql(self, delta: str) -> str:
        return f"DROP TABLE IF EXISTS {self.temp_ref(delta)}"

    # ---- the table's digest: what it holds, in two numbers (held.TableDigest, docs/changes-mode.md §1) -----
    def row_hash_sql(self, alias: str, columns: list[str]) -> str:
        """An integer expression hashing row ``alias`` over ``columns`` (key first, then outputs; pure): NULL,
        '' and 0 hash differently, equal values of a column's type alike; 64 bits where the engine can."""
        raise NotImplementedError

    def digest_sums_sql(self, alias: str, columns: list[str]) -> str:
        """The aggregates of a digest over the rows ``alias`` (pure): row count, then the sum of the row hashes."""
        return f"COUNT(*), COALESCE(SUM({self.row_hash_sql(alias, columns)}), 0)"

    def digest_sql(self, table: str, columns: list[str]) -> str:
        """(rows, sum of row hashes) of ``table`` (a name of the target's schema, as ``self.live``; pure)."""
        return f"SELECT {self.digest_sums_sql('l', columns)} FROM {self.q(table)} l"

    def ops_list_sql(self, ops: str) -> str:
        """The ops of a change set (a non-empty subset of "iudo": insert, update, delete, old version) as an
        SQL list of literals (pure)."""
        wanted = sorted(set(ops))
        if not wanted or set(wanted) - set("iudo"):
            raise ValueError(f"ops is a non-empty subset of 'iudo', not {ops!r}")
        return ", ".join(self.d.quote_literal(op) for op in wanted)

    def changed_rows_digest_sql(self, delta: str, key: str, columns: list[str], ops: str) -> str:
        """The same over the live rows whose ``key`` is a ``tagoffline_key`` of the temporary table ``delta``
        with ``tagoffline_op`` in ``ops`` (a subset of "iud"; pure). The live table is reached through its
        key (a semi-join driven by the few delta rows), not scanned; a key twice in ``delta`` counts once."""
        q, in_ops = self.d.quote, self.ops_list_sql(ops)
        return (f"SELECT {self.digest_sums_sql('l', columns)} FROM {self.q(self.live)} l WHERE l.{q(key)} IN "
                f"(SELECT d.{q('tagoffline_key')} FROM {self.temp_ref(delta)} d WHERE d.{q('tagoffline_op')} "
                f"IN ({in_ops}))")

    def change_set_digest_sql(self, delta: str, columns: list[str], ops: str) -> str:
        """The same over the rows of the temporary table ``delta`` themselves whose ``tagoffline_op`` is in
        ``ops`` (pure): ``tagoffline_key`` then ``columns`` (the outputs), hashed as the live table's key and
        outputs are (``delta`` has the live table's column types)."""
        q = self.d.quote
        return (f"SELECT {self.digest_sums_sql('d', ['tagoffline_key', *columns])} FROM {self.temp_ref(delta)} d "
                f"WHERE d.{q('tagoffline_op')} IN ({self.ops_list_sql(ops)})")

    #: whether the digest of a change set's rows can be taken from the change set itself (its ``o`` rows: the
    #: versions it replaces, its ``u``/``i`` rows: the versions it writes) instead of reading those rows in the
    #: live table, twice, inside the changes' transaction: where the temporary table stores each value as the
    #: live table does (not SQLite, whose temporary table's column affinity may store 1.0 as 1)
    digest_from_change_set: ClassVar[bool] = False

    def digests_from_change_set(self, key: str, columns: list[str]) -> bool:
        """Whether ``change_set_digest`` stands for the live rows of the change set, for a service writing
        ``key`` and ``columns`` (MySQL: only when they are all the table's stored columns)."""
        return self.digest_from_change_set

    def change_set_digest(self, delta: str, key: str, columns: list[str], ops: str) -> TableDigest:
        """The digest of the rows of ``delta`` with an op of ``ops``: "o" (the versions the changes replace, as
        the warehouse's snapshot holds them) or "ui" (the versions they write); ``key``: the live table's key
        column, ``columns``: the outputs."""
        return self._digest(lambda: self.change_set_digest_sql(delta, columns, ops))

    def prepare_digest(self) -> None:
        """What this session needs before a digest's SQL runs (SQLite: its hash function; PostgreSQL: the
        server's version, which picks the hash). Idempotent."""

    def _digest(self, sql: Callable[[], str]) -> TableDigest:
        self.prepare_digest()  # before the SQL is made: it may pick the hash
        ((rows, total),) = self.rows(sql())
        return TableDigest(int(rows), int(total))

    def table_digest(self, table: str, columns: list[str]) -> TableDigest:
        """The digest of ``table`` over ``columns`` (key first): one scan."""
        return self._digest(lambda: self.digest_sql(table, columns))

    def digest_of_changed_rows(self, delta: str, key: str, columns: list[str], ops: str) -> TableDigest:
        """The digest of the live rows ``delta`` marks with an op of ``ops``: before the changes' DML with "ud"
        (what they remove), after it with "ui" (what they add); ``TableDigest.changed`` does the rest."""
        return self._digest(lambda: self.changed_rows_digest_sql(delta, key, columns, ops))

    #: the digest's scan may run in another thread while the warehouse diffs (a server; not an engine inside
    #: this process whose connection belongs to the thread that opened it)
    digest_alongside: ClassVar[bool] = True

    def digest_after(self, before: TableDigest, removed: TableDigest, added: TableDigest) -> TableDigest:
        """The table's digest after a changes run that removed the row versions ``removed`` and added ``added``
        (pure: a family whose sums wrap says so here)."""
        return before.changed(removed, added)

    # ---- shared logic -------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Leftovers of a crashed run, handled as spec §6 says, before any write. Returns actions."""
        actions: list[str] = []
        live, backup, stage = self.exists(self.live), self.exists(self.backup), self.exists(self.stage)
        if not live and backup:
            # A crash between the two renames of a non-atomic swap: the old data is complete.
            self.run_bounded(f"recovery renaming {self.backup} back to {self.live}",
                             self.rename_sql(self.backup, self.live))
            actions.append(f"renamed {self.backup} back to {self.live} (the live table was missing)")
            live, backup = True, False
        if live and backup:
            self.run_bounded(f"recovery dropping leftover {self.backup}", self.drop_sql(self.backup))
            actions.append(f"dropped leftover {self.backup}")
        if actions:
            self.checkpoint("recovery")  # the old copy handled, the stage not yet
        if stage:
            self.run_bounded(f"recovery dropping leftover {self.stage}", self.drop_sql(self.stage))
            actions.append(f"dropped leftover {self.stage}")
        for a in actions:
            log.warning("recovery on %s: %s", self.display_name, a)
        return actions

    def run_in_tx(self, statements: list[str]) -> None:
        with self.transaction():
            self.run_statements(statements)

    # ---- bounded lock waits (lockwait.py) ------------------------------------------------------
    def lock_timeout_sql(self, seconds: float) -> list[str]:
        """Statements bounding each lock wait of what follows in this transaction (or session, where the
        engine has no other scope) to ``seconds``; none where the engine never waits for a lock."""
        return []

    def exclusive_dml_sql(self) -> list[str]:
        """What takes, bounded, the lock a DML replacement of partition D needs where the engine's lock
        timeout does not bound DML (Oracle: ``LOCK TABLE … WAIT``); readers must stay free."""
        return []

    def is_lock_timeout(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the driver reporting a lock wait cut short by ``lock_timeout_sql`` (or a
        deadlock the server broke by failing this session): the step may run again."""
        return False

    def blockers(self) -> list[Blocker]:
        """The sessions holding locks on the live table, its stage or its backup now."""
        return []

    @contextlib.contextmanager
    def bounded(self, transaction: contextlib.AbstractContextManager[None]) -> Iterator[None]:
        """``transaction``, with every lock wait inside it bounded to ``lockwait.ATTEMPT_SECONDS``."""
        with transaction:
            self.run_statements(self.lock_timeout_sql(lockwait.ATTEMPT_SECONDS))
            yield

    def with_lock_retries(self, what: str, step: Callable[[], T]) -> T:
        """``step`` (one atomic step in ``bounded`` transactions) again while its lock is not granted, up to
        the service's patience; then LockPatienceExhausted naming the sessions in the way."""
        return lockwait.retry(step, what=what, waits=self.lock_waits, is_lock_timeout=self.is_lock_timeout,
                              blockers=self.blockers, hint=self.blocker_hint)

    def run_bounded(self, what: str, statements: list[str]) -> None:
        """``statements`` as one bounded, retried step: one transaction, or one step per statement where
        each DDL commits by itself (so a retry never repeats a statement that went through)."""
        steps = [statements] if self.transactional_ddl else [[sql] for sql in statements]
        for step in steps:
            def once(step: list[str] = step) -> None:
                with self.bounded(self.transaction()):
                    self.run_statements(step)
            self.with_lock_retries(what, once)

    def drop_replaced(self, table: str) -> bool:
        """Drop what a committed swap replaced (where that is a statement of its own): bounded like the swap,
        but the new data is live already, so running out of patience leaves ``table`` to the next run's
        recovery instead of failing this run. Whether it was dropped."""
        try:
            self.run_bounded(f"dropping {table}, replaced by the swap of {self.display_name},", self.drop_sql(table))
        except LockPatienceExhausted as exc:
            log.warning("the new data of %s is live; %s stays until the next run's recovery drops it: %s",
                        self.display_name, table, exc)
            return False
        return True

    # ---- one-click create table ------------------------------------------------------------
    def create_table(self, statements: list[str]) -> None:
        """Run the rendered statements of one-click create table (``create_table/render.py``).

        One statement per driver call with the driver's multi-statement support off, in one
        transaction where the engine's DDL is transactional; where it is not (MySQL, Oracle), a
        table created before a later statement failed is dropped again, so nothing half-made stays.
        """
        self.prepare_for_ddl()
        created = False
        try:
            with self.transaction():
                for sql in statements:
                    self.execute_one(sql)
                    created = True
        except Exception:
            if created and self.exists(self.live):
                with contextlib.suppress(Exception):
                    self.run_statements([f"DROP TABLE {self.q(self.live)}"])
            raise

    def prepare_for_ddl(self) -> None:
        """Set the connection up so that one call runs one statement (drivers that allow more)."""

    def execute_one(self, sql: str) -> None:
        """Run ``sql`` as exactly one statement (the DB-API default of sqlite3 and python-oracledb)."""
        self.execute(sql).close()

    def check_table(self, key_column: str, key_type: str, outputs: list[OutputSpec],
                    partition_column: str | None = None) -> dict[str, ColumnType]:
        """Preflight: the live table exists and has a compatible column for every output."""
        cols = self.column_types(self.live)
        if not cols:
            raise RunFailed(f"target table {self.display_name} does not exist; create it first "
                            f"(tagoffline service ddl NAME --execute)")
        by_lower = {c.lower(): c for c in cols}
        problems: list[str] = []
        wanted = [(key_column, key_type, "the entity ID")] + [
            (o.column, o.type, f"tag {o.tag!r} ({'code name' if o.content == 'codename' else 'value'})")
            for o in outputs]
        if partition_column:
            wanted.append((partition_column, "string", "the partition"))
        for column, value_type, what in wanted:
            actual = cols.get(column) or cols.get(by_lower.get(column.lower(), ""))
            if actual is None:
                problems.append(f"column {column!r} for {what} does not exist")
                continue
            if column == partition_column:
                continue
            why = incompatibility(value_type, actual)
            if why:
                problems.append(f"column {column!r} ({actual.raw}) cannot hold {what} of type {value_type}: {why}")
        if problems:
            raise RunFailed(f"target table {self.display_name}: " + "; ".join(problems))
        return cols

    def stats(self, table: str, columns: list[str]) -> TableStats:
        """Row count and NULL count per column, in one scan."""
        parts = ["COUNT(*)"] + [f"COUNT({self.d.quote(c)})" for c in columns]
        cur = self.execute(f"SELECT {', '.join(parts)} FROM {self.q(table)}")
        try:
            row = cur.fetchone()
        finally:
            cur.close()
        rows = int(row[0])
        return TableStats(rows=rows, nulls={c: rows - int(n) for c, n in zip(columns, row[1:], strict=True)})

    def live_rows(self) -> int:
        """Rows the swap will replace: the whole table, or partition D of a partitioned target."""
        if self.partition_column is None:
            return int(self.scalar(f"SELECT COUNT(*) FROM {self.q(self.live)}"))
        return int(self.scalar(f"SELECT COUNT(*) FROM {self.q(self.live)} WHERE "
                               f"{self.d.quote(self.partition_column)} = {self.d.placeholder}",
                               [self.partition_value]))

    # ---- partitioned targets without native partition exchange ---------------------------
    def replace_partition_sql(self) -> list[str]:
        """Partition D replaced in one transaction: delete D's rows, insert the stage's."""
        assert self.partition_column is not None
        col = self.d.quote(self.partition_column)
        return [f"DELETE FROM {self.q(self.live)} WHERE {col} = {self.d.quote_literal(self.partition_value or '')}",
                f"INSERT INTO {self.q(self.live)} SELECT * FROM {self.q(self.stage)}"]

    def publish(self) -> None:
        """Make the stage live: the whole-table swap, or partition D's replacement."""
        if self.partition_column is None:
            self.swap()
        else:
            self.replace_partition()

    def dml_transaction(self) -> contextlib.AbstractContextManager[None]:
        """A transaction for DML (where DDL commits implicitly, ``transaction`` is none: DML still needs one)."""
        return self.transaction()

    def replace_partition(self) -> None:
        self.replace_rows()
        self.run_in_tx(self.drop_sql(self.stage))

    @lock_retried("the replacement of partition {partition} of {table}")
    def replace_rows(self) -> None:
        delete, insert = self.replace_partition_sql()
        with self.bounded(self.dml_transaction()):
            self.run_statements(self.exclusive_dml_sql())
            self.run_statements([delete])
            self.checkpoint("inside_swap")
            self.run_statements([insert])

    def checkpoint(self, name: str) -> None:
        faults.checkpoint(name)
