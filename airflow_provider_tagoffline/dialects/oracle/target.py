"""Oracle, through python-oracledb. Built against Oracle's documented behaviour and tested at the
SQL level only: no Oracle server exists where this project is tested (docs/oracle.md).

* Stage: ``CREATE TABLE .._dpfx_b AS SELECT * FROM live WHERE 1 = 0`` (columns and NOT NULL),
  then the live table's comments and grants copied onto it (grants in Oracle follow the object,
  not the name). Primary key, unique constraints and indexes are rebuilt after the load under
  temporary names and renamed back to the live table's names after the swap.
* Load: array DML — ``INSERT /*+ APPEND_VALUES */`` with ``executemany`` per batch, each batch
  committed (a direct-path insert must commit before the next one touches the table).
* Swap: every DDL commits in Oracle and there is no multi-table rename, so the swap is
  ``ALTER TABLE live RENAME TO live_dpfx_tmp``, ``ALTER TABLE live_dpfx_b RENAME TO live``,
  ``DROP TABLE live_dpfx_tmp PURGE``. Between the two renames the name does not resolve: a reader
  gets ORA-00942 for that window (milliseconds). A crash inside it leaves ``live`` missing and
  ``live_dpfx_tmp`` present, which the next run renames back before anything else (base.recover).
* Lock: ``DBMS_LOCK`` (exclusive, 60 s), which needs EXECUTE on DBMS_LOCK.
* Partitioned targets: partition D replaced by DELETE + INSERT in one transaction (base class), after
  ``LOCK TABLE … IN EXCLUSIVE MODE WAIT 1`` (other writers wait; readers never do in Oracle).
* Bounded lock waits (``lockwait.py``): queries take no table locks in Oracle, so readers never hold
  the swap back nor queue behind it; an uncommitted write on the table does (ORA-00054). Each DDL
  waits at most ``DDL_LOCK_TIMEOUT`` (1 s, the session's) and runs again; the holders are named
  from ``V$LOCKED_OBJECT`` / ``V$SESSION`` (the connection's user needs SELECT on them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_tagoffline.engine.targets import lockwait
from airflow_provider_tagoffline.engine.targets.base import LoadResult, Row, Target
from airflow_provider_tagoffline.engine.targets.lockwait import Blocker
from airflow_provider_tagoffline.engine.types import ColumnType, classify
from airflow_provider_tagoffline.errors import RunFailed

LOCK_WAIT_SECONDS = 60
_LOCK_RESULTS = {1: "timed out", 2: "deadlock", 3: "parameter error", 4: "already held", 5: "illegal lock handle"}
#: resource busy (DDL_LOCK_TIMEOUT expired), timeout waiting to lock an object, LOCK TABLE … WAIT expired,
#: deadlock detected
LOCK_TIMEOUT_ERRORS = ("ORA-00054", "ORA-04021", "ORA-30006", "ORA-00060")


@dataclass
class KeyDef:
    """A primary key or unique constraint, or a plain index, of the live table."""

    name: str
    kind: str  # "P" primary key, "U" unique constraint, "I" index, "UI" unique index
    columns: list[str] = field(default_factory=list)
    temp_name: str = ""


class OracleTarget(Target):
    transactional_ddl = False
    #: the table comment, where the data date held is recorded, changes only by DDL, which commits by itself
    changes_refusal = ("the record of the data date this table holds is its comment, which only DDL changes, and "
                       "DDL commits by itself here: it cannot be written with the changed rows in one transaction")
    comment_limit = (4000, "bytes")  # ALL_TAB_COMMENTS.COMMENTS is VARCHAR2(4000)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._keys: list[KeyDef] = []

    # ---- plumbing --------------------------------------------------------------------------
    def _owner_params(self, table: str) -> list[Any]:
        return [self.schema, table]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield  # every DDL commits implicitly

    @contextlib.contextmanager
    def dml_transaction(self) -> Iterator[None]:
        self.conn.autocommit = False
        try:
            yield
            self.conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                self.conn.rollback()
            raise
        finally:
            self.conn.autocommit = True

    # ---- pure SQL ----------------------------------------------------------------------------
    @staticmethod
    def lock_block_sql() -> str:
        return ("DECLARE h VARCHAR2(128); BEGIN DBMS_LOCK.ALLOCATE_UNIQUE(:1, h); "
                ":2 := DBMS_LOCK.REQUEST(h, DBMS_LOCK.X_MODE, :3, FALSE); END;")

    @staticmethod
    def unlock_block_sql() -> str:
        return ("DECLARE h VARCHAR2(128); r INTEGER; BEGIN DBMS_LOCK.ALLOCATE_UNIQUE(:1, h); "
                "r := DBMS_LOCK.RELEASE(h); END;")

    def drop_sql(self, table: str) -> list[str]:
        return [f"DROP TABLE {self.q(table)} PURGE"]  # PURGE: no copy kept in the recycle bin

    def create_stage_sql(self) -> str:
        return f"CREATE TABLE {self.q(self.stage)} AS SELECT * FROM {self.q(self.live)} WHERE 1 = 0"

    def comment_sql(self, table_comment: str | None, column_comments: list[tuple[str, str]]) -> list[str]:
        out = []
        if table_comment:
            out.append(f"COMMENT ON TABLE {self.q(self.stage)} IS {self.d.quote_literal(table_comment)}")
        out += [f"COMMENT ON COLUMN {self.q(self.stage)}.{self.d.quote(c)} IS {self.d.quote_literal(text)}"
                for c, text in column_comments if text]
        return out

    def row_hash_sql(self, alias: str, columns: list[str]) -> str:
        # STANDARD_HASH (12c+) of each value (its internal form: no NLS format decides a DATE's or NUMBER's
        # text), hex, NULL as N (never a hex digit), then of their concatenation: fixed-width pieces, so no
        # separator to escape, and 33 characters a column keep the text within VARCHAR2's 4000 bytes up to
        # 120 columns. The first 64 bits, as a NUMBER (exact: its SUM has 38 digits).
        values = " || ".join(f"NVL(RAWTOHEX(STANDARD_HASH({alias}.{self.d.quote(c)}, 'MD5')), 'N')"
                             for c in columns)
        return f"TO_NUMBER(SUBSTR(RAWTOHEX(STANDARD_HASH({values}, 'MD5')), 1, 16), 'XXXXXXXXXXXXXXXX')"

    def table_comment_sql(self, table: str, text: str) -> str:
        return f"COMMENT ON TABLE {self.q(table)} IS {self.d.quote_literal(text)}"

    def grant_sql(self, grants: list[tuple[str, str, str]]) -> list[str]:
        """``grants``: (grantee, privilege, grantable 'YES'/'NO') rows of ALL_TAB_PRIVS."""
        out = []
        for grantee, privilege, grantable in grants:
            who = "PUBLIC" if grantee == "PUBLIC" else self.d.quote(grantee)
            out.append(f"GRANT {privilege} ON {self.q(self.stage)} TO {who}"
                       + (" WITH GRANT OPTION" if grantable == "YES" else ""))
        return out

    def temp_name(self, original: str, position: int) -> str:
        digest = hashlib.sha1(f"{self.schema}.{self.live}.{original}".encode()).hexdigest()[:16]
        return f"TO_{digest}_{position}"

    def build_key_sql(self, key: KeyDef) -> str:
        cols = ", ".join(self.d.quote(c) for c in key.columns)
        if key.kind == "P":
            return f"ALTER TABLE {self.q(self.stage)} ADD CONSTRAINT {self.d.quote(key.temp_name)} PRIMARY KEY ({cols})"
        if key.kind == "U":
            return f"ALTER TABLE {self.q(self.stage)} ADD CONSTRAINT {self.d.quote(key.temp_name)} UNIQUE ({cols})"
        unique = "UNIQUE " if key.kind == "UI" else ""
        return f"CREATE {unique}INDEX {self.q(key.temp_name)} ON {self.q(self.stage)} ({cols})"

    def insert_sql(self, columns: list[str]) -> str:
        cols = ", ".join(self.d.quote(c) for c in columns)
        binds = ", ".join(f":{i}" for i in range(1, len(columns) + 1))
        return f"INSERT /*+ APPEND_VALUES */ INTO {self.load_ref} ({cols}) VALUES ({binds})"

    def swap_sql(self) -> list[str]:
        stmts = self.rename_sql(self.live, self.backup) + self.rename_sql(self.stage, self.live)
        stmts += self.drop_sql(self.backup)
        for key in self._keys:
            if key.kind in ("P", "U"):
                # The constraint's index was created with the constraint's name: rename both.
                stmts.append(f"ALTER TABLE {self.q(self.live)} RENAME CONSTRAINT {self.d.quote(key.temp_name)} "
                             f"TO {self.d.quote(key.name)}")
            stmts.append(f"ALTER INDEX {self.q(key.temp_name)} RENAME TO {self.d.quote(key.name)}")
        return stmts

    # ---- bounded lock waits ------------------------------------------------------------------
    def lock_timeout_sql(self, seconds: float) -> list[str]:
        return [f"ALTER SESSION SET DDL_LOCK_TIMEOUT = {max(1, int(seconds))}"]

    def exclusive_dml_sql(self) -> list[str]:
        # DML waits for row locks without end; this bounds it (and blocks other writers, never readers).
        return [f"LOCK TABLE {self.q(self.live)} IN EXCLUSIVE MODE WAIT {max(1, int(lockwait.ATTEMPT_SECONDS))}"]

    def is_lock_timeout(self, exc: BaseException) -> bool:
        return any(code in str(exc) for code in LOCK_TIMEOUT_ERRORS)

    @staticmethod
    def blockers_sql() -> str:
        """Sessions holding a lock on the live table, its stage or its backup, with their transaction's
        start and their current (else last) statement."""
        return ("SELECT DISTINCT s.sid || ',' || s.serial#, s.username, s.machine, s.program, "
                "NVL(t.start_time, TO_CHAR(s.logon_time, 'MM/DD/YY HH24:MI:SS')), s.status, "
                "(SELECT q.sql_text FROM v$sql q WHERE q.sql_id = NVL(s.sql_id, s.prev_sql_id) AND ROWNUM = 1) "
                "FROM v$locked_object l JOIN v$session s ON s.sid = l.session_id "
                "JOIN all_objects o ON o.object_id = l.object_id LEFT JOIN v$transaction t ON t.addr = s.taddr "
                "WHERE o.owner = NVL(:1, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')) AND o.object_name IN (:2, :3, :4) "
                "AND s.sid <> TO_NUMBER(SYS_CONTEXT('USERENV', 'SID'))")

    def blockers(self) -> list[Blocker]:
        rows = self.rows(self.blockers_sql(), [self.schema, self.live, self.stage, self.backup])
        return [Blocker(session=str(sid), user=user, client=machine, application=program, since=str(since),
                        state="idle in transaction" if status == "INACTIVE" else str(status).lower(),
                        statement=sql) for sid, user, machine, program, since, status, sql in rows]

    # ---- introspection -------------------------------------------------------------------------
    def lock_name(self) -> str:
        """DBMS_LOCK names are database-wide: the owner the table resolves to and its name. Unqualified
        names resolve in the session's current schema, so ``t`` and ``OWNER.t`` take one lock."""
        owner = self.scalar("SELECT NVL(:1, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')) FROM dual", [self.schema])
        return self.lock_key(owner, self.live)

    @contextlib.contextmanager
    def lock(self, wait_seconds: float | None = None) -> Iterator[None]:
        import oracledb

        name = self.lock_name()
        wait = LOCK_WAIT_SECONDS if wait_seconds is None else wait_seconds
        cur = self.conn.cursor()
        result = cur.var(oracledb.NUMBER)
        try:
            cur.execute(self.lock_block_sql(), [name, result, wait])
        except Exception as exc:
            raise RunFailed(f"cannot lock {self.display_name} with DBMS_LOCK (the connection's user needs "
                            f"EXECUTE on DBMS_LOCK): {str(exc).splitlines()[0]}") from None
        code = int(result.getvalue() or 0)
        if code not in (0, 4):
            raise RunFailed(f"another run is writing {self.display_name} (DBMS_LOCK {_LOCK_RESULTS.get(code, code)} "
                            f"after {wait}s)")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                cur.execute(self.unlock_block_sql(), [name])
            cur.close()

    def exists(self, table: str) -> bool:
        return int(self.scalar("SELECT COUNT(*) FROM all_tables WHERE owner = NVL(:1, USER) AND table_name = :2",
                               self._owner_params(table))) > 0

    def column_types(self, table: str) -> dict[str, ColumnType]:
        cur = self.execute("SELECT column_name, data_type, data_precision, data_scale FROM all_tab_columns "
                           "WHERE owner = NVL(:1, USER) AND table_name = :2 ORDER BY column_id",
                           self._owner_params(table))
        try:
            return {name: oracle_column_type(t, p, s) for name, t, p, s in cur.fetchall()}
        finally:
            cur.close()

    def table_comment(self, table: str) -> str | None:
        comment = self.scalar("SELECT comments FROM all_tab_comments WHERE owner = NVL(:1, USER) AND table_name = :2",
                              self._owner_params(table))
        return str(comment) if comment else None

    def _keys_of_live(self) -> list[KeyDef]:
        params = self._owner_params(self.live)
        keys: dict[str, KeyDef] = {}
        for name, ctype, column in self.rows(
                "SELECT c.constraint_name, c.constraint_type, cc.column_name FROM all_constraints c "
                "JOIN all_cons_columns cc ON cc.owner = c.owner AND cc.constraint_name = c.constraint_name "
                "WHERE c.owner = NVL(:1, USER) AND c.table_name = :2 AND c.constraint_type IN ('P', 'U') "
                "ORDER BY c.constraint_name, cc.position", params):
            keys.setdefault(name, KeyDef(name, ctype)).columns.append(column)
        for name, uniqueness, column in self.rows(
                "SELECT i.index_name, i.uniqueness, ic.column_name FROM all_indexes i JOIN all_ind_columns ic "
                "ON ic.index_owner = i.owner AND ic.index_name = i.index_name WHERE i.table_owner = NVL(:1, USER) "
                "AND i.table_name = :2 AND i.index_type = 'NORMAL' AND i.index_name NOT IN "
                "(SELECT NVL(index_name, ' ') FROM all_constraints WHERE owner = i.table_owner "
                "AND table_name = i.table_name) "
                "ORDER BY i.index_name, ic.column_position", params):
            keys.setdefault(name, KeyDef(name, "UI" if uniqueness == "UNIQUE" else "I")).columns.append(column)
        out = list(keys.values())
        for i, key in enumerate(out):
            key.temp_name = self.temp_name(key.name, i)
        return out

    # ---- steps -------------------------------------------------------------------------------
    def prepare_stage(self) -> None:
        params = self._owner_params(self.live)
        self._keys = self._keys_of_live()
        table_comment = self.scalar("SELECT comments FROM all_tab_comments WHERE owner = NVL(:1, USER) "
                                    "AND table_name = :2", params)
        column_comments = self.rows("SELECT column_name, comments FROM all_col_comments WHERE owner = "
                                     "NVL(:1, USER) AND table_name = :2 AND comments IS NOT NULL", params)
        grants = self.rows("SELECT grantee, privilege, grantable FROM all_tab_privs WHERE table_schema = "
                            "NVL(:1, USER) AND table_name = :2 ORDER BY grantee, privilege", params)
        self.run_statements([self.create_stage_sql(),
                             *self.comment_sql(table_comment, [(str(c), str(t)) for c, t in column_comments]),
                             *self.grant_sql([(str(g), str(p), str(o)) for g, p, o in grants])])

    def load(self, columns: list[str], batches: Iterable[list[Row]]) -> LoadResult:
        sql = self.insert_sql(columns)
        rows = 0
        cur = self.conn.cursor()
        try:
            for batch in batches:
                cur.executemany(sql, [tuple(oracle_value(v) for v in row) for row in batch])
                self.conn.commit()  # direct-path: commit before the next insert into the table
                rows += len(batch)
                if rows == len(batch):
                    self.checkpoint("during_load")
        finally:
            cur.close()
        return LoadResult(rows=rows, method="array DML (executemany, APPEND_VALUES)")

    def finish_stage(self) -> None:
        self.run_statements([self.build_key_sql(k) for k in self._keys])

    def swap(self) -> None:
        stmts = self.swap_sql()
        what = f"the swap of {self.display_name}"
        self.run_bounded(what, stmts[:1])
        self.checkpoint("inside_swap")  # the documented window: live is missing until the next rename
        try:
            self.run_bounded(what, stmts[1:2])
        except BaseException:
            # The live name must not stay missing: the old table goes back (else the next run's recovery).
            with contextlib.suppress(Exception):
                self.run_bounded(f"putting back {self.live}", self.rename_sql(self.backup, self.live))
            raise
        if self.drop_replaced(self.backup):  # else the old table still holds the names
            self.run_bounded(f"the index names of {self.display_name}", stmts[3:])

    def live_rows(self) -> int:
        if self.partition_column is None:
            return super().live_rows()
        return int(self.scalar(f"SELECT COUNT(*) FROM {self.q(self.live)} WHERE "
                               f"{self.d.quote(self.partition_column)} = :1", [self.partition_value]))

    def size_bytes(self, table: str) -> int | None:
        try:
            return int(self.scalar("SELECT NVL(SUM(bytes), 0) FROM user_segments WHERE segment_name = :1",
                                   [table]) or 0)
        except Exception:  # segment views may not be readable
            return None


def oracle_column_type(data_type: str, precision: int | None, scale: int | None) -> ColumnType:
    """Classify an ALL_TAB_COLUMNS row. Oracle's DATE holds a time of day, so it is a datetime."""
    t = str(data_type).upper()
    if t == "DATE":
        return ColumnType(t, "datetime")
    if t == "NUMBER" and precision is not None:
        return classify(f"NUMBER({precision},{scale or 0})")
    return classify(t)


def oracle_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)  # NUMBER(1)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value
