"""The catalog shapes of issue 14 as warehouse tables, run specs and hand-written reference queries.

Every shape is built identically in a PostgreSQL and a DuckDB warehouse from the same formulas:

- ``dws_user_tags_d``  (user_id, the 10 tags of ``common.TAGS``, ds 'yyyyMMdd'): every ID, one partition;
- ``dws_user_a_d``     (user_id, gender, level, city, gmv_30d, orders_30d, ds 'yyyyMMdd'): IDs with
  i % 10 <> 0, plus the previous day for i % 10 = 5 (the filter has rows to drop);
- ``dws_user_b_d``     (uid, score, vip, birthday, last_login, nickname, dt 'yyyy-MM-dd'): IDs with
  i % 10 <> 1, plus a row with a NULL uid for i % 100000 = 3 (dropped: NULL IDs are no entity);
- ``dws_user_c_d``     (id, segment, ltv, churn_risk, p 'yyyy/MM/dd'): IDs with i % 10 <> 2, and a
  second, later row with other values for i % 100 = 3 (1% duplicates: the physically last row wins);
- ``dim_level``        (level_code bigint, level_name): the table lookup of ``level`` (same type both sides);
- ``dws_user_ta_d``, ``dws_user_tb_d``, ``dim_level_zh``: the ``text_ids`` shape, as users with text entity
  IDs have it: the IDs are strings (``TEXT_ID``: a scrambled number, so neither insertion order nor
  hash order is the sort order), A as ``dws_user_a_d`` but with every ID, B lacking i % 7 = 0 (~14%
  of the IDs), Unicode code names inline (gender) and in the lookup table (level).

So every ID of 1..N is in at least one source of each multi-source shape, some only in one.
"""

from __future__ import annotations

import copy
from typing import Any

from bench.common import SQL_TYPES, TAGS, spec_dict

A_TAGS = ("gender", "level", "city", "gmv_30d", "orders_30d")
B_TAGS = ("score", "vip", "birthday", "last_login", "nickname")
C_TAGS = [  # (code, type, DuckDB expression over i, PostgreSQL expression over i)
    ("segment", "string", "'seg_' || (i % 17)", "'seg_' || (i % 17)"),
    ("ltv", "decimal(18,2)", "((i * 53) % 5000000) / 100.0", "((i * 53) % 5000000) / 100.0"),
    ("churn_risk", "double", "(i % 9973) / 9973.0", "(i % 9973) / 9973.0"),
]
C_DUP = {"segment": "'dup_' || (i % 17)", "ltv": "0.01", "churn_risk": "1.0"}  # the later rows' values
GENDER_NAMES = {"M": "Male", "F": "Female"}  # 'U' has no name: NULL
LEVEL_NAMES = {1: "bronze", 2: "silver", 3: "gold", 4: "platinum", 5: "diamond", 6: "unused"}
ALL_TAGS = {c: (t, d, p) for c, t, d, p in [*TAGS, *C_TAGS]}
SHAPES = ("one", "two", "lookups", "three_dup", "text_ids")
SHAPE_TITLES = {"one": "1 source", "two": "2 sources", "lookups": "2 sources + inline + table lookup",
                "three_dup": "3 sources, 1% duplicates", "text_ids": "text IDs: 2 sources (one lacks 14%) + lookups"}
#: the text entity ID of i: i scrambled by a bijection of 32-bit numbers (Knuth's multiplicative hash), as text
TEXT_ID = "'u' || ((i * 2654435761) % 4294967296)"
GENDER_NAMES_ZH = {"M": "男性", "F": "女性"}  # 'U' has no name: NULL
LEVEL_NAMES_ZH = {1: "青铜", 2: "白银", 3: "黄金", 4: "铂金", 5: "钻石 💎", 6: "未用"}
PG_TYPES = {**SQL_TYPES, "string": "text", "double": "double precision"}
MY_TYPES = {**SQL_TYPES, "string": "varchar(255)", "datetime": "datetime(6)", "boolean": "tinyint(1)"}


def _series(engine: str, users: int) -> str:
    return f"generate_series(1, {users}) i" if engine == "pg" else f"range(1, {users} + 1) t(i)"


def _exprs(engine: str, codes: tuple[str, ...] | list[str], override: dict[str, str] | None = None) -> str:
    idx = 1 if engine == "duck" else 2
    return ", ".join((override or {}).get(c) or ALL_TAGS[c][idx] for c in codes)


def build_statements(engine: str, users: int) -> list[str]:
    """DDL + INSERTs building every shape's tables, for ``engine`` 'pg' or 'duck'."""
    types = PG_TYPES if engine == "pg" else SQL_TYPES
    s = _series(engine, users)
    c_codes = [c for c, _, _, _ in C_TAGS]

    def cols(codes: tuple[str, ...] | list[str]) -> str:
        return ", ".join(f"{c} {types[ALL_TAGS[c][0]]}" for c in codes)

    tags = [c for c, _, _, _ in TAGS]
    return [
        f"CREATE TABLE dws_user_tags_d (user_id bigint, {cols(tags)}, ds varchar)",
        f"INSERT INTO dws_user_tags_d SELECT i, {_exprs(engine, tags)}, '20261123' FROM {s}",
        f"CREATE TABLE dws_user_a_d (user_id bigint, {cols(A_TAGS)}, ds varchar)",
        f"INSERT INTO dws_user_a_d SELECT i, {_exprs(engine, A_TAGS)}, '20261123' FROM {s} WHERE i % 10 <> 0",
        f"INSERT INTO dws_user_a_d SELECT i, {_exprs(engine, A_TAGS)}, '20261122' FROM {s} WHERE i % 10 = 5",
        f"CREATE TABLE dws_user_b_d (uid bigint, {cols(B_TAGS)}, dt varchar)",
        f"INSERT INTO dws_user_b_d SELECT i, {_exprs(engine, B_TAGS)}, '2026-11-23' FROM {s} WHERE i % 10 <> 1",
        f"INSERT INTO dws_user_b_d SELECT NULL, {_exprs(engine, B_TAGS)}, '2026-11-23' FROM {s} "
        "WHERE i % 100000 = 3",
        f"CREATE TABLE dws_user_c_d (id bigint, {cols(c_codes)}, p varchar)",
        f"INSERT INTO dws_user_c_d SELECT i, {_exprs(engine, c_codes)}, '2026/11/23' FROM {s} WHERE i % 10 <> 2",
        # a separate, later INSERT: these rows come physically after the first ones (ctid / rowid)
        f"INSERT INTO dws_user_c_d SELECT i, {_exprs(engine, c_codes, C_DUP)}, '2026/11/23' FROM {s} "
        "WHERE i % 100 = 3",
        "CREATE TABLE dim_level (level_code bigint, level_name varchar)",
        "INSERT INTO dim_level VALUES " + ", ".join(f"({k}, '{v}')" for k, v in LEVEL_NAMES.items()),
        # text_ids: string IDs, A every ID (+ another day's rows), B lacks i % 7 = 0 (and has NULL IDs)
        f"CREATE TABLE dws_user_ta_d (user_id varchar, {cols(A_TAGS)}, ds varchar)",
        f"INSERT INTO dws_user_ta_d SELECT {TEXT_ID}, {_exprs(engine, A_TAGS)}, '20261123' FROM {s}",
        f"INSERT INTO dws_user_ta_d SELECT {TEXT_ID}, {_exprs(engine, A_TAGS)}, '20261122' FROM {s} WHERE i % 10 = 5",
        f"CREATE TABLE dws_user_tb_d (uid varchar, {cols(B_TAGS)}, dt varchar)",
        f"INSERT INTO dws_user_tb_d SELECT {TEXT_ID}, {_exprs(engine, B_TAGS)}, '2026-11-23' FROM {s} WHERE i % 7 <> 0",
        f"INSERT INTO dws_user_tb_d SELECT NULL, {_exprs(engine, B_TAGS)}, '2026-11-23' FROM {s} "
        "WHERE i % 100000 = 3",
        "CREATE TABLE dim_level_zh (level_code bigint, level_name varchar)",
        "INSERT INTO dim_level_zh VALUES " + ", ".join(f"({k}, '{v}')" for k, v in LEVEL_NAMES_ZH.items()),
    ]


def _source(table: str, key: str, column: str, fmt: str) -> dict[str, Any]:
    return {"table": table, "key": key, "partition": {"column": column, "format": fmt}}


A_SRC = _source("dws_user_a_d", "user_id", "ds", "yyyyMMdd")
B_SRC = _source("dws_user_b_d", "uid", "dt", "yyyy-MM-dd")
C_SRC = _source("dws_user_c_d", "id", "p", "yyyy/MM/dd")
TA_SRC = _source("dws_user_ta_d", "user_id", "ds", "yyyyMMdd")
TB_SRC = _source("dws_user_tb_d", "uid", "dt", "yyyy-MM-dd")


def shape_spec(shape: str, target_conn: str, kind: str, warehouse_conn: str, table: str) -> dict[str, Any]:
    spec = spec_dict(target_conn, kind, warehouse_conn, table)
    if shape == "one":
        return spec
    spec = copy.deepcopy(spec)
    spec["sources"] = [TA_SRC, TB_SRC] if shape == "text_ids" else [A_SRC, B_SRC]
    for tag in spec["tags"]:
        tag["source"] = 0 if tag["code"] in A_TAGS else 1
    if shape == "text_ids":
        spec["entity_key"]["type"] = "string"
    if shape in ("lookups", "text_ids"):
        zh = shape == "text_ids"
        spec["lookups"] = {
            "gender": {"code": "gender", "kind": "inline", "values": GENDER_NAMES_ZH if zh else GENDER_NAMES},
            "level": {"code": "level", "kind": "table", "table": "dim_level_zh" if zh else "dim_level",
                      "code_column": "level_code", "name_column": "level_name"},
        }
        for tag in spec["tags"]:
            if tag["code"] in ("gender", "level"):
                tag["lookup"] = tag["code"]
        spec["outputs"] += [{"column": "gender_name", "tag": "gender", "content": "codename", "type": "string"},
                            {"column": "level_name", "tag": "level", "content": "codename", "type": "string"}]
    if shape == "three_dup":
        spec["sources"].append(C_SRC)
        for code, typ, _, _ in C_TAGS:
            spec["tags"].append({"code": code, "name": code, "type": typ, "source": 2, "column": code})
            spec["outputs"].append({"column": code, "tag": code, "content": "value", "type": typ})
    return spec


def output_columns(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(column, value type) of the target table, entity ID first ("key_string" for a text ID)."""
    key = "key_string" if spec["entity_key"]["type"] == "string" else spec["entity_key"]["type"]
    return [("user_id", key)] + [(o["column"], o["type"]) for o in spec["outputs"]]


def target_ddl(spec: dict[str, Any], table: str, target: str) -> str:
    """The target table (the reference's too): a text ID is a ``varchar(64)`` primary key in the
    database's default collation, as users declare it."""
    cols = output_columns(spec)
    if target == "pg":
        types = {**PG_TYPES, "key_string": "varchar(64)"}
        body = ", ".join(f"{c} {types[t]}" + (" NOT NULL" if c == "user_id" else "") for c, t in cols)
        return f"CREATE TABLE {table} ({body}, CONSTRAINT {table}_pk PRIMARY KEY (user_id))"
    types = {**MY_TYPES, "key_string": "varchar(64)"}
    body = ", ".join(f"`{c}` {types[t]}" + (" NOT NULL" if c == "user_id" else "") for c, t in cols)
    return f"CREATE TABLE {table} ({body}, PRIMARY KEY (user_id)) DEFAULT CHARSET=utf8mb4"


def reference_query(shape: str, engine: str, booleans_as_int: bool) -> str:
    """The fastest plain query we could write for the same rows as the shape's export.

    Filtered sources FULL JOINed on the ID (no key set), the lookup table joined on its native type,
    the inline lookup as a CASE, and only the source with duplicates reduced to its last row per ID.
    """
    def val(alias: str, code: str) -> str:
        col = f"{alias}.{code}"
        if booleans_as_int and ALL_TAGS[code][0] == "boolean":
            return f"CAST({col} AS INTEGER)"
        return col

    if shape == "one":
        return (f"SELECT user_id, {', '.join(val('t', c) for c, _, _, _ in TAGS)} "
                "FROM dws_user_tags_d t WHERE ds = '20261123'")
    tags = [c for c, _, _, _ in TAGS]
    select = ["COALESCE(a.user_id, b.uid)" if shape != "three_dup" else "COALESCE(a.user_id, b.uid, c.id)"]
    select += [val("a" if c in A_TAGS else "b", c) for c in tags]
    a, b = ("dws_user_ta_d", "dws_user_tb_d") if shape == "text_ids" else ("dws_user_a_d", "dws_user_b_d")
    sql = (f"FROM (SELECT * FROM {a} WHERE ds = '20261123') a "
           f"FULL JOIN (SELECT * FROM {b} WHERE dt = '2026-11-23' AND uid IS NOT NULL) b "
           "ON b.uid = a.user_id")
    if shape in ("lookups", "text_ids"):
        names = GENDER_NAMES_ZH if shape == "text_ids" else GENDER_NAMES
        select.append("CASE a.gender " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in names.items()) + " END")
        select.append("l.level_name")
        sql += f" LEFT JOIN {'dim_level_zh' if shape == 'text_ids' else 'dim_level'} l ON l.level_code = a.level"
    if shape == "three_dup":
        select += [val("c", c) for c, _, _, _ in C_TAGS]
        if engine == "pg":
            last = ("(SELECT DISTINCT ON (id) * FROM dws_user_c_d WHERE p = '2026/11/23' AND id IS NOT NULL "
                    "ORDER BY id, ctid DESC)")
        else:
            last = ("(SELECT * FROM dws_user_c_d WHERE p = '2026/11/23' AND id IS NOT NULL "
                    "QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY rowid DESC) = 1)")
        sql += f" FULL JOIN {last} c ON c.id = COALESCE(a.user_id, b.uid)"
    return f"SELECT {', '.join(select)} {sql}"


def expected_rows(shape: str, users: int) -> int:
    return users  # every shape holds every ID of 1..N exactly once
