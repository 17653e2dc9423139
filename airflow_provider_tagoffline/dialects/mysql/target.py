"""MySQL and MariaDB.

* Stage: ``CREATE TABLE .._dpfx_b LIKE live`` (columns, indexes, comments, partitioning).
* Load: ``LOAD DATA LOCAL INFILE`` of a TSV spooled to a temporary file (measured faster than
  multi-row INSERTs, see docs/performance.md); multi-row INSERTs when the server refuses local
  infile. Any warning (truncation, bad value) fails the load.
* Swap: one ``RENAME TABLE live TO .._dpfx_tmp, .._dpfx_b TO live`` (atomic in MySQL and MariaDB),
  then ``DROP TABLE .._dpfx_tmp``. Table grants and views refer to names, so they follow. Its metadata
  lock waits at most ``lock_wait_timeout`` (1 s) and the statement runs again (``lockwait.py``): one
  atomic statement, so a retry repeats nothing.
* Lock: ``GET_LOCK`` on the target's name.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_tagoffline.engine.targets.base import (
    CsvFormat,
    LoadResult,
    Row,
    Target,
    rename_create_table,
    spooled,
)
from airflow_provider_tagoffline.engine.targets.held import MARK, HeldRecord, TableDigest, split_comment
from airflow_provider_tagoffline.engine.targets.lockwait import Blocker
from airflow_provider_tagoffline.engine.types import ColumnType, classify
from airflow_provider_tagoffline.errors import RunFailed

LOCK_WAIT_SECONDS = 60
#: ER_LOCK_WAIT_TIMEOUT (lock_wait_timeout, innodb_lock_wait_timeout) and ER_LOCK_DEADLOCK
LOCK_TIMEOUT_ERRORS = (1205, 1213)
INSERT_ROWS = 5000
#: the records of the data dates written by changes runs (one row per table and generation), in the target's schema
HELD_TABLE = "tagoffline_held"
#: the temporary copy of the changed rows whose CHECKSUM TABLE is their digest (digest_of_changed_rows)
DIGEST_ROWS = "tagoffline_digest_rows"
#: CHECKSUM TABLE is a sum of 32-bit row CRCs modulo this
CHECKSUM_MODULUS = 2**32
#: the partitioning clause ending SHOW CREATE TABLE (MariaDB's bare, MySQL's inside a versioned comment)
_PARTITIONING = re.compile(r"\n\s*(?:/\*!\d+\s*)?PARTITION BY\b.*\Z", re.DOTALL)
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "\\0"})


def tsv_field(value: Any) -> str:
    """One field of a LOAD DATA text file (default FIELDS/LINES options): NULL is ``\\N``."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, int, float, decimal.Decimal)):
        return str(value)
    return str(value).translate(_ESCAPES)


def tsv_lines(batch: list[Row]) -> str:
    return "".join("\t".join(map(tsv_field, row)) + "\n" for row in batch)


class MySQLTarget(Target):
    transactional_ddl = False
    comment_limit = (2048, "characters")  # a table's COMMENT, MySQL 5.5.3+ and MariaDB

    def q(self, table: str) -> str:
        return self.d.qualify(self.schema, table)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        # DDL commits implicitly in MySQL; atomicity comes from single statements (RENAME TABLE).
        yield

    def prepare_for_ddl(self) -> None:
        # mysqlclient turns multi-statements on at connect; MYSQL_OPTION_MULTI_STATEMENTS_OFF (1) ends that.
        # PyMySQL leaves them off unless asked (CLIENT.MULTI_STATEMENTS = 1 << 16 in client_flag).
        if callable(getattr(self.conn, "set_server_option", None)):
            self.conn.set_server_option(1)
        elif getattr(self.conn, "client_flag", 0) & (1 << 16):
            raise RunFailed("the connection allows several statements per call (client_flag MULTI_STATEMENTS); "
                            "remove it from the connection's extra to create tables through it")

    def dml_transaction(self) -> contextlib.AbstractContextManager[None]:
        return self.statement_transaction("START TRANSACTION")

    @contextlib.contextmanager
    def lock(self, wait_seconds: float | None = None) -> Iterator[None]:
        # GET_LOCK names are server-wide: the database the table resolves to is part of the key.
        key = self.lock_key(self.schema or self.scalar("SELECT DATABASE()"), self.live)
        wait = LOCK_WAIT_SECONDS if wait_seconds is None else wait_seconds
        if self.scalar("SELECT GET_LOCK(%s, %s)", [key, wait]) != 1:
            raise RunFailed(f"another run is writing {self.display_name} (GET_LOCK held for {wait}s)")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self.scalar("SELECT RELEASE_LOCK(%s)", [key])

    # ---- bounded lock waits ------------------------------------------------------------------
    def lock_timeout_sql(self, seconds: float) -> list[str]:
        # Whole seconds only; rounded down so a reader is never held longer than the attempt.
        n = max(1, int(seconds))
        return [f"SET SESSION lock_wait_timeout = {n}", f"SET SESSION innodb_lock_wait_timeout = {n}"]

    def is_lock_timeout(self, exc: BaseException) -> bool:
        code = exc.args[0] if exc.args else None
        return isinstance(code, int) and code in LOCK_TIMEOUT_ERRORS

    #: which of the server's views name the holders of a table's metadata locks, best first
    METADATA_LOCK_INFO = "information_schema.METADATA_LOCK_INFO"  # MariaDB's plugin metadata_lock_info
    PERFORMANCE_SCHEMA = "performance_schema.metadata_locks"  # MySQL 8 by default; MariaDB if turned on

    def blockers_sql(self, source: str) -> str:
        """Sessions holding metadata locks on the live table, its stage or its backup, from ``source`` (one
        of the two views above), or, where the server has neither (MariaDB's default), the sessions with an
        open transaction or a statement running that names the table: suspects, not certainties. Suspects
        are sessions of the table's database, or whose statement names that database: a busy server's
        other databases (a table of the same name elsewhere included) are not named."""
        who = ("SELECT p.ID, p.USER, p.HOST, p.DB, p.COMMAND, p.TIME, p.STATE, p.INFO, t.trx_started "
               "FROM information_schema.PROCESSLIST p "
               "LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID "
               "WHERE p.ID <> CONNECTION_ID() ")
        tables = "COALESCE(%s, DATABASE()) AND {name} IN (%s, %s, %s)"
        if source == self.METADATA_LOCK_INFO:
            return who + ("AND p.ID IN (SELECT m.THREAD_ID FROM information_schema.METADATA_LOCK_INFO m "
                          "WHERE m.TABLE_SCHEMA = " + tables.format(name="m.TABLE_NAME") + ") ORDER BY p.TIME DESC")
        if source == self.PERFORMANCE_SCHEMA:
            return who + ("AND p.ID IN (SELECT th.PROCESSLIST_ID FROM performance_schema.metadata_locks m "
                          "JOIN performance_schema.threads th ON th.THREAD_ID = m.OWNER_THREAD_ID "
                          "WHERE m.LOCK_STATUS = 'GRANTED' AND m.OBJECT_TYPE = 'TABLE' AND m.OBJECT_SCHEMA = "
                          + tables.format(name="m.OBJECT_NAME") + ") ORDER BY p.TIME DESC")
        return who + ("AND (t.trx_id IS NOT NULL OR p.INFO LIKE CONCAT('%%', %s, '%%')) "
                      "AND (p.DB = COALESCE(%s, DATABASE()) "
                      "OR p.INFO LIKE CONCAT('%%', COALESCE(%s, DATABASE()), '%%')) "
                      "AND COALESCE(p.STATE, '') NOT LIKE 'Waiting for%%' ORDER BY p.TIME DESC")

    def blocker_source(self) -> str | None:
        """The best view of metadata locks this server has, or None."""
        if self.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'information_schema' "
                       "AND TABLE_NAME = 'METADATA_LOCK_INFO'"):
            return self.METADATA_LOCK_INFO
        if self.scalar("SELECT @@performance_schema") and self.scalar(
                "SELECT COUNT(*) FROM performance_schema.setup_instruments "
                "WHERE NAME = 'wait/lock/metadata/sql/mdl' AND ENABLED = 'YES'"):
            return self.PERFORMANCE_SCHEMA
        return None

    def blockers(self) -> list[Blocker]:
        source = self.blocker_source()
        params: list[Any] = ([self.live, self.schema, self.schema] if source is None
                             else [self.schema, self.live, self.stage, self.backup])
        cur = self.execute(self.blockers_sql(source or ""), params)
        try:
            rows = cur.fetchall()
        finally:
            cur.close()
        return [Blocker(session=str(pid), user=user, client=str(host).rsplit(":", 1)[0] if host else None,
                        since=f"{started} (its transaction)" if started else None,
                        state="idle in transaction" if command == "Sleep" else
                        f"{command.lower()} for {seconds}s" + (f", {state.lower()}" if state else ""),
                        statement=info, certain=source is not None)
                for pid, user, host, _db, command, seconds, state, info, started in rows]

    def _where(self, table: str) -> tuple[str, list[Any]]:
        return ("table_schema = COALESCE(%s, DATABASE()) AND table_name = %s", [self.schema, table])

    def read_only_statements(self) -> list[str]:
        return ["SET SESSION TRANSACTION READ ONLY"]

    def exists(self, table: str) -> bool:
        where, params = self._where(table)
        return int(self.scalar(f"SELECT COUNT(*) FROM information_schema.tables WHERE {where}", params)) > 0

    def column_types(self, table: str) -> dict[str, ColumnType]:
        where, params = self._where(table)
        cur = self.execute(f"SELECT column_name, column_type FROM information_schema.columns WHERE {where} "
                           "ORDER BY ordinal_position", params)
        try:
            return {name: classify(t.decode() if isinstance(t, bytes) else t) for name, t in cur.fetchall()}
        finally:
            cur.close()

    def size_bytes(self, table: str) -> int | None:
        where, params = self._where(table)
        return int(self.scalar("SELECT COALESCE(data_length + index_length, 0) FROM information_schema.tables "
                               f"WHERE {where}", params) or 0)

    def table_comment(self, table: str) -> str | None:
        where, params = self._where(table)
        comment = self.scalar(f"SELECT table_comment FROM information_schema.tables WHERE {where}", params)
        comment = comment.decode() if isinstance(comment, bytes) else comment
        return str(comment) if comment else None

    # ---- the data date held, and load mode changes --------------------------------------------
    # The record is the table's comment, written by the swap (DDL). A changes run writes no DDL, and a
    # comment change would commit by itself: its record goes into a row of HELD_TABLE, in the same
    # transaction as the changed rows, keyed by the comment's record (the generation of the table): a
    # swap writes a new comment record, so a row of an older generation never applies to a newer table.
    def record_comment(self, user_text: str | None, record: HeldRecord) -> str:
        # The swap's record carries a random generation: two swaps never write the same line, even in one second.
        fields = {**json.loads(record.to_json()), "generation": uuid.uuid4().hex[:16]}
        line = MARK + json.dumps(fields, ensure_ascii=False, separators=(", ", ": "))
        return f"{user_text}\n{line}" if user_text else line

    @staticmethod
    def generation(comment: str | None) -> str | None:
        """The generation of the table whose comment is ``comment``: its record's line, hashed (None: no record)."""
        if split_comment(comment)[1] is None:
            return None
        return hashlib.sha1((comment or "").rpartition("\n")[2].encode()).hexdigest()[:16]

    def read_held(self) -> HeldRecord | None:
        comment = self.table_comment(self.live)
        record, generation = split_comment(comment)[1], self.generation(comment)
        if record is None or not self.exists(HELD_TABLE):
            return record
        text = self.scalar(f"SELECT {self.d.quote('record')} FROM {self.q(HELD_TABLE)} WHERE "
                           f"{self.d.quote('table_name')} = %s AND {self.d.quote('generation')} = %s",
                           [self.live, generation])
        if text is None:
            return record
        return HeldRecord.from_json(text.decode() if isinstance(text, bytes) else str(text)) or record

    def held_table_sql(self) -> str:
        q = self.d.quote
        return (f"CREATE TABLE IF NOT EXISTS {self.q(HELD_TABLE)} ({q('table_name')} VARCHAR(64) NOT NULL, "
                f"{q('generation')} CHAR(16) NOT NULL, {q('record')} VARCHAR(1024) NOT NULL, "
                f"PRIMARY KEY ({q('table_name')}, {q('generation')})) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4")

    def changes_refused(self) -> str | None:
        engine = self.scalar("SELECT engine FROM information_schema.tables WHERE "
                             "table_schema = COALESCE(%s, DATABASE()) AND table_name = %s", [self.schema, self.live])
        engine = engine.decode() if isinstance(engine, bytes) else engine
        if engine and str(engine).lower() != "innodb":
            return (f"table {self.display_name} is on engine {engine}, which has no transactions: the changes could "
                    "not be written all or nothing")
        return None

    def prepare_changes(self) -> None:
        # READ COMMITTED: the diff's CREATE ... SELECT reads the live table without share-locking its rows, so
        # it never waits on (or holds up) a writer; the changes' transaction takes its row locks, bounded
        self.run_statements([self.held_table_sql(), "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"])

    def changes_record_sql(self, record: HeldRecord) -> list[str]:
        generation = self.generation(self.table_comment(self.live))
        if generation is None:  # changes.applied swaps a table without a record
            raise RunFailed(f"table {self.display_name} records no data date: it cannot take changes")
        q, lit = self.d.quote, self.d.quote_literal
        held, gen = self.q(HELD_TABLE), lit(generation)
        return [f"DELETE FROM {held} WHERE {q('table_name')} = {lit(self.live)} AND {q('generation')} <> {gen}",
                f"INSERT INTO {held} ({q('table_name')}, {q('generation')}, {q('record')}) VALUES "
                f"({lit(self.live)}, {gen}, {lit(record.to_json())}) "
                f"ON DUPLICATE KEY UPDATE {q('record')} = VALUES({q('record')})"]

    def temp_ref(self, name: str) -> str:
        return self.q(name)

    def create_temp_sql(self, name: str, select: str) -> str:
        return f"CREATE TEMPORARY TABLE {self.temp_ref(name)} ENGINE = InnoDB AS {select}"

    def distinct_sql(self, a: str, b: str) -> str:
        return f"NOT ({a} <=> {b})"

    def changes_update_sql(self, delta: str, key: str, columns: list[str]) -> str:
        q = self.d.quote
        sets = ", ".join(f"l.{q(c)} = d.{q(c)}" for c in columns)
        return (f"UPDATE {self.q(self.live)} l JOIN {self.temp_ref(delta)} d ON l.{q(key)} = d.{q('tagoffline_key')} "
                f"SET {sets} WHERE d.{q('tagoffline_op')} = 'u'")

    def changes_delete_sql(self, delta: str, key: str) -> str:
        # the multi-table form: MariaDB runs a single-table DELETE's IN (subquery) once per live row
        q = self.d.quote
        return (f"DELETE l FROM {self.q(self.live)} l JOIN {self.temp_ref(delta)} d ON l.{q(key)} = "
                f"d.{q('tagoffline_key')} WHERE d.{q('tagoffline_op')} = 'd'")

    def changes_drop_delta_sql(self, delta: str) -> str:
        return f"DROP TEMPORARY TABLE IF EXISTS {self.temp_ref(delta)}"

    # ---- the table's digest --------------------------------------------------------------------
    # The MySQL family's digest is (COUNT(*), CHECKSUM TABLE), not a sum of per-row hashes built in SQL: the
    # server's checksum is a sum of per-row CRCs modulo 2**32 computed inside the engine. Measured on MariaDB
    # 10.11, 5M rows x 11 columns, shared machine: CHECKSUM TABLE 3.2-7.9 s, COUNT(*) 1.8-2.4 s, where a SUM of
    # MD5(CONCAT_WS(QUOTE(..))) took 15-30 s. Order-free, name-free (a table LIKE another, same rows: same
    # value), NULL differs from '', and inside a transaction it sees that transaction's own changes.
    # It covers the WHOLE row, columns the service does not map included (``columns`` is not used): a write
    # to any column outside the service is a change outside the service, and a swap would reset those
    # columns anyway. Being a sum mod 2**32, the changed rows' old and new versions update it (digest_after).

    def row_hash_sql(self, alias: str, columns: list[str]) -> str:
        raise NotImplementedError("the MySQL family's digest is CHECKSUM TABLE (table_digest), not a sum of "
                                  "row hashes")

    def digest_statements(self, ref: str) -> tuple[str, str]:
        """(row count, CHECKSUM TABLE) of the table ``ref`` (quoted; pure)."""
        return f"SELECT COUNT(*) FROM {ref}", f"CHECKSUM TABLE {ref}"

    def stored_columns_sql(self) -> str:
        """The live table's columns a row copy writes: every one but generated columns, invisible ones included
        (``SELECT *`` would leave those out and the copy's checksum would differ); pure, parameters: schema,
        table."""
        return ("SELECT column_name FROM information_schema.columns WHERE table_schema = COALESCE(%s, DATABASE()) "
                "AND table_name = %s AND COALESCE(generation_expression, '') = '' ORDER BY ordinal_position")

    def unpartitioned_copy_sql(self, create_sql: str) -> str:
        """The copy's CREATE TEMPORARY TABLE from ``create_sql``, the live table's SHOW CREATE TABLE, without its
        partitioning (pure): a TEMPORARY table cannot be partitioned, nor created LIKE a partitioned table, and
        partitioning does not change a row's checksum (checked on MariaDB 10.11)."""
        renamed = rename_create_table(_PARTITIONING.sub("", create_sql), self.temp_ref(DIGEST_ROWS))
        return "CREATE TEMPORARY TABLE " + renamed.removeprefix("CREATE TABLE ")

    def changed_rows_copy_sql(self, delta: str, key: str, stored: list[str], ops: str,
                              create: str | None = None) -> list[str]:
        """A temporary copy (``DIGEST_ROWS``, created LIKE the live table: same row format, so the same
        checksum per row) of the live rows whose ``key`` is a ``tagoffline_key`` of ``delta`` with
        ``tagoffline_op`` in ``ops`` (pure). Driven by the delta's distinct keys, each found through the live
        table's key index; a key twice in ``delta`` is copied once. ``stored``: the live table's columns the
        copy writes (``stored_columns_sql``); ``create``: the copy's CREATE when the live table is partitioned
        (``unpartitioned_copy_sql``)."""
        q, copy, in_ops = self.d.quote, self.temp_ref(DIGEST_ROWS), self.ops_list_sql(ops)
        cols = ", ".join(q(c) for c in stored)
        from_live = ", ".join(f"l.{q(c)}" for c in stored)
        return [f"DROP TEMPORARY TABLE IF EXISTS {copy}",
                create or f"CREATE TEMPORARY TABLE {copy} LIKE {self.q(self.live)}",
                f"INSERT INTO {copy} ({cols}) SELECT {from_live} FROM (SELECT DISTINCT {q('tagoffline_key')} AS k "
                f"FROM {self.temp_ref(delta)} WHERE {q('tagoffline_op')} IN ({in_ops})) d "
                f"STRAIGHT_JOIN {self.q(self.live)} l ON l.{q(key)} = d.k"]

    def change_set_copy_sql(self, delta: str, key: str, columns: list[str], ops: str,
                            create: str | None = None) -> list[str]:
        """The temporary copy ``DIGEST_ROWS`` (LIKE the live table, as ``changed_rows_copy_sql``'s) of the rows of
        ``delta`` with ``tagoffline_op`` in ``ops`` themselves, ``tagoffline_key`` as ``key`` (pure)."""
        q, copy = self.d.quote, self.temp_ref(DIGEST_ROWS)
        return [f"DROP TEMPORARY TABLE IF EXISTS {copy}",
                create or f"CREATE TEMPORARY TABLE {copy} LIKE {self.q(self.live)}",
                f"INSERT INTO {copy} ({', '.join(q(c) for c in [key, *columns])}) SELECT "
                f"{', '.join(q(c) for c in ['tagoffline_key', *columns])} FROM {self.temp_ref(delta)} "
                f"WHERE {q('tagoffline_op')} IN ({self.ops_list_sql(ops)})"]

    def digests_from_change_set(self, key: str, columns: list[str]) -> bool:
        # The checksum covers the whole row: the change set holds it whole only when the service writes every
        # stored column (a column it does not write keeps its value, which only the live row knows).
        return {c.lower() for c in self._stored_columns()} == {c.lower() for c in [key, *columns]}

    def change_set_digest(self, delta: str, key: str, columns: list[str], ops: str) -> TableDigest:
        return self._copy_digest(self.change_set_copy_sql(delta, key, columns, ops, self._unpartitioned_copy()))

    def _copy_digest(self, statements: list[str]) -> TableDigest:
        """The digest of the copy ``DIGEST_ROWS`` that ``statements`` make, dropped after."""
        self.run_statements(statements)
        try:
            return self._ref_digest(self.temp_ref(DIGEST_ROWS))
        finally:
            self.run_statements([f"DROP TEMPORARY TABLE IF EXISTS {self.temp_ref(DIGEST_ROWS)}"])

    def _stored_columns(self) -> list[str]:
        return [str(c.decode() if isinstance(c, bytes) else c)
                for (c,) in self.rows(self.stored_columns_sql(), [self.schema, self.live])]

    def _unpartitioned_copy(self) -> str | None:
        """The copy's CREATE when the live table is partitioned (``unpartitioned_copy_sql``), else None."""
        if not self._partitions():
            return None
        ((_name, definition),) = self.rows(f"SHOW CREATE TABLE {self.q(self.live)}")
        return self.unpartitioned_copy_sql(definition.decode() if isinstance(definition, bytes) else definition)

    def _ref_digest(self, ref: str) -> TableDigest:
        count_sql, checksum_sql = self.digest_statements(ref)
        rows = int(self.scalar(count_sql))
        ((name, checksum),) = self.rows(checksum_sql)
        if checksum is None:  # the server answers NULL (and a warning) for a table it cannot read
            raise RunFailed(f"CHECKSUM TABLE {name} gave no checksum")
        return TableDigest(rows, int(checksum))

    def table_digest(self, table: str, columns: list[str]) -> TableDigest:
        return self._ref_digest(self.q(table))

    def digest_of_changed_rows(self, delta: str, key: str, columns: list[str], ops: str) -> TableDigest:
        # Inside the caller's transaction: a TEMPORARY table's CREATE and DROP do not commit it (MySQL and
        # MariaDB), and the copy reads the rows as the transaction sees them. (MySQL before 8.0.13 with
        # enforce_gtid_consistency refuses a CREATE TEMPORARY TABLE inside a transaction.)
        return self._copy_digest(self.changed_rows_copy_sql(delta, key, self._stored_columns(), ops,
                                                            self._unpartitioned_copy()))

    def digest_after(self, before: TableDigest, removed: TableDigest, added: TableDigest) -> TableDigest:
        changed = before.changed(removed, added)
        return TableDigest(changed.rows, changed.total % CHECKSUM_MODULUS)

    # ---- pure SQL ----------------------------------------------------------------------------
    def table_comment_sql(self, table: str, text: str) -> str:
        # On the stage only (a metadata change: 17 ms on a table of 1M rows, MariaDB 10.11)
        return f"ALTER TABLE {self.q(table)} COMMENT = {self.d.quote_literal(text)}"

    def rename_sql(self, old: str, new: str) -> list[str]:
        return [f"RENAME TABLE {self.q(old)} TO {self.q(new)}"]

    def create_stage_sql(self) -> str:
        return f"CREATE TABLE {self.q(self.stage)} LIKE {self.q(self.live)}"

    def swap_sql(self) -> list[str]:
        return [f"RENAME TABLE {self.q(self.live)} TO {self.q(self.backup)}, "
                f"{self.q(self.stage)} TO {self.q(self.live)}"] + self.drop_sql(self.backup)

    def load_data_sql(self, path: str, columns: list[str]) -> str:
        cols = ", ".join(self.d.quote(c) for c in columns)
        return (f"LOAD DATA LOCAL INFILE {self.d.quote_literal(path)} INTO TABLE {self.load_ref} "
                f"CHARACTER SET utf8mb4 ({cols})")

    def exchange_sql(self, partition: str) -> list[str]:
        return [f"ALTER TABLE {self.q(self.live)} EXCHANGE PARTITION {self.d.quote(partition)} "
                f"WITH TABLE {self.q(self.stage)}"] + self.drop_sql(self.stage)

    def add_partition_sql(self, partition: str) -> str:
        return (f"ALTER TABLE {self.q(self.live)} ADD PARTITION (PARTITION {self.d.quote(partition)} "
                f"VALUES IN ({self.d.quote_literal(self.partition_value or '')}))")

    # ---- partitions ---------------------------------------------------------------------------
    def _partitions(self) -> list[tuple[str, str]]:
        where, params = self._where(self.live)
        cur = self.execute("SELECT partition_name, partition_description FROM information_schema.partitions "
                           f"WHERE {where} AND partition_name IS NOT NULL", params)
        try:
            return [(n, d or "") for n, d in cur.fetchall()]
        finally:
            cur.close()

    def partition_for_d(self) -> str:
        """The LIST partition holding only D, added (empty) if the table has none yet."""
        value = self.partition_value or ""
        literal = self.d.quote_literal(value)
        for name, description in self._partitions():
            values = [v.strip() for v in description.split(",")]
            if literal in values:
                if len(values) > 1:
                    raise RunFailed(f"partition {name} of {self.display_name} holds more than data date {value} "
                                    f"({description}); give each date its own LIST partition")
                return name
        name = "p" + "".join(ch for ch in value if ch.isalnum())
        # metadata only, a new empty partition, but an exclusive lock of the table all the same
        self.run_bounded(f"adding partition {name} to {self.display_name}", [self.add_partition_sql(name)])
        return name

    # ---- steps -------------------------------------------------------------------------------
    def prepare_stage(self) -> None:
        stmts = ["SET SESSION lock_wait_timeout = 30", self.create_stage_sql()]
        if self.partition_column is not None and self._partitions():
            # EXCHANGE PARTITION needs a non-partitioned table of the same shape.
            stmts.append(f"ALTER TABLE {self.q(self.stage)} REMOVE PARTITIONING")
        self.run_statements(stmts)

    def replace_partition(self) -> None:
        if not self._partitions():
            super().replace_partition()
            return
        partition = self.partition_for_d()
        exchange, _drop = self.exchange_sql(partition)
        # one atomic statement; the stage now holds the old rows
        self.run_bounded(f"the exchange of partition {self.partition_value} of {self.display_name}", [exchange])
        self.checkpoint("inside_swap")
        self.drop_replaced(self.stage)

    def load(self, columns: list[str], batches: Iterable[list[Row]]) -> LoadResult:
        with spooled(batches, ".tsv", tsv_lines) as (path, rows):
            try:
                self.run_statements([self.load_data_sql(path, columns)])
                method = "LOAD DATA LOCAL INFILE"
            except Exception as exc:
                if "local" not in str(exc).lower() and "1148" not in str(exc) and "2068" not in str(exc):
                    raise
                self._insert_from_tsv(path, columns)  # the server refuses local infile
                method = "multi-row INSERT"
            self._fail_on_warnings()
            self.checkpoint("during_load")
        return LoadResult(rows=rows, method=method)

    # LOAD DATA cannot tell NULL from an empty string unless every value is quoted, and reads no
    # true/false into an integer column.
    csv_format = CsvFormat(quote_all=True, booleans_as_int=True)

    def load_csv(self, columns: list[str], chunks: Iterable[bytes]) -> LoadResult:
        # LOAD DATA reads a named pipe that a thread fills from the warehouse's CSV stream, so the
        # warehouse, this process and the server all work at once; nothing is spooled to disk.
        folder = tempfile.mkdtemp(prefix="tagoffline-")
        fifo = os.path.join(folder, "load.csv")
        os.mkfifo(fifo, 0o600)
        errors: list[BaseException] = []

        def feed() -> None:
            try:
                with open(fifo, "wb") as f:
                    for n, chunk in enumerate(chunks):
                        f.write(chunk)
                        if n == 0:
                            self.checkpoint("mid_stream")
            except BaseException as exc:  # re-raised by the loading thread below
                errors.append(exc)

        feeder = threading.Thread(target=feed, name="tagoffline-mysql-feed", daemon=True)
        feeder.start()
        cols = ", ".join(self.d.quote(c) for c in columns)
        try:
            # Every value is quoted and NULL is the bare word NULL (csv_format).
            cur = self.execute(
                f"LOAD DATA LOCAL INFILE {self.d.quote_literal(fifo)} INTO TABLE {self.load_ref} "
                "CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '' "
                f"LINES TERMINATED BY '\\n' ({cols})")
            rows = cur.rowcount
            cur.close()
        except BaseException:
            # Unblock the feeder if the server refused before reading: it then fails on a broken pipe.
            with contextlib.suppress(OSError):
                fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
                os.close(fd)
            raise
        finally:
            feeder.join(timeout=60)
            shutil.rmtree(folder, ignore_errors=True)
        if errors:  # the stream broke: what was loaded is incomplete, the run fails before any swap
            raise errors[0]
        self._fail_on_warnings()
        self.checkpoint("during_load")
        return LoadResult(rows=max(rows, 0), method="LOAD DATA LOCAL INFILE (CSV streamed from the warehouse)",
                          exact_count=rows >= 0)

    def _insert_from_tsv(self, path: str, columns: list[str]) -> None:
        cols = ", ".join(self.d.quote(c) for c in columns)
        one = "(" + ", ".join(["%s"] * len(columns)) + ")"
        unescape = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r", "\\0": "\x00"}

        def parse(field: str) -> Any:
            if field == "\\N":
                return None
            out, i = [], 0
            while i < len(field):
                pair = field[i:i + 2]
                if pair in unescape:
                    out.append(unescape[pair])
                    i += 2
                else:
                    out.append(field[i])
                    i += 1
            return "".join(out)

        def flush(batch: list[Any]) -> None:
            if batch:
                sql = f"INSERT INTO {self.load_ref} ({cols}) VALUES " + ", ".join([one] * len(batch))
                cur = self.execute(sql, [v for row in batch for v in row])
                cur.close()

        batch: list[Any] = []
        with open(path, encoding="utf-8", newline="") as f:
            for line in f:
                batch.append([parse(x) for x in line.rstrip("\n").split("\t")])
                if len(batch) >= INSERT_ROWS:
                    flush(batch)
                    batch = []
        flush(batch)

    def _fail_on_warnings(self) -> None:
        cur = self.execute("SHOW WARNINGS LIMIT 3")
        try:
            warnings = cur.fetchall()
        finally:
            cur.close()
        if warnings:
            detail = "; ".join(str(w[2]) for w in warnings)
            raise RunFailed(f"loading {self.display_name} produced warnings (values the columns cannot hold): {detail}")

    def swap(self) -> None:
        rename, _drop = self.swap_sql()
        self.run_bounded(f"the swap of {self.display_name}", [rename])
        self.checkpoint("inside_swap")  # renamed but the old table not dropped yet
        self.drop_replaced(self.backup)
