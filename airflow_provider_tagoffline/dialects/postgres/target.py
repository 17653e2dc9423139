"""PostgreSQL family: PostgreSQL, Greenplum, AnalyticDB for PostgreSQL, openGauss.

* Stage: ``CREATE TABLE .._dpfx_b (LIKE live INCLUDING ...)`` without indexes (Greenplum and ADB
  keep the live table's DISTRIBUTED BY through LIKE); grants and the table comment copied; on
  PostgreSQL its storage parameters too (``WITH (fillfactor = ..)``: LIKE does not copy them, and a
  table tuned for in-place updates would lose it at the first swap).
* Load: ``COPY .. FROM STDIN``; indexes and unique constraints are built after the load under
  temporary names and renamed back to the live table's names after the swap, so names stay stable.
* Swap: both renames, the re-pointing of dependent views, the drop and the index renames in one
  transaction: readers see the old table or the new one, never none. Its locks come first, in the
  order readers take them (views, then the table), each waiting at most ``SET LOCAL lock_timeout``;
  a timeout rolls the whole transaction back and it runs again (``lockwait.py``).
* Lock: a session advisory lock on the resolved table (database, schema, table).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_tagoffline.engine.targets.base import CsvFormat, LoadResult, Row, Target, lock_retried
from airflow_provider_tagoffline.engine.targets.lockwait import Blocker
from airflow_provider_tagoffline.engine.types import ColumnType, classify
from airflow_provider_tagoffline.errors import RunFailed

LOCK_WAIT_SECONDS = 60
#: lock_not_available (lock_timeout) and deadlock_detected: the transaction was rolled back, run it again
LOCK_TIMEOUT_STATES = ("55P03", "40P01")
#: the seed of the row hash's hash_record_extended (row_hash_sql)
RECORD_HASH_SEED = 1952540527
#: the planner's cost of a random page inside the changes' transaction (changes_settings_sql)
CHANGES_RANDOM_PAGE_COST = "1.1"
#: a storage parameter as pg_class.reloptions lists it (``fillfactor=90``): its name, then its value
_RELOPTION = re.compile(r"^([a-z_][a-z0-9_]*)=(.*)$", re.DOTALL)


@dataclass
class IndexDef:
    name: str  # index name on the live table
    constraint_def: str | None  # "PRIMARY KEY (user_id)" for constraint-backed indexes
    index_def: str  # pg_get_indexdef text
    temp_name: str = ""


class PostgresTarget(Target):
    digest_from_change_set = True  # the temporary change set has the live table's column types

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._indexes: list[IndexDef] = []
        #: server_version_num, read by prepare_digest (None: not read; the row hash assumes PostgreSQL 14+)
        self.server_version: int | None = None
        #: False: a column's type has no extended hash (prepare_digest): the row's text is hashed instead
        self.typed_row_hash = True

    # ---- plumbing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def execute_one(self, sql: str) -> None:
        cur = self.conn.cursor()
        try:
            if type(self.conn).__module__.split(".")[0] == "psycopg":
                # The extended protocol refuses "multiple commands in a prepared statement".
                cur.execute(sql, prepare=True)
            else:
                cur.execute(sql)
        finally:
            cur.close()

    def regclass_text(self, table: str) -> str:
        return self.q(table)

    def resolved_table(self) -> tuple[str, str | None, str]:
        """(database, schema, table) of the live table as the server resolves it: the service's schema, else
        the schema the unqualified name resolves to on the search path, else ``current_schema()``, where it
        would be created."""
        cur = self.execute(
            "SELECT current_database()::text, COALESCE(%s::text, (SELECT n.nspname::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)), current_schema()::text)",
            [self.schema, self.q(self.live)])
        try:
            database, schema = cur.fetchone()
        finally:
            cur.close()
        return database, schema, self.live

    @contextlib.contextmanager
    def lock(self, wait_seconds: float | None = None) -> Iterator[None]:
        key = self.lock_key(*self.resolved_table())
        wait = LOCK_WAIT_SECONDS if wait_seconds is None else wait_seconds
        deadline = time.monotonic() + wait
        while not self.scalar("SELECT pg_try_advisory_lock(hashtext(%s))", [key]):
            if time.monotonic() >= deadline:
                raise RunFailed(f"another run is writing {self.display_name} (advisory lock held for "
                                f"{wait}s)")
            time.sleep(0.5)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self.scalar("SELECT pg_advisory_unlock(hashtext(%s))", [key])

    def read_only_statements(self) -> list[str]:
        return ["SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"]

    # ---- bounded lock waits ------------------------------------------------------------------
    @property
    def has_lock_timeout(self) -> bool:
        # openGauss forked PostgreSQL 9.2, before lock_timeout, and only a superuser may set its
        # lockwait_timeout: its swap asks for its locks with NOWAIT instead (no reader ever queues).
        return self.d.kind != "opengauss"

    def lock_timeout_sql(self, seconds: float) -> list[str]:
        return [f"SET LOCAL lock_timeout = '{round(seconds * 1000)}ms'"] if self.has_lock_timeout else []

    def lock_tables_sql(self, tables: list[str]) -> list[str]:
        """``tables`` (quoted) locked for the swap, in this order: views before the table they read, as
        readers lock them (the other order can deadlock with a reader of the view)."""
        nowait = "" if self.has_lock_timeout else " NOWAIT"
        return [f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE{nowait}"]

    def is_lock_timeout(self, exc: BaseException) -> bool:
        return (getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)) in LOCK_TIMEOUT_STATES

    def blockers_sql(self) -> str:
        """Sessions holding a lock on the live table, its stage or its backup (a lock wait of ours has
        ended when this runs, so ``pg_blocking_pids`` would name nobody: the lock holders are asked)."""
        return ("SELECT a.pid::text, a.usename::text, COALESCE(host(a.client_addr), 'local socket'), "
                "a.application_name::text, to_char(COALESCE(a.xact_start, a.query_start, a.backend_start), "
                "'YYYY-MM-DD HH24:MI:SS TZ'), a.state::text, a.query FROM pg_stat_activity a WHERE a.pid IN "
                "(SELECT l.pid FROM pg_locks l WHERE l.locktype = 'relation' AND l.granted "
                "AND l.pid <> pg_backend_pid() "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND l.relation IN (SELECT to_regclass(n) FROM unnest(%s::text[]) n)) "
                "ORDER BY COALESCE(a.xact_start, a.query_start) NULLS LAST")

    def blockers(self) -> list[Blocker]:
        cur = self.execute(self.blockers_sql(), [[self.q(self.live), self.q(self.stage), self.q(self.backup)]])
        with cur:
            return [Blocker(session=pid, user=user, client=client, application=app or None, since=since,
                            state=state, statement=query)
                    for pid, user, client, app, since, state, query in cur.fetchall()]

    def exists(self, table: str) -> bool:
        return self.scalar("SELECT to_regclass(%s) IS NOT NULL", [self.q(table)]) is True

    def column_types(self, table: str) -> dict[str, ColumnType]:
        cur = self.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            [self.q(table)])
        with cur:
            return {name: classify(t) for name, t in cur.fetchall()}

    def size_bytes(self, table: str) -> int | None:
        return int(self.scalar("SELECT pg_total_relation_size(to_regclass(%s))", [self.q(table)]) or 0)

    def table_comment(self, table: str) -> str | None:
        comment = self.scalar("SELECT obj_description(to_regclass(%s), 'pg_class')", [self.q(table)])
        return str(comment) if comment else None

    # ---- pure SQL ----------------------------------------------------------------------------
    def like_options(self) -> str:
        # openGauss, Greenplum and ADB are older PostgreSQL forks: only the options they all know.
        common = "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS INCLUDING STORAGE"
        if self.d.kind == "postgres":
            return common + " INCLUDING GENERATED INCLUDING IDENTITY"
        return common

    @property
    def changes_mode(self) -> bool:
        return self.load_mode == "changes" and self.partition_column is None

    def create_stage_sql(self, storage: tuple[list[str], list[str]] = ([], [])) -> str:
        """``storage``: the live table's storage parameters and its TOAST table's, as pg_class.reloptions
        lists them."""
        # changes: the stage is only read by the diff, so it writes no WAL (stage_for_swap logs it if it swaps)
        unlogged = "UNLOGGED " if self.changes_mode and self.d.kind == "postgres" else ""
        return (f"CREATE {unlogged}TABLE {self.q(self.stage)} (LIKE {self.q(self.live)} {self.like_options()})"
                f"{self.storage_parameters_sql(*storage)}")

    def storage_parameters_sql(self, table: list[str], toast: list[str]) -> str:
        """`` WITH (..)`` setting the storage parameters ``table`` and ``toast`` (``name=value`` each, as
        pg_class.reloptions lists them), or "" (pure): parsed, each name checked and each value quoted, not
        pasted."""
        rendered = []
        for prefix, options in (("", table), ("toast.", toast)):
            for option in options:
                m = _RELOPTION.match(option)
                if m is None:
                    raise RunFailed(f"cannot copy the storage parameter {option!r} of {self.display_name} to its "
                                    "stage: not name=value")
                rendered.append(f"{prefix}{m.group(1)} = {self.d.quote_literal(m.group(2))}")
        return f" WITH ({', '.join(rendered)})" if rendered else ""

    def _storage_parameters(self) -> tuple[list[str], list[str]]:
        """The live table's storage parameters and its TOAST table's (PostgreSQL; the forks keep theirs
        through LIKE or know other ones)."""
        if self.d.kind != "postgres":
            return [], []
        rows = self.rows("SELECT c.reloptions, t.reloptions FROM pg_class c LEFT JOIN pg_class t "
                         "ON t.oid = c.reltoastrelid WHERE c.oid = to_regclass(%s)", [self.q(self.live)])
        if not rows:
            return [], []
        ((table, toast),) = rows
        return list(table or []), list(toast or [])

    def table_comment_sql(self, table: str, text: str) -> str:
        return f"COMMENT ON TABLE {self.q(table)} IS {self.d.quote_literal(text)}"

    def temp_index_name(self, original: str, position: int) -> str:
        key = f"{self.schema}.{self.live}.{original}"
        name = f"tagoffline_{hashlib.sha1(key.encode()).hexdigest()[:12]}_{position}"
        if self.partition_column is not None:
            # The partition being replaced may still carry the previous run's names until the swap.
            name += "_" + uuid.uuid4().hex[:8]
        return name

    def build_index_sql(self, ix: IndexDef) -> str:
        if ix.constraint_def is not None:
            return (f"ALTER TABLE {self.q(self.stage)} ADD CONSTRAINT {self.d.quote(ix.temp_name)} "
                    f"{ix.constraint_def}")
        m = re.match(r"^CREATE (UNIQUE )?INDEX .*? ON (?:ONLY )?.*? USING (.*)$", ix.index_def, re.DOTALL)
        if not m:
            raise RunFailed(f"cannot rebuild index {ix.name!r}: unexpected definition {ix.index_def!r}")
        return f"CREATE {m.group(1) or ''}INDEX {self.d.quote(ix.temp_name)} ON {self.q(self.stage)} USING {m.group(2)}"

    def swap_sql(self, views: list[tuple[str, str, str]]) -> list[str]:
        """Statements of the swap transaction; ``views``: (schema, name, definition) re-pointed."""
        stmts = self.rename_sql(self.live, self.backup) + self.rename_sql(self.stage, self.live)
        for schema, name, definition in views:
            stmts.append(f"CREATE OR REPLACE VIEW {self.d.qualify(schema, name)} AS {definition.rstrip().rstrip(';')}")
        stmts += self.drop_sql(self.backup)
        for ix in self._indexes:
            stmts.append(f"ALTER INDEX {self.q(ix.temp_name)} RENAME TO {self.d.quote(ix.name)}")
        return stmts

    # ---- steps -------------------------------------------------------------------------------
    def _indexes_of_live(self) -> list[IndexDef]:
        cur = self.execute(
            "SELECT ic.relname, CASE WHEN con.oid IS NULL THEN NULL ELSE pg_get_constraintdef(con.oid) END, "
            "pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
            "LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid "
            "AND con.contype IN ('p', 'u', 'x') WHERE i.indrelid = to_regclass(%s) ORDER BY ic.relname",
            [self.q(self.live)])
        with cur:
            rows = cur.fetchall()
        return [IndexDef(name=n, constraint_def=c, index_def=d, temp_name=self.temp_index_name(n, i))
                for i, (n, c, d) in enumerate(rows)]

    def _grants_sql(self) -> list[str]:
        cur = self.execute(
            "SELECT COALESCE(r.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable "
            "FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
            "WHERE c.oid = to_regclass(%s) AND a.grantee <> c.relowner ORDER BY 1, 2", [self.q(self.live)])
        with cur:
            rows = cur.fetchall()
        out = []
        for grantee, privilege, grantable in rows:
            who = "PUBLIC" if grantee == "PUBLIC" else self.d.quote(grantee)
            out.append(f"GRANT {privilege} ON {self.q(self.stage)} TO {who}"
                       + (" WITH GRANT OPTION" if grantable else ""))
        return out

    def prepare_stage(self) -> None:
        self._indexes = self._indexes_of_live()
        comment = self.scalar("SELECT obj_description(to_regclass(%s), 'pg_class')", [self.q(self.live)])
        stmts = [self.create_stage_sql(self._storage_parameters())] + self._grants_sql()
        if comment is not None:
            stmts.append(f"COMMENT ON TABLE {self.q(self.stage)} IS {self.d.quote_literal(comment)}")
        self.run_in_tx(stmts)

    def load(self, columns: list[str], batches: Iterable[list[Row]]) -> LoadResult:
        cols = ", ".join(self.d.quote(c) for c in columns)
        rows = 0
        with self.conn.transaction(), self.conn.cursor() as cur, \
                cur.copy(f"COPY {self.load_ref} ({cols}) FROM STDIN") as copy:
            for batch in batches:
                for row in batch:
                    copy.write_row(row)
                rows += len(batch)
                if rows == len(batch):
                    self.checkpoint("during_load")
        return LoadResult(rows=rows, method="COPY", exact_count=True)

    csv_format = CsvFormat()

    def load_csv(self, columns: list[str], chunks: Iterable[bytes]) -> LoadResult:
        cols = ", ".join(self.d.quote(c) for c in columns)
        first = True
        with self.conn.transaction(), self.conn.cursor() as cur, \
                cur.copy(f"COPY {self.load_ref} ({cols}) FROM STDIN (FORMAT csv)") as copy:
            for chunk in chunks:
                copy.write(chunk)
                if first:
                    self.checkpoint("during_load")
                    self.checkpoint("mid_stream")
                    first = False
        return LoadResult(rows=max(cur.rowcount, 0), method="COPY (CSV streamed from the warehouse)",
                          exact_count=cur.rowcount >= 0)

    def finish_stage(self) -> None:
        if self.changes_mode:
            # the diff hash-joins the stage with the live table: its indexes are built only if it swaps
            self.checkpoint("index")
            self.run_statements([f"ANALYZE {self.q(self.stage)}"])
            return
        self._index_stage()

    def stage_for_swap(self) -> None:
        if not self.changes_mode:
            return
        if self.d.kind == "postgres":
            self.run_statements([f"ALTER TABLE {self.q(self.stage)} SET LOGGED"])
        self._index_stage()

    # ---- the table's digest --------------------------------------------------------------------
    def prepare_digest(self) -> None:
        if self.d.kind != "postgres" or self.server_version is not None:
            return
        self.server_version = int(self.scalar("SELECT current_setting('server_version_num')"))
        if self.server_version < 140000:
            return
        # hash_record_extended needs every value's type to have an extended hash (json, xml, point have none):
        # asked of NULLs of the live table's types (it looks each type's hash up before reading the value)
        nulls = ", ".join(f"NULL::{t.raw}" for t in self.column_types(self.live).values())  # format_type's text
        try:
            with self.transaction():  # a savepoint inside a transaction: a refusal leaves it usable
                self.scalar(f"SELECT hash_record_extended(ROW({nulls}), 0)")
        except Exception:
            self.typed_row_hash = False

    def row_hash_sql(self, alias: str, columns: list[str]) -> str:
        row = "ROW(" + ", ".join(f"{alias}.{self.d.quote(c)}" for c in columns) + ")"
        if self.d.kind != "postgres":
            # Greenplum / ADB (9.4) and openGauss (9.2) have neither hash below: 64 bits of the MD5 of the row's
            # text (NULL is an empty field, '' a quoted one), slower but everywhere
            return f"('x' || substr(md5({row}::text), 1, 16))::bit(64)::bigint"
        if (self.server_version is not None and self.server_version < 140000) or not self.typed_row_hash:
            return f"hashtextextended({row}::text, 0)"  # PostgreSQL 11-13: the row's text form, hashed
        # PostgreSQL 14+: each value hashed by its type's own hash, no text output (5M rows x 11 columns: 2.0 s,
        # hashtextextended(row::text) 4.6 s, same loaded machine). hash_record_extended combines its values'
        # hashes linearly (h = 31 * h + h_i): in a SUM, two rows trading a value would cancel out, so the
        # record's hash is hashed again, by its text (+0.04 s; hashint8extended would fold it to 32 bits first).
        # The seed is not 0 nor 1: a NULL value hashes as 0, a float8 zero as the seed, a numeric zero as seed - 1.
        return f"hashtextextended(hash_record_extended({row}, {RECORD_HASH_SEED})::text, 0)"

    # ---- load mode changes -------------------------------------------------------------------
    def temp_ref(self, name: str) -> str:
        return f"pg_temp.{self.d.quote(name)}"  # never a table of the search path with that name

    def changes_settings_sql(self) -> list[str]:
        # The live table was just read whole (the digest, or the target-side diff): its pages are cached, and
        # at the default random_page_cost of 4 the planner scans all 5M rows to update 50,000 of them (1.9 s)
        # where the key index takes 0.8 s (PostgreSQL 15); a change set of millions still gets the scan.
        return [f"SET LOCAL random_page_cost = {CHANGES_RANDOM_PAGE_COST}"]

    def delta_loaded(self, delta: str) -> None:
        # A temporary table has no statistics until analyzed: the planner then guesses a size and may
        # hash-join the live table (a scan of all its rows) for a change set of a few thousand IDs.
        self.run_statements([f"ANALYZE {self.temp_ref(delta)}"])

    def _index_stage(self) -> None:
        stmts = [self.build_index_sql(ix) for ix in self._indexes]
        if self.partition_column is not None and self.is_partitioned():
            # Proves the partition bound, so ATTACH skips its validation scan inside the swap.
            col = self.d.quote(self.partition_column)
            stmts.append(f"ALTER TABLE {self.q(self.stage)} ADD CONSTRAINT {self.d.quote(self.partition_check_name)} "
                         f"CHECK ({col} IS NOT NULL AND {col} = {self.d.quote_literal(self.partition_value or '')})")
        with self.transaction():
            self.run_statements(stmts[:1])
            self.checkpoint("index")  # the first index built, the transaction open
            self.run_statements(stmts[1:])
        self.run_statements([f"ANALYZE {self.q(self.stage)}"])

    def dependent_views(self) -> list[tuple[str, str, str, str]]:
        """(schema, name, relkind, definition) of views reading the live table."""
        cur = self.execute(
            "SELECT DISTINCT n.nspname, v.relname, v.relkind, pg_get_viewdef(v.oid) FROM pg_depend d "
            "JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class "
            "JOIN pg_namespace n ON n.oid = v.relnamespace "
            "WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = to_regclass(%s) AND v.oid <> d.refobjid",
            [self.q(self.live)])
        with cur:
            return list(cur.fetchall())

    def check_dependents(self) -> None:
        mat = [f"{s}.{n}" for s, n, kind, _ in self.dependent_views() if kind == "m"]
        if mat:
            raise RunFailed(f"materialized view(s) {', '.join(mat)} depend on {self.display_name}; a swap "
                            "would have to drop them. Point them at a view over the table instead.")

    # ---- declarative partitions: detach partition D, attach the stage in its place -----------
    def is_partitioned(self) -> bool:
        sql = "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)"
        return self.scalar(sql, [self.q(self.live)]) is True

    def partition_of(self, value: str) -> str | None:
        """Name of the live table's partition holding exactly ``value`` (a LIST partition)."""
        cur = self.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c "
            "ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)", [self.q(self.live)])
        with cur:
            rows = cur.fetchall()
        wanted = f"FOR VALUES IN ({self.d.quote_literal(value)})"
        for name, bound in rows:
            if bound == wanted:
                return str(name)
            if self.d.quote_literal(value) in (bound or ""):
                raise RunFailed(f"partition {name} of {self.display_name} holds more than data date {value} "
                                f"({bound}); give each date its own LIST partition")
        return None

    def child_index_names(self, partition: str) -> dict[str, str]:
        """Parent index name → the name of its index on ``partition``."""
        cur = self.execute(
            "SELECT pi.relname, ci.relname FROM pg_index x JOIN pg_class ci ON ci.oid = x.indexrelid "
            "JOIN pg_inherits h ON h.inhrelid = x.indexrelid JOIN pg_class pi ON pi.oid = h.inhparent "
            "WHERE x.indrelid = to_regclass(%s)", [self.q(partition)])
        with cur:
            return dict(cur.fetchall())

    def partition_swap_sql(self, old_partition: str | None, new_name: str,
                           old_index_names: dict[str, str] | None = None) -> list[str]:
        value = self.d.quote_literal(self.partition_value or "")
        stmts: list[str] = []
        if old_partition:
            stmts += [f"ALTER TABLE {self.q(self.live)} DETACH PARTITION {self.q(old_partition)}"]
            stmts += self.rename_sql(old_partition, self.backup)
        stmts += self.rename_sql(self.stage, new_name)
        stmts += [f"ALTER TABLE {self.q(self.live)} ATTACH PARTITION {self.q(new_name)} FOR VALUES IN ({value})",
                  f"ALTER TABLE {self.q(new_name)} DROP CONSTRAINT {self.d.quote(self.partition_check_name)}"]
        if old_partition:
            stmts += self.drop_sql(self.backup)
        # The new partition's indexes take the names the replaced partition's had: stable names.
        for i, ix in enumerate(self._indexes):
            final = (old_index_names or {}).get(ix.name) or f"{new_name}_ix{i}"[:63]
            stmts.append(f"ALTER INDEX {self.q(ix.temp_name)} RENAME TO {self.d.quote(final)}")
        return stmts

    @property
    def partition_check_name(self) -> str:
        return f"{self.stage}_chk"[-63:]

    def replace_partition(self) -> None:
        if not self.is_partitioned():
            super().replace_partition()
            return
        self.swap_partition()

    @lock_retried("the exchange of partition {partition} of {table}")
    def swap_partition(self) -> None:
        value = self.partition_value or ""
        old = self.partition_of(value)
        new_name = old or f"{self.live}_p{''.join(ch for ch in value if ch.isdigit())}"
        with self.bounded(self.transaction()):
            # ONLY: the other partitions stay readable; DETACH needs the parent and partition D
            self.run_statements(self.lock_tables_sql([f"ONLY {self.q(t)}" for t in [self.live, old] if t]))
            stmts = self.partition_swap_sql(old, new_name, self.child_index_names(old) if old else None)
            self.run_statements(stmts[:1])
            self.checkpoint("inside_swap")
            self.run_statements(stmts[1:])

    @lock_retried("the swap of {table}")
    def swap(self) -> None:
        with self.bounded(self.transaction()):
            views = [(s, n, d) for s, n, kind, d in self.dependent_views() if kind == "v"]
            self.run_statements(self.lock_tables_sql([self.d.qualify(s, n) for s, n, _ in views] + [self.q(self.live)]))
            stmts = self.swap_sql(views)
            self.run_statements(stmts[:1])
            self.checkpoint("inside_swap")
            self.run_statements(stmts[1:])
