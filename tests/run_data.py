"""Engine test data: a small warehouse with every awkward value, run specs, live targets.

The warehouse holds the entity ``user`` in two source tables with different partition formats:
``profile`` (``ds`` yyyyMMdd) and ``trade`` (``dt`` yyyy-MM-dd). User 6 is only in ``trade`` and
user 7 only in ``profile`` (the join must keep both); user 3 appears twice in ``profile`` for D
(the last row wins); values cover Unicode, tabs, newlines, backslashes, quotes and NULLs.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tagoffline.runspec import RunSpec
from tests.live import mysql_conn_json, mysql_connect, mysql_database, pg_conn_json, pg_connect, pg_database

D = dt.date(2026, 11, 23)
D_PREV = dt.date(2026, 11, 22)

PROFILE_COLS = ("user_id", "gender", "level", "nick", "ds")
TRADE_COLS = ("user_id", "gmv", "last_login", "vip", "birthday", "score", "dt")
WEIRD = 'tab\there\nnew "quoted" \'single\' back\\slash'


def profile_rows(day: dt.date) -> list[tuple[Any, ...]]:
    ds = day.strftime("%Y%m%d")
    shift = 0 if day == D else 1  # the previous day differs, so overwrites are visible
    return [
        (1, "M", 1 + shift, "alice", ds),
        (2, "F", 2, "张三 🚀", ds),
        (3, "U", 3, "first row of 3", ds),
        (3, "F", 4, "last row of 3", ds),  # duplicate ID: this one wins
        (4, None, None, WEIRD, ds),
        (5, "X", 5, "", ds),  # "X" has no code name; "" is not NULL
        (7, "M", 1, "profile only", ds),
    ]


def trade_rows(day: dt.date) -> list[tuple[Any, ...]]:
    d = day.isoformat()
    extra = Decimal("0.00") if day == D else Decimal("1.00")
    return [
        (1, Decimal("1234567890123456.78") + extra, dt.datetime(2026, 11, 23, 8, 30, 15), True,
         dt.date(1990, 1, 31), 0.5, d),
        (2, Decimal("-0.01"), dt.datetime(2026, 1, 1, 0, 0, 0), False, dt.date(2000, 2, 29), -1.25e10, d),
        (3, Decimal("0.00"), None, None, None, None, d),
        (4, None, dt.datetime(1999, 12, 31, 23, 59, 59), True, dt.date(1970, 1, 1), 3.0, d),
        (6, Decimal("42.42"), dt.datetime(2026, 6, 1, 12, 0, 0), False, dt.date(2020, 5, 17), 0.0, d),
    ]


LEVELS = [("1", "Bronze"), ("2", "Silver"), ("3", "Gold"), ("4", "白金")]

# (user_id, gender, gender_name, level, level_name, nick, gmv, last_login, vip, birthday, score) for D
EXPECTED_D = [
    (1, "M", "Male", 1, "Bronze", "alice", Decimal("1234567890123456.78"), "2026-11-23 08:30:15", 1,
     "1990-01-31", 0.5),
    (2, "F", "Female", 2, "Silver", "张三 🚀", Decimal("-0.01"), "2026-01-01 00:00:00", 0, "2000-02-29", -1.25e10),
    (3, "F", "Female", 4, "白金", "last row of 3", Decimal("0.00"), None, None, None, None),
    (4, None, None, None, None, WEIRD, None, "1999-12-31 23:59:59", 1, "1970-01-01", 3.0),
    (5, "X", None, 5, None, "", None, None, None, None, None),
    (6, None, None, None, None, None, Decimal("42.42"), "2026-06-01 12:00:00", 0, "2020-05-17", 0.0),
    (7, "M", "Male", 1, "Bronze", "profile only", None, None, None, None, None),
]
OUTPUT_COLUMNS = ["user_id", "gender", "gender_name", "level", "level_name", "nick", "gmv", "last_login", "vip",
                  "birthday", "score"]


def make_spec(kind: str, conn_id: str, table: str = "user_tags", schema: str | None = None,
              gates: dict | None = None, partition: dict | None = None,
              warehouse_conn_id: str = "tot_warehouse") -> RunSpec:
    return RunSpec.model_validate({
        "service": {"name": "用户标签 test", "slug": "user_tags_test", "application": "crm", "owner": "alice",
                    "version": 1},
        "entity_key": {"entity": "user", "code": "user_id", "name": "User ID", "type": "bigint"},
        "warehouse_conn_id": warehouse_conn_id,
        "sources": [
            {"table": "profile", "key": "user_id", "partition": {"column": "ds", "format": "yyyyMMdd"}},
            {"table": "trade", "key": "user_id", "partition": {"column": "dt", "format": "yyyy-MM-dd"}},
        ],
        "tags": [
            {"code": "gender", "name": "性别", "type": "string", "source": 0, "column": "gender", "lookup": "g"},
            {"code": "level", "name": "Level", "type": "bigint", "source": 0, "column": "level", "lookup": "lv"},
            {"code": "nick", "name": "Nickname", "type": "string", "source": 0, "column": "nick"},
            {"code": "gmv", "name": "GMV", "type": "decimal(18,2)", "source": 1, "column": "gmv"},
            {"code": "last_login", "name": "Last login", "type": "datetime", "source": 1, "column": "last_login"},
            {"code": "vip", "name": "VIP", "type": "boolean", "source": 1, "column": "vip"},
            {"code": "birthday", "name": "Birthday", "type": "date", "source": 1, "column": "birthday"},
            {"code": "score", "name": "Score", "type": "double", "source": 1, "column": "score"},
        ],
        "lookups": {
            "g": {"code": "g", "kind": "inline", "values": {"M": "Male", "F": "Female", "U": "Unknown"}},
            "lv": {"code": "lv", "kind": "table", "table": "dim_level", "code_column": "level_code",
                   "name_column": "level_name"},
        },
        "outputs": [
            {"column": "gender", "tag": "gender", "content": "value", "type": "string"},
            {"column": "gender_name", "tag": "gender", "content": "codename", "type": "string"},
            {"column": "level", "tag": "level", "content": "value", "type": "bigint"},
            {"column": "level_name", "tag": "level", "content": "codename", "type": "string"},
            {"column": "nick", "tag": "nick", "content": "value", "type": "string"},
            {"column": "gmv", "tag": "gmv", "content": "value", "type": "decimal(18,2)"},
            {"column": "last_login", "tag": "last_login", "content": "value", "type": "datetime"},
            {"column": "vip", "tag": "vip", "content": "value", "type": "boolean"},
            {"column": "birthday", "tag": "birthday", "content": "value", "type": "date"},
            {"column": "score", "tag": "score", "content": "value", "type": "double"},
        ],
        "target": {"conn_id": conn_id, "kind": kind, "schema": schema, "table": table, "key_column": "user_id",
                   "partition": partition},
        "gates": gates or {},
        "schedule": {"type": "manual", "timezone": "UTC"},
    })


#: text that would break out of a docstring, a string literal or a comment if pasted into source
HOSTILE = [
    '"""; import os; os.system("id"); """',
    "'''\nimport os\nos.system('id')\n'''",
    "back\\slash at the end\\",
    "a \\N{BULLET} and \\x41 and \\u2028 spelled out",
    "line\u2028separator\u2029paragraph\x85next line",
    "new\nline, carriage\rreturn, tab\t, form\x0cfeed, vertical\x0btab",
    "# not a comment",
    "{{ jinja }} {% raw %} ${shell}",
    "用户标签 🐍",
    "'", '"', "\\",
]


def hostile_spec() -> RunSpec:
    data = make_spec("sqlite", "tot_target").to_dict()
    text = " | ".join(HOSTILE)
    data["service"].update(name=text, description=text, owner=HOSTILE[0])
    for i, tag in enumerate(data["tags"]):
        tag["name"] = HOSTILE[i % len(HOSTILE)]
    data["entity_key"]["name"] = HOSTILE[1]
    data["lookups"]["g"]["values"] = {h: h for h in HOSTILE}
    return RunSpec.model_validate(data)


# ---- warehouses -----------------------------------------------------------------------------------
WAREHOUSE_DDL = {
    "duckdb": ["CREATE TABLE profile (user_id BIGINT, gender VARCHAR, level BIGINT, nick VARCHAR, ds VARCHAR)",
               "CREATE TABLE trade (user_id BIGINT, gmv DECIMAL(18,2), last_login TIMESTAMP, vip BOOLEAN, "
               "birthday DATE, score DOUBLE, dt VARCHAR)",
               "CREATE TABLE dim_level (level_code VARCHAR, level_name VARCHAR)"],
    "postgres": ["CREATE TABLE profile (user_id bigint, gender text, level bigint, nick text, ds text)",
                 "CREATE TABLE trade (user_id bigint, gmv numeric(18,2), last_login timestamp, vip boolean, "
                 "birthday date, score double precision, dt date)",
                 "CREATE TABLE dim_level (level_code text, level_name text)"],
    "mysql": ["CREATE TABLE profile (user_id bigint, gender varchar(8), level bigint, nick text, ds varchar(8))",
              "CREATE TABLE trade (user_id bigint, gmv decimal(18,2), last_login datetime, vip boolean, "
              "birthday date, score double, dt date)",
              "CREATE TABLE dim_level (level_code varchar(8), level_name varchar(32))"],
    # read through the generic DB-API path (SqliteHook), like any engine without a path of its own
    "sqlite": ["CREATE TABLE profile (user_id INTEGER, gender TEXT, level INTEGER, nick TEXT, ds TEXT)",
               "CREATE TABLE trade (user_id INTEGER, gmv TEXT, last_login TEXT, vip INTEGER, birthday TEXT, "
               "score REAL, dt TEXT)",
               "CREATE TABLE dim_level (level_code TEXT, level_name TEXT)"],
}


#: Spark SQL through its Thrift server: Hive-format tables partitioned by the data date, as a Spark
#: warehouse holds them (the partition column is last and not among the inserted columns)
SPARK_DDL = [
    "CREATE TABLE profile (user_id BIGINT, gender STRING, level BIGINT, nick STRING) PARTITIONED BY (ds STRING) "
    "STORED AS PARQUET",
    "CREATE TABLE trade (user_id BIGINT, gmv DECIMAL(18,2), last_login TIMESTAMP, vip BOOLEAN, birthday DATE, "
    "score DOUBLE) PARTITIONED BY (dt STRING) STORED AS PARQUET",
    "CREATE TABLE dim_level (level_code STRING, level_name STRING) STORED AS PARQUET",
]


def spark_literal(value: Any) -> str:
    """A Spark SQL literal of a test value (the rows hold quotes, backslashes, tabs and newlines)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Decimal):
        return f"CAST('{value}' AS DECIMAL(18,2))"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\t", "\\t")
    return f"'{text}'"


def fill_spark_warehouse(conn: Any, database: str) -> None:
    """The warehouse of this module in a Spark database: one INSERT per table and partition."""
    cur = conn.cursor()
    cur.execute(f"CREATE DATABASE {database}")
    cur.execute(f"USE {database}")
    for sql in SPARK_DDL:
        cur.execute(sql)
    for table, part, rows in (("profile", "ds", profile_rows(D) + profile_rows(D_PREV)),
                              ("trade", "dt", trade_rows(D) + trade_rows(D_PREV))):
        for value in sorted({r[-1] for r in rows}):
            values = ", ".join("(" + ", ".join(spark_literal(v) for v in r[:-1]) + ")" for r in rows if r[-1] == value)
            cur.execute(f"INSERT INTO {table} PARTITION ({part} = '{value}') VALUES {values}")
    cur.execute("INSERT INTO dim_level VALUES " + ", ".join(f"({spark_literal(c)}, {spark_literal(n)})"
                                                           for c, n in LEVELS))
    cur.close()


def fill_warehouse(conn: Any, kind: str) -> None:
    mark = "?" if kind in ("duckdb", "sqlite") else "%s"
    cur = conn.cursor()
    for sql in WAREHOUSE_DDL[kind]:
        cur.execute(sql)
    for table, cols, rows in (("profile", PROFILE_COLS, profile_rows(D) + profile_rows(D_PREV)),
                              ("trade", TRADE_COLS, trade_rows(D) + trade_rows(D_PREV)),
                              ("dim_level", ("level_code", "level_name"), LEVELS)):
        for row in rows:  # one by one, so DuckDB's row order (rowid) is the insertion order
            values = [str(v) if kind == "sqlite" and isinstance(v, (Decimal, dt.date)) else v for v in row]
            cur.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})",
                        values)
    if kind != "duckdb":
        conn.commit()
    cur.close()


# ---- targets --------------------------------------------------------------------------------------
@dataclass
class LiveTarget:
    kind: str
    conn_id: str
    conn_json: str
    connect: Callable[[], Any]
    schema: str | None = None

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(sql, params or [])
            out = [tuple(r) for r in cur.fetchall()]
            cur.close()
            return out
        finally:
            conn.close()

    def execute(self, *statements: str) -> None:
        conn = self.connect()
        try:
            cur = conn.cursor()
            for sql in statements:
                cur.execute(sql)
            cur.close()
            if self.kind != "duckdb":
                conn.commit()
        finally:
            conn.close()

    def tables(self) -> list[str]:
        sql = {
            "postgres": "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
            "mysql": "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
            "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
            "duckdb": "SELECT table_name FROM duckdb_tables()",
        }[self.kind]
        return sorted(r[0] for r in self.rows(sql))


def _postgres_target(dbname: str) -> LiveTarget:
    return LiveTarget("postgres", "tot_target", pg_conn_json(dbname), lambda: pg_connect(dbname, autocommit=False))


def _mysql_target(dbname: str) -> LiveTarget:
    return LiveTarget("mysql", "tot_target", mysql_conn_json(dbname), lambda: mysql_connect(dbname))


def open_target(family: str, request: pytest.FixtureRequest, tmp_path: Path) -> LiveTarget:
    """An empty target database of ``family`` (connection ``tot_target``). A server's database is the
    test's ``pg_target_db`` / ``mysql_target_db`` fixture, so the test can ask for its name too."""
    if family == "postgres":
        return _postgres_target(request.getfixturevalue("pg_target_db"))
    if family == "mysql":
        return _mysql_target(request.getfixturevalue("mysql_target_db"))
    if family == "sqlite":
        path = str(tmp_path / "target.db")
        return LiveTarget("sqlite", "tot_target", json.dumps({"conn_type": "sqlite", "host": path}),
                          lambda: sqlite3.connect(path))
    if family == "duckdb":
        import duckdb

        path = str(tmp_path / "target.duckdb")
        return LiveTarget("duckdb", "tot_target", json.dumps({"conn_type": "duckdb", "host": path}),
                          lambda: duckdb.connect(path))
    raise LookupError(f"no live target of family {family!r} here: its test module's class overrides live_target")


@contextmanager
def filled_warehouse(family: str, duckdb_warehouse: str, tmp_path: Path) -> Iterator[str]:
    """A warehouse of ``family`` holding this module's data; yields its connection JSON."""
    if family == "duckdb":
        path = tmp_path / "wh.duckdb"
        shutil.copy(duckdb_warehouse, path)
        yield json.dumps({"conn_type": "duckdb", "host": str(path)})
    elif family == "sqlite":
        path = tmp_path / "wh.sqlite"
        with sqlite3.connect(path) as db:
            fill_warehouse(db, "sqlite")
        db.close()
        yield json.dumps({"conn_type": "sqlite", "host": str(path)})
    elif family == "postgres":
        with pg_database() as name:
            with pg_connect(name) as conn:
                fill_warehouse(conn, "postgres")
            yield pg_conn_json(name)
    elif family == "mysql":
        with mysql_database() as name:
            conn = mysql_connect(name)
            fill_warehouse(conn, "mysql")
            conn.close()
            yield mysql_conn_json(name)
    else:
        raise LookupError(f"no live warehouse of family {family!r} here: its test module's class overrides "
                          "warehouse_conn")


def normalize(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A target row in the canonical form of EXPECTED_D (drivers differ in Python types)."""
    (uid, gender, gname, level, lname, nick, gmv, last_login, vip, birthday, score) = row[:11]
    return (
        int(uid), gender, gname, None if level is None else int(level), lname, nick,
        None if gmv is None else Decimal(str(gmv)).quantize(Decimal("0.01")),
        None if last_login is None else str(last_login).replace("T", " ")[:19],
        None if vip is None else int(bool(vip) if not isinstance(vip, str) else vip in ("1", "true", "True")),
        None if birthday is None else str(birthday)[:10],
        None if score is None else float(score),
    )


def target_content(t: LiveTarget, table: str = "user_tags") -> list[tuple[Any, ...]]:
    """The output columns of ``table`` on a live target, in EXPECTED_D's canonical form."""
    cols = ", ".join(OUTPUT_COLUMNS)
    return [normalize(r) for r in t.rows(f"SELECT {cols} FROM {table} ORDER BY user_id")]
