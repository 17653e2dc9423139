"""Oracle at the SQL level (no Oracle server here): every statement of DDL, stage, load, swap,
recovery and locking, in order. A recording connection stands in only where a server would."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.dialects import get_dialect, make_target
from airflow_provider_tagoffline.dialects.oracle.target import KeyDef, OracleTarget, oracle_column_type, oracle_value
from airflow_provider_tagoffline.engine.targets.lockwait import LockPatienceExhausted
from airflow_provider_tagoffline.engine.types import incompatibility
from airflow_provider_tagoffline.runspec import TargetSpec
from tests.run_data import make_spec


class RecordingCursor:
    def __init__(self, conn: RecordingConnection):
        self.conn = conn
        self.result: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: Any = None) -> None:
        self.conn.statements.append(sql)
        self.result = self.conn.answer(sql, params)

    def fetchone(self) -> Any:
        return self.result[0] if self.result else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.result

    def close(self) -> None:
        pass


class RecordingConnection:
    """Answers the dictionary queries from ``tables``; records every statement. ``busy``: statements that
    fail with ORA-00054 (another session holds the table) that many times, as DDL_LOCK_TIMEOUT expires."""

    def __init__(self, tables: set[str], busy: dict[str, int] | None = None):
        self.tables = tables
        self.statements: list[str] = []
        self.autocommit = True
        self.busy = dict(busy or {})
        self.commits = 0

    def cursor(self) -> RecordingCursor:
        return RecordingCursor(self)

    def commit(self) -> None:
        self.commits += 1

    def rollback(self) -> None:
        self.statements.append("(rollback)")

    def answer(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        if self.busy.get(sql):
            self.busy[sql] -= 1
            raise RuntimeError("ORA-00054: resource busy and acquire with NOWAIT specified or timeout expired")
        if "FROM v$locked_object" in sql:
            return [("123,4567", "ANALYST", "bi-host-7", "sqlplus.exe", "12/07/26 02:00:00", "INACTIVE",
                     'UPDATE "CRM"."USER_TAGS" SET nick = NULL')]
        if "SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')" in sql:
            return [(params[0] or "CRM",)]  # the session's current schema is CRM
        if sql.startswith("SELECT COUNT(*) FROM all_tables"):
            return [(1 if params[1] in self.tables else 0,)]
        if sql.startswith("ALTER TABLE") and " RENAME TO " in sql:
            old = sql.split('"')[-4]
            new = sql.split('"')[-2]
            self.tables.discard(old)
            self.tables.add(new)
        if sql.startswith("DROP TABLE"):
            self.tables.discard(sql.split('"')[-2])
        return []


def target(tables: set[str] | None = None, schema: str | None = "CRM", busy: dict[str, int] | None = None,
           wait_for_lock: int | None = None) -> tuple[OracleTarget, RecordingConnection]:
    conn = RecordingConnection(tables or set(), busy)
    spec = TargetSpec(conn_id="ora", kind="oracle", schema=schema, table="USER_TAGS", key_column="USER_ID",
                      wait_for_lock=wait_for_lock)
    t = make_target(spec, conn, "oracle")
    assert isinstance(t, OracleTarget)
    return t, conn


def test_ddl_uses_oracle_types_comments_and_a_named_primary_key() -> None:
    stmts = create_table_sql(make_spec("oracle", "ora", schema="CRM"), "oracle")
    assert stmts[0] == (
        'CREATE TABLE "CRM"."user_tags" (\n'
        '  "user_id" NUMBER(19) NOT NULL,\n  "gender" VARCHAR2(4000 CHAR),\n  "gender_name" VARCHAR2(4000 CHAR),\n'
        '  "level" NUMBER(19),\n  "level_name" VARCHAR2(4000 CHAR),\n  "nick" VARCHAR2(4000 CHAR),\n'
        '  "gmv" NUMBER(18,2),\n  "last_login" TIMESTAMP(6),\n  "vip" NUMBER(1),\n  "birthday" DATE,\n'
        '  "score" BINARY_DOUBLE,\n  CONSTRAINT "user_tags_pk" PRIMARY KEY ("user_id")\n)')
    assert stmts[1].startswith('COMMENT ON TABLE "CRM"."user_tags" IS \'Tags of user by user_id')
    assert 'COMMENT ON COLUMN "CRM"."user_tags"."gender" IS \'性别\'' in stmts
    part = create_table_sql(make_spec("oracle", "ora", partition={"column": "ds", "format": "yyyyMMdd"}), "oracle")
    assert part[0].endswith('PRIMARY KEY ("user_id", "ds")\n)\n'
                            'PARTITION BY LIST ("ds") AUTOMATIC (PARTITION p_init VALUES (\'19700101\'))')


def test_stage_copies_columns_comments_and_grants() -> None:
    t, _ = target()
    assert t.create_stage_sql() == \
        'CREATE TABLE "CRM"."USER_TAGS_dpfx_b" AS SELECT * FROM "CRM"."USER_TAGS" WHERE 1 = 0'
    assert t.comment_sql("CRM's tags", [("GENDER", "性别"), ("NICK", "")]) == [
        'COMMENT ON TABLE "CRM"."USER_TAGS_dpfx_b" IS \'CRM\'\'s tags\'',
        'COMMENT ON COLUMN "CRM"."USER_TAGS_dpfx_b"."GENDER" IS \'性别\'']
    assert t.grant_sql([("APP_READER", "SELECT", "NO"), ("PUBLIC", "SELECT", "NO"), ("ETL", "UPDATE", "YES")]) == [
        'GRANT SELECT ON "CRM"."USER_TAGS_dpfx_b" TO "APP_READER"',
        'GRANT SELECT ON "CRM"."USER_TAGS_dpfx_b" TO PUBLIC',
        'GRANT UPDATE ON "CRM"."USER_TAGS_dpfx_b" TO "ETL" WITH GRANT OPTION']


def test_load_is_array_dml_with_numbered_binds() -> None:
    t, _ = target()
    assert t.insert_sql(["USER_ID", "GENDER", "VIP"]) == \
        'INSERT /*+ APPEND_VALUES */ INTO "CRM"."USER_TAGS_dpfx_b" ("USER_ID", "GENDER", "VIP") VALUES (:1, :2, :3)'
    assert oracle_value(True) == 1 and oracle_value(dt.date(2026, 1, 2)) == dt.datetime(2026, 1, 2)


def test_keys_rebuilt_under_temporary_names_and_renamed_back_after_the_swap() -> None:
    t, _ = target()
    t._keys = [KeyDef("USER_TAGS_PK", "P", ["USER_ID"], t.temp_name("USER_TAGS_PK", 0)),
               KeyDef("USER_TAGS_LEVEL_IX", "I", ["LEVEL", "USER_ID"], t.temp_name("USER_TAGS_LEVEL_IX", 1))]
    pk, ix = (k.temp_name for k in t._keys)
    assert pk.startswith("TO_") and len(pk.encode()) <= 128 and pk == t.temp_name("USER_TAGS_PK", 0)
    assert [t.build_key_sql(k) for k in t._keys] == [
        f'ALTER TABLE "CRM"."USER_TAGS_dpfx_b" ADD CONSTRAINT "{pk}" PRIMARY KEY ("USER_ID")',
        f'CREATE INDEX "CRM"."{ix}" ON "CRM"."USER_TAGS_dpfx_b" ("LEVEL", "USER_ID")']
    assert t.swap_sql() == [
        'ALTER TABLE "CRM"."USER_TAGS" RENAME TO "USER_TAGS_dpfx_tmp"',  # the new name is never qualified
        'ALTER TABLE "CRM"."USER_TAGS_dpfx_b" RENAME TO "USER_TAGS"',
        'DROP TABLE "CRM"."USER_TAGS_dpfx_tmp" PURGE',
        f'ALTER TABLE "CRM"."USER_TAGS" RENAME CONSTRAINT "{pk}" TO "USER_TAGS_PK"',
        f'ALTER INDEX "CRM"."{pk}" RENAME TO "USER_TAGS_PK"',
        f'ALTER INDEX "CRM"."{ix}" RENAME TO "USER_TAGS_LEVEL_IX"',
    ]


BOUND = "ALTER SESSION SET DDL_LOCK_TIMEOUT = 1"


def ddl(conn: RecordingConnection) -> list[str]:
    """The statements that change something (no dictionary query, no lock bound)."""
    return [s for s in conn.statements if not s.startswith("SELECT") and s != BOUND]


def test_swap_executes_in_order_and_a_crash_in_the_window_is_recovered() -> None:
    t, conn = target({"USER_TAGS", "USER_TAGS_dpfx_b"})
    t.swap()
    # each DDL its own step, each waiting at most 1 s for the table's lock
    assert conn.statements == [x for sql in t.swap_sql() for x in (BOUND, sql)] and conn.tables == {"USER_TAGS"}

    # Killed between the renames: the live name is missing, the old data sits in _dpfx_tmp.
    t, conn = target({"USER_TAGS_dpfx_tmp", "USER_TAGS_dpfx_b"})
    actions = t.recover()
    assert ddl(conn) == [
        'ALTER TABLE "CRM"."USER_TAGS_dpfx_tmp" RENAME TO "USER_TAGS"',
        'DROP TABLE "CRM"."USER_TAGS_dpfx_b" PURGE']
    assert conn.tables == {"USER_TAGS"}
    assert actions[0] == "renamed USER_TAGS_dpfx_tmp back to USER_TAGS (the live table was missing)"

    # Killed after the second rename, before the drop: only the old copy is left over.
    t, conn = target({"USER_TAGS", "USER_TAGS_dpfx_tmp"})
    t.recover()
    assert ddl(conn) == [
        'DROP TABLE "CRM"."USER_TAGS_dpfx_tmp" PURGE']


def test_tmp_is_never_dropped_while_the_target_is_missing() -> None:
    t, conn = target({"USER_TAGS_dpfx_tmp"})
    t.recover()
    assert not [s for s in conn.statements if s.startswith("DROP")]
    assert conn.tables == {"USER_TAGS"}


def test_lock_uses_dbms_lock_exclusive_with_a_timeout() -> None:
    t, _ = target()
    assert t.lock_block_sql() == ("DECLARE h VARCHAR2(128); BEGIN DBMS_LOCK.ALLOCATE_UNIQUE(:1, h); "
                                  ":2 := DBMS_LOCK.REQUEST(h, DBMS_LOCK.X_MODE, :3, FALSE); END;")
    assert "DBMS_LOCK.RELEASE(h)" in t.unlock_block_sql()
    assert t.lock_name().startswith("tagoffline:") and len(t.lock_name()) <= 128


def test_lock_is_keyed_on_the_resolved_owner() -> None:
    """`USER_TAGS` in the session's schema CRM and `CRM.USER_TAGS` are one table: one lock."""
    assert target(schema=None)[0].lock_name() == target(schema="CRM")[0].lock_name()
    assert target(schema="OTHER")[0].lock_name() != target(schema="CRM")[0].lock_name()


def test_partition_d_replaced_in_one_dml_transaction() -> None:
    t, conn = target()
    t.partition_column, t.partition_value = "DS", "20261123"
    assert t.replace_partition_sql() == ['DELETE FROM "CRM"."USER_TAGS" WHERE "DS" = \'20261123\'',
                                         'INSERT INTO "CRM"."USER_TAGS" SELECT * FROM "CRM"."USER_TAGS_dpfx_b"']
    # DML waits for other writers without end: the table's lock is taken first, bounded (readers never wait)
    lock = 'LOCK TABLE "CRM"."USER_TAGS" IN EXCLUSIVE MODE WAIT 1'
    conn.busy = {lock: 1}
    t.replace_rows()
    assert conn.statements == [BOUND, lock, "(rollback)", BOUND, lock, *t.replace_partition_sql()]
    assert conn.commits == 1 and conn.autocommit is True


def test_a_busy_table_is_retried_and_the_swap_goes_on_once_it_is_free() -> None:
    rename = 'ALTER TABLE "CRM"."USER_TAGS" RENAME TO "USER_TAGS_dpfx_tmp"'
    t, conn = target({"USER_TAGS", "USER_TAGS_dpfx_b"}, busy={rename: 2}, wait_for_lock=60)
    t.swap()
    assert conn.statements[:6] == [BOUND, rename, BOUND, rename, BOUND, rename]  # ORA-00054 twice, then through
    assert ddl(conn) == [rename, rename, *t.swap_sql()] and conn.tables == {"USER_TAGS"}
    assert (t.lock_waits.attempts, t.lock_waits.timeouts) == (2 + len(t.swap_sql()), 2)


def test_out_of_patience_the_swap_fails_naming_the_session_and_nothing_was_renamed() -> None:
    rename = 'ALTER TABLE "CRM"."USER_TAGS" RENAME TO "USER_TAGS_dpfx_tmp"'
    t, conn = target({"USER_TAGS", "USER_TAGS_dpfx_b"}, busy={rename: 99}, wait_for_lock=1)
    with pytest.raises(LockPatienceExhausted) as failed:
        t.swap()
    assert str(failed.value).startswith("the swap of CRM.USER_TAGS gave up: other sessions held the table")
    assert "Held by: session 123,4567 (user ANALYST, from bi-host-7, application 'sqlplus.exe', since 12/07/26 " \
           '02:00:00, idle in transaction): UPDATE "CRM"."USER_TAGS" SET nick = NULL.' in str(failed.value)
    assert conn.tables == {"USER_TAGS", "USER_TAGS_dpfx_b"} and set(ddl(conn)) == {rename}
    (query,) = [s for s in conn.statements if "v$locked_object" in s]
    assert query == t.blockers_sql() and "JOIN v$session s ON s.sid = l.session_id" in query


def test_the_live_name_is_put_back_when_the_second_rename_fails() -> None:
    second = 'ALTER TABLE "CRM"."USER_TAGS_dpfx_b" RENAME TO "USER_TAGS"'
    t, conn = target({"USER_TAGS", "USER_TAGS_dpfx_b"}, busy={second: 99}, wait_for_lock=0)
    with pytest.raises(LockPatienceExhausted):
        t.swap()
    assert conn.tables == {"USER_TAGS", "USER_TAGS_dpfx_b"}  # the old table is live again, the stage kept
    assert ddl(conn)[-1] == 'ALTER TABLE "CRM"."USER_TAGS_dpfx_tmp" RENAME TO "USER_TAGS"'


@pytest.mark.parametrize(("data_type", "precision", "scale", "value_type", "problem"), [
    ("NUMBER", 19, 0, "bigint", None),
    ("NUMBER", 10, 0, "bigint", "a bigint needs a 64-bit integer column, not decimal"),
    ("NUMBER", None, None, "decimal(18,2)", None),
    ("NUMBER", 18, 2, "decimal(18,2)", None),
    ("NUMBER", 12, 2, "decimal(18,2)", "decimal(12,2) is narrower than decimal(18,2)"),
    ("DATE", None, None, "datetime", None),  # Oracle's DATE keeps the time of day
    ("TIMESTAMP(6)", None, None, "datetime", None),
    ("BINARY_DOUBLE", None, None, "double", None),
    ("VARCHAR2", None, None, "string", None),
    ("NUMBER", 1, 0, "boolean", None),
])
def test_oracle_column_compatibility(data_type: str, precision: int | None, scale: int | None, value_type: str,
                                     problem: str | None) -> None:
    assert incompatibility(value_type, oracle_column_type(data_type, precision, scale)) == problem


def test_identifier_limit_with_the_suffixes() -> None:
    oracle = get_dialect("oracle")
    assert oracle.swap_name_problem("T" * 119) is None
    assert oracle.swap_name_problem("T" * 120) == (
        "table name '" + "T" * 120 + "' is too long: the swap table '" + "T" * 120 + "_dpfx_tmp' is 129 bytes "
        "long; oracle allows at most 128 bytes; shorten the table name by 1 byte(s)")
    assert oracle.swap_name_problem("表" * 40) == (
        "table name '" + "表" * 40 + "' is too long: the swap table '" + "表" * 40 + "_dpfx_tmp' is 129 bytes "
        "long; oracle allows at most 128 bytes; shorten the table name by 1 byte(s)")


# ---- the table's digest (load mode changes' trust check): SQL only --------------------------------------------
def test_the_row_hash_hashes_each_value_by_its_internal_form_then_their_hex() -> None:
    t, conn = target()
    one = "NVL(RAWTOHEX(STANDARD_HASH(l.\"{}\", 'MD5')), 'N')"
    row = " || ".join(one.format(c) for c in ("USER_ID", "NICK"))
    assert t.row_hash_sql("l", ["USER_ID", "NICK"]) == (
        f"TO_NUMBER(SUBSTR(RAWTOHEX(STANDARD_HASH({row}, 'MD5')), 1, 16), 'XXXXXXXXXXXXXXXX')")
    assert t.digest_sql("USER_TAGS", ["USER_ID", "NICK"]) == (
        f"SELECT COUNT(*), COALESCE(SUM({t.row_hash_sql('l', ['USER_ID', 'NICK'])}), 0) FROM \"CRM\".\"USER_TAGS\" l")
    assert t.changed_rows_digest_sql("TAGOFFLINE_DELTA", "USER_ID", ["USER_ID", "NICK"], "du") == (
        f"SELECT COUNT(*), COALESCE(SUM({t.row_hash_sql('l', ['USER_ID', 'NICK'])}), 0) FROM \"CRM\".\"USER_TAGS\" l "
        "WHERE l.\"USER_ID\" IN (SELECT d.\"tagoffline_key\" FROM \"TAGOFFLINE_DELTA\" d "
        "WHERE d.\"tagoffline_op\" IN ('d', 'u'))")
    with pytest.raises(ValueError, match="subset of 'iudo'"):
        t.changed_rows_digest_sql("TAGOFFLINE_DELTA", "USER_ID", ["USER_ID"], "x")
    assert conn.statements == []  # pure


def test_the_digest_runs_one_query_and_reads_two_numbers() -> None:
    t, conn = target()
    conn.answer = lambda sql, params: [(3, 12345678901234567890123)]  # type: ignore[method-assign]
    digest = t.table_digest("USER_TAGS", ["USER_ID", "NICK"])
    assert (digest.rows, digest.total, digest.text()) == (3, 12345678901234567890123, "3:12345678901234567890123")
    assert conn.statements == [t.digest_sql("USER_TAGS", ["USER_ID", "NICK"])]
