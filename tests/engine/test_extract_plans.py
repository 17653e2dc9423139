"""The extract plans give row for row the result of the plan they replaced, on live DuckDB,
PostgreSQL, MariaDB and SQLite warehouses.

The replaced plan (before issue #14) built the distinct key set of every source first and LEFT
JOINed each source to it; it lives on only here, as ``key_set_query``. The data adds to
engine_data.py's warehouse a third source (its own key column name, no partition column use of
its own) holding an ID no other source has, an ID twice, a NULL ID and an ID only on another day,
and NULL IDs in the other two sources; and a lookup table whose code column has the tag column's
type, so it joins natively.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from engine_data import D_PREV, D, make_spec

from airflow_provider_tagoffline.connections import resolve_connection, resolve_warehouse
from airflow_provider_tagoffline.dialects import Dialect
from airflow_provider_tagoffline.engine.extract import (
    KEY_ALIAS,
    LookupJoin,
    Plan,
    Query,
    Slice,
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
from airflow_provider_tagoffline.runspec import RunSpec

pytestmark = [pytest.mark.postgres, pytest.mark.mysql]

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


def _add_test_rows(kind: str) -> None:
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


def _rows(wh: Warehouse, q: Query) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for batch in wh.stream(q, 3) for r in batch), key=repr)


def test_every_plan_gives_the_rows_of_the_key_set_plan(warehouse_conn: str) -> None:
    _add_test_rows(warehouse_conn)
    wh = Warehouse(resolve_warehouse("tot_wh"))
    try:
        plans: list[Plan] = ["full_join", "anti_join"] if wh.dialect.full_outer_join else ["anti_join"]
        for spec in (three_sources(), make_spec("sqlite", "t", warehouse_conn_id="tot_wh")):
            native = wh.native_lookups(spec)
            n = len(spec.sources)
            # none deduplicated (duplicates multiply rows alike in every plan), each alone, all
            for dedupe in [frozenset(), *(frozenset({i}) for i in range(n)), frozenset(range(n))]:
                old = _rows(wh, key_set_query(spec, wh.dialect, D, dedupe, native))
                for plan in plans:
                    new = _rows(wh, build_extract_query(spec, wh.dialect, D, dedupe, native_lookups=native,
                                                        plan=plan))
                    expected = old
                    if wh.dialect.row_order is None and 2 in dedupe and n == 3:
                        # No physical row order (MySQL): either of ID 6's two visits rows may be kept.
                        assert sorted(r[0] for r in new) == sorted(r[0] for r in old)
                        assert {r[-3:] for r in new if r[0] == 6} <= {(3, "app", "App"), (4, "web", "Web (old name)")}
                        new, expected = [r for r in new if r[0] != 6], [r for r in old if r[0] != 6]
                    assert new == expected, (warehouse_conn, plan, n, sorted(dedupe))
                if dedupe == frozenset(range(n)):
                    ids = [r[0] for r in old]
                    # every ID of D in any source once, none NULL, none of only another day
                    assert ids == ([1, 2, 3, 4, 5, 6, 7, 8] if n == 3 else [1, 2, 3, 4, 5, 6, 7]), ids
    finally:
        wh.close()


def test_a_lookup_joins_natively_where_the_warehouse_describes_both_types_alike(warehouse_conn: str) -> None:
    _add_test_rows(warehouse_conn)
    spec = three_sources()
    wh = Warehouse(resolve_warehouse("tot_wh"))
    try:
        native = wh.native_lookups(spec)
        rows = _rows(wh, build_extract_query(spec, wh.dialect, D, frozenset(range(3)), native_lookups=native))
    finally:
        wh.close()
    channel = LookupJoin("ch", 2, "channel")
    # channel and dim_channel.code share a type; level (an integer) and level_code (text) do not;
    # sqlite3 describes no column's type, so there everything joins on text
    assert native == (frozenset() if warehouse_conn == "sqlite" else {channel})
    by_id = {r[0]: r for r in rows}
    assert by_id[8][-3:] == (1, "app", "App") and by_id[2][-3:] == (7, None, None)
    assert by_id[1][-1] == "Web (old name)"  # one name per code: the greatest
    assert by_id[1][4] == "Bronze"  # level's lookup, joined on text


@pytest.mark.parametrize("warehouse_conn", ["mysql"], indirect=True)
def test_mysql_string_codes_of_another_collation_join_on_their_text(warehouse_conn: str) -> None:
    # Compared as they are, two columns of different collations fail ("Illegal mix of collations").
    _add_test_rows(warehouse_conn)
    where = resolve_connection("tot_wh")
    conn = where.open()
    try:
        cur = conn.cursor()
        cur.execute("ALTER TABLE dim_channel MODIFY code varchar(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        cur.execute("ALTER TABLE visits MODIFY channel varchar(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cur.close()
    finally:
        conn.close()
    spec = three_sources()
    wh = Warehouse(resolve_warehouse("tot_wh"))
    try:
        native = wh.native_lookups(spec)
        assert native == frozenset()
        rows = _rows(wh, build_extract_query(spec, wh.dialect, D, frozenset(range(3)), native_lookups=native))
        with pytest.raises(Exception, match="Illegal mix of collations"):  # what a native join would do
            _rows(wh, build_extract_query(spec, wh.dialect, D, frozenset(range(3)),
                                          native_lookups=frozenset({LookupJoin("ch", 2, "channel")})))
    finally:
        wh.close()
    assert {r[0]: r[-1] for r in rows}[8] == "App"


@pytest.mark.parametrize("warehouse_conn", ["duckdb"], indirect=True)
def test_the_passes_of_a_sliced_extract_together_give_its_rows_once(warehouse_conn: str) -> None:
    # Every plan, every dedupe, 1 to 4 passes: each ID lands in exactly one pass, with all its row.
    _add_test_rows(warehouse_conn)
    wh = Warehouse(resolve_warehouse("tot_wh"))
    try:
        for spec in (three_sources(), make_spec("sqlite", "t", warehouse_conn_id="tot_wh")):
            native = wh.native_lookups(spec)
            n = len(spec.sources)
            for dedupe in [frozenset(), frozenset({n - 1}), frozenset(range(n))]:
                for plan in ("full_join", "anti_join"):
                    whole = _rows(wh, build_extract_query(spec, wh.dialect, D, dedupe, native_lookups=native,
                                                          plan=plan))
                    for count in (2, 3, 4):
                        passes = [_rows(wh, build_extract_query(spec, wh.dialect, D, dedupe, native_lookups=native,
                                                                plan=plan, part=Slice(count, i)))
                                  for i in range(count)]
                        assert sorted((r for p in passes for r in p), key=repr) == whole, (plan, n, count)
                        assert sum(1 for p in passes if p) > 1  # the IDs really were split
    finally:
        wh.close()


def test_a_slice_filters_every_source_and_only_where_the_engine_can_hash() -> None:
    from airflow_provider_tagoffline.dialects import get_dialect

    spec = three_sources()
    q = build_extract_query(spec, get_dialect("duckdb"), D, frozenset({2}), part=Slice(4, 3))
    # every source's filter, the deduplicated one inside its ROW_NUMBER subquery
    for key in ('s0."user_id"', 's1."user_id"', 'd."uid"'):
        assert f"hash({key}) % 4 = ?" in q.sql, key
    assert q.params.count(3) == 3
    with pytest.raises(ValueError, match="cannot split the entity IDs"):
        build_extract_query(spec, get_dialect("postgres"), D, part=Slice(2, 0))
    with pytest.raises(ValueError, match="slice 2 of 2 does not exist"):
        Slice(2, 2)
