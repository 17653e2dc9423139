"""What every warehouse family must give, on its live database: the shared conformance suite of a warehouse.

A family's test module (``tests/dialects/<family>/test_<family>.py``) runs it with one line,
``class TestPostgresWarehouse(WarehouseSuite): family = "postgres"``; the ``warehouse_conn`` fixture
(tests/conftest.py) fills a warehouse of that family with tests/run_data.py's data, registered as
``tot_wh``. A family whose database the fixture cannot make overrides ``warehouse_conn`` in its class.

The suite: the extract streamed in batches into a target (duplicates replaced), the ``warehouse``
target kind where the data never leaves the engine, every extract plan row for row equal to the plan
they replaced, and lookups joined natively where the warehouse describes both columns alike.

The extract plans' data: the replaced plan (before issue #14) built the distinct key set of every
source first and LEFT JOINed each source to it; it lives on only here, as ``key_set_query``. The data
adds to run_data.py's warehouse a third source (its own key column name, no partition column use of
its own) holding an ID no other source has, an ID twice, a NULL ID and an ID only on another day, and
NULL IDs in the other two sources; and a lookup table whose code column has the tag column's type, so
it joins natively.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any, ClassVar

import pytest

from airflow_provider_tagoffline.connections import resolve_connection, resolve_warehouse
from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.dialects import Dialect, make_target
from airflow_provider_tagoffline.engine.extract import (
    KEY_ALIAS,
    LookupJoin,
    Plan,
    Query,
    _alias,
    _key,
    _lookup_joins,
    _select,
    _source_filter,
    _Sql,
    _table,
    build_extract_query,
    format_date,
    lookup_joins,
    source_relation,
)
from airflow_provider_tagoffline.engine.warehouse import Warehouse
from airflow_provider_tagoffline.runs import run_export
from airflow_provider_tagoffline.runspec import RunSpec
from tests.run_data import D_PREV, EXPECTED_D, OUTPUT_COLUMNS, D, make_spec, normalize

DS, DS_PREV = D.strftime("%Y%m%d"), D_PREV.strftime("%Y%m%d")
VISITS = [  # (uid, n, channel, ds)
    (1, 10, "web", DS),
    (6, 3, "app", DS),
    (6, 4, "web", DS),  # twice
    (8, 1, "app", DS),  # in no other source
    (None, 5, "web", DS),  # no ID: no row
    (9, 2, "app", DS_PREV),  # another day only: no row
    (2, 7, None, DS),
]
CHANNELS = [("web", "Web"), ("app", "App"), ("web", "Web (old name)")]
#: rows with a NULL ID in the first two sources, which no plan may output
NULL_ID_ROWS = {
    "profile": ("INSERT INTO profile (user_id, gender, level, nick, ds) VALUES (NULL, 'M', 1, 'no id', '{ds}')", DS),
    "trade": ("INSERT INTO trade (user_id, gmv, dt) VALUES (NULL, 1.00, '{ds}')", D.isoformat()),
}
VISITS_DDL = {
    "duckdb": "CREATE TABLE visits (uid BIGINT, n BIGINT, channel VARCHAR, ds VARCHAR)",
    "postgres": "CREATE TABLE visits (uid bigint, n bigint, channel text, ds text)",
    "mysql": "CREATE TABLE visits (uid bigint, n bigint, channel varchar(8), ds varchar(8))",
    "sqlite": "CREATE TABLE visits (uid INTEGER, n INTEGER, channel TEXT, ds TEXT)",
}
CHANNEL_DDL = {
    "duckdb": "CREATE TABLE dim_channel (code VARCHAR, name VARCHAR)",
    "postgres": "CREATE TABLE dim_channel (code text, name text)",
    "mysql": "CREATE TABLE dim_channel (code varchar(8), name varchar(32))",
    "sqlite": "CREATE TABLE dim_channel (code TEXT, name TEXT)",
}


def three_sources() -> RunSpec:
    data = make_spec("sqlite", "t", warehouse_conn_id="tot_wh").to_dict()
    data["sources"].append({"table": "visits", "key": "uid", "partition": {"column": "ds", "format": "yyyyMMdd"}})
    data["tags"] += [{"code": "visits", "name": "Visits", "type": "bigint", "source": 2, "column": "n"},
                     {"code": "channel", "name": "Channel", "type": "string", "source": 2, "column": "channel",
                      "lookup": "ch"}]
    data["lookups"]["ch"] = {"code": "ch", "kind": "table", "table": "dim_channel", "code_column": "code",
                             "name_column": "name"}
    data["outputs"] += [{"column": "visits", "tag": "visits", "content": "value", "type": "bigint"},
                        {"column": "channel", "tag": "channel", "content": "value", "type": "string"},
                        {"column": "channel_name", "tag": "channel", "content": "codename", "type": "string"}]
    return RunSpec.model_validate(data)


def key_set_query(spec: RunSpec, w: Dialect, d: dt.date, dedupe: frozenset[int],
                  native: frozenset[LookupJoin]) -> Query:
    """The plan before #14: ``WITH k AS (IDs of s0 UNION IDs of s1 ...)``, then k LEFT JOIN each source."""
    every = set(range(len(spec.sources)))
    joins = lookup_joins(spec)
    q = _Sql().add("WITH k AS (")
    for i, src in enumerate(spec.sources):
        q.add(" UNION " if i else "")
        q.add(f"SELECT {_key(w, spec, i)} AS {KEY_ALIAS} FROM {_table(w, src.table)} {_alias(i)} WHERE ")
        q.extend(_source_filter(w, src, _alias(i), d))
    q.add(") ").extend(_select(spec, w, d, f"k.{KEY_ALIAS}", every, joins, booleans_as_int=False))
    q.add(" FROM k")
    for i, src in enumerate(spec.sources):
        q.add(" LEFT JOIN ").extend(source_relation(w, src, _alias(i), d, dedupe=i in dedupe, filtered=False))
        q.add(f" ON {_key(w, spec, i)} = k.{KEY_ALIAS}")
        if src.partition is not None and i not in dedupe:
            q.add(f" AND {_alias(i)}.{w.quote(src.partition.column)} = {w.placeholder}",
                  format_date(d, src.partition.format))
    q.extend(_lookup_joins(spec, w, joins, native, every))
    return Query(q.text, q.params)


def add_test_rows(kind: str) -> None:
    where = resolve_connection("tot_wh")
    conn = where.open()
    mark = "%s" if kind in ("postgres", "mysql") else "?"
    try:
        cur = conn.cursor()
        for sql in (VISITS_DDL[kind], CHANNEL_DDL[kind]):
            cur.execute(sql)
        cur.executemany(f"INSERT INTO visits VALUES ({mark}, {mark}, {mark}, {mark})", VISITS)
        cur.executemany(f"INSERT INTO dim_channel VALUES ({mark}, {mark})", CHANNELS)
        for sql, ds in NULL_ID_ROWS.values():
            cur.execute(sql.format(ds=ds))
        cur.close()
        if kind != "duckdb":
            conn.commit()
    finally:
        conn.close()


def rows_of(wh: Warehouse, q: Query) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for batch in wh.stream(q, 3) for r in batch), key=repr)


def sqlite_target(spec: RunSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> sqlite3.Connection:
    """A SQLite target holding the table of ``spec``, registered as ``tot_target``."""
    path = str(tmp_path / "t.db")
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", json.dumps({"conn_type": "sqlite", "host": path}))
    db = sqlite3.connect(path)
    for sql in create_table_sql(spec, "sqlite"):
        db.execute(sql)
    db.commit()
    return db


@pytest.mark.postgres
@pytest.mark.mysql
@pytest.mark.usefixtures("warehouse_env")
class WarehouseSuite:
    """Inherit with ``family`` set; the class name starts with ``Test`` so pytest collects it."""

    family: ClassVar[str]
    #: the warehouse reads rows in insertion order, so the last of a duplicate ID's rows wins (MySQL
    #: and the generic DB-API path expose no physical order: which one wins is the engine's pick)
    row_order: ClassVar[bool] = True
    #: its driver describes a result's column types (sqlite3 does not: every lookup joins on text)
    describes_types: ClassVar[bool] = True

    def expected(self, got: list[tuple]) -> list[tuple]:
        if self.row_order:
            return EXPECTED_D
        first_of_3 = (3, "U", "Unknown", 3, "Gold", "first row of 3") + EXPECTED_D[2][6:]
        return [first_of_3 if r[0] == 3 and got[2][5] == "first row of 3" else r for r in EXPECTED_D]

    def test_extract_from_each_warehouse_into_sqlite(self, warehouse_conn: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        spec = make_spec("sqlite", "tot_target", warehouse_conn_id="tot_wh")
        db = sqlite_target(spec, tmp_path, monkeypatch)
        report = run_export(spec, D, batch_size=2)  # tiny batches: the stream really is batched
        got = [normalize(r) for r in db.execute(f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM user_tags ORDER BY user_id")]
        db.close()
        assert got == self.expected(got)
        assert report.duplicates_replaced == 1

    def test_target_is_the_warehouse(self, warehouse_conn: str) -> None:
        spec = make_spec("warehouse", "tot_wh", warehouse_conn_id="tot_wh")
        where = resolve_connection("tot_wh")

        conn, kind = where.open(), where.kind
        target = make_target(spec.target, conn, kind)
        target.run_in_tx(create_table_sql(spec, kind))
        target.close()
        report = run_export(spec, D)
        assert report.load_method.startswith("INSERT ... SELECT")
        where = resolve_connection("tot_wh")
        conn, kind = where.open(), where.kind
        target = make_target(spec.target, conn, kind)
        cur = target.execute(f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM user_tags ORDER BY user_id")
        got = [normalize(r) for r in cur.fetchall()]
        target.close()
        assert got == self.expected(got)
        assert report.rows_written == len(EXPECTED_D)

    def test_every_plan_gives_the_rows_of_the_key_set_plan(self, warehouse_conn: str) -> None:
        add_test_rows(warehouse_conn)
        wh = Warehouse(resolve_warehouse("tot_wh"))
        try:
            plans: list[Plan] = ["full_join", "anti_join"] if wh.dialect.full_outer_join else ["anti_join"]
            for spec in (three_sources(), make_spec("sqlite", "t", warehouse_conn_id="tot_wh")):
                native = wh.native_lookups(spec)
                n = len(spec.sources)
                # none deduplicated (duplicates multiply rows alike in every plan), each alone, all
                for dedupe in [frozenset(), *(frozenset({i}) for i in range(n)), frozenset(range(n))]:
                    old = rows_of(wh, key_set_query(spec, wh.dialect, D, dedupe, native))
                    for plan in plans:
                        new = rows_of(wh, build_extract_query(spec, wh.dialect, D, dedupe, native_lookups=native,
                                                            plan=plan))
                        expected = old
                        if wh.dialect.row_order is None and 2 in dedupe and n == 3:
                            # No physical row order (MySQL): either of ID 6's two visits rows may be kept.
                            assert sorted(r[0] for r in new) == sorted(r[0] for r in old)
                            assert {r[-3:] for r in new if r[0] == 6} <= {(3, "app", "App"),
                                                                          (4, "web", "Web (old name)")}
                            new, expected = [r for r in new if r[0] != 6], [r for r in old if r[0] != 6]
                        assert new == expected, (warehouse_conn, plan, n, sorted(dedupe))
                    if dedupe == frozenset(range(n)):
                        ids = [r[0] for r in old]
                        # every ID of D in any source once, none NULL, none of only another day
                        assert ids == ([1, 2, 3, 4, 5, 6, 7, 8] if n == 3 else [1, 2, 3, 4, 5, 6, 7]), ids
        finally:
            wh.close()

    def test_a_lookup_joins_natively_where_the_warehouse_describes_both_types_alike(self, warehouse_conn: str) -> None:
        add_test_rows(warehouse_conn)
        spec = three_sources()
        wh = Warehouse(resolve_warehouse("tot_wh"))
        try:
            native = wh.native_lookups(spec)
            rows = rows_of(wh, build_extract_query(spec, wh.dialect, D, frozenset(range(3)), native_lookups=native))
        finally:
            wh.close()
        channel = LookupJoin("ch", 2, "channel")
        # channel and dim_channel.code share a type; level (an integer) and level_code (text) do not;
        # sqlite3 describes no column's type, so there everything joins on text
        assert native == ({channel} if self.describes_types else frozenset())
        by_id = {r[0]: r for r in rows}
        assert by_id[8][-3:] == (1, "app", "App") and by_id[2][-3:] == (7, None, None)
        assert by_id[1][-1] == "Web (old name)"  # one name per code: the greatest
        assert by_id[1][4] == "Bronze"  # level's lookup, joined on text
