"""The extract of a preview against the live table (or partition D), by entity ID: both sides streamed
and matched by row digest (``compare_streamed``), or one aggregate query inside the engine when the
target is the warehouse (``compare_in_engine``)."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterator
from typing import Any

from airflow_provider_tagoffline.contract.connection import Resolved
from airflow_provider_tagoffline.engine import gates
from airflow_provider_tagoffline.engine.extract import Query
from airflow_provider_tagoffline.engine.preview.columns import Widths, written_columns
from airflow_provider_tagoffline.engine.preview.digest import Digest, first_values
from airflow_provider_tagoffline.engine.preview.result import Changes, ColumnDiff, Preview
from airflow_provider_tagoffline.engine.preview.sample import jsonable, sample_columns
from airflow_provider_tagoffline.engine.targets import Target
from airflow_provider_tagoffline.engine.types import ColumnType
from airflow_provider_tagoffline.engine.warehouse import Reader, Warehouse, each_pass
from airflow_provider_tagoffline.runspec import RunSpec

BATCH = 20_000


def _live_query(target: Target, columns: list[str]) -> Query:
    d = target.d
    # always run with a parameter list (maybe empty): a literal % in a name must survive the driver
    sql = d.escape_for_params(f"SELECT {', '.join(d.quote(c) for c in columns)} FROM {target.q(target.live)}")
    params: list[object] = []
    if target.partition_column is not None:
        sql += f" WHERE {d.escape_for_params(d.quote(target.partition_column))} = {d.placeholder}"
        params.append(target.partition_value)
    return Query(sql=sql, params=params)


def compare_streamed(spec: RunSpec, warehouse: Warehouse, target: Target, where: Resolved, queries: list[Query],
                     matched: dict[str, str], live: dict[str, ColumnType], result: Preview, sample: int) -> None:
    wanted = written_columns(spec)
    # Compared: the entity ID and every mapped column the live table has (a missing one fails the run anyway).
    idx = [i for i, (c, _t, _w) in enumerate(wanted) if c in matched]
    widths = Widths(spec, live, matched)
    null_columns = set(gates.null_counted_columns(spec))
    null_at = [(i, c) for i, (c, _t, _w) in enumerate(wanted) if c in null_columns]
    nulls = dict.fromkeys(null_columns, 0)
    rows = 0
    sample_rows: list[list[Any]] = []

    def observed(batches: Iterator[list[Any]]) -> Iterator[list[Any]]:
        nonlocal rows
        for batch in batches:
            rows += len(batch)
            widths.see(batch)
            for i, c in null_at:
                nulls[c] += sum(1 for r in batch if r[i] is None)
            if len(sample_rows) < sample:
                sample_rows.extend(jsonable(r) for r in batch[: sample - len(sample_rows)])
            yield batch

    extract = observed(each_pass(queries, lambda q: warehouse.stream(q, BATCH)))
    if matched:
        result.changes = _changes(extract, where, target, [matched[wanted[i][0]] for i in idx],
                                  [wanted[i][1] for i in idx], idx)
    else:
        for _batch in extract:
            pass
    result.rows = rows
    result.nulls = nulls
    result.sample_columns, result.sample = sample_columns(spec), sample_rows
    result.columns += widths.diffs()
    if result.changes is not None:  # the extract was read to its end only now
        ch = result.changes
        ch.unchanged = rows - ch.added - ch.changed
        ch.live_rows = rows - ch.added + ch.removed
        ch.change_ratio = ratio(rows, ch.live_rows)


def _changes(extract: Iterator[list[Any]], where: Resolved, target: Target, live_columns: list[str],
             value_types: list[str], idx: list[int]) -> Changes:
    """Added / removed / changed: the live table as an entity ID → digest map, the extract matched
    against it. ``unchanged``, ``live_rows`` and the ratio are the caller's (it counts the rows)."""
    first = next(extract, [])
    # The live table on a read-only connection of its own, read the family's way (server-side cursors).
    reader = (where.family.reader_class() or Reader).open(where)
    try:
        live_batches = reader.stream(_live_query(target, live_columns), BATCH)
        live_first = next(live_batches, [])
        digest = Digest(value_types, first_values(first, idx), first_values(live_first, list(range(len(idx)))))
        key, of = digest.key, digest.of
        batches = itertools.chain([live_first], live_batches)
        if digest.key_fix is None:  # the common case, without a call per row for the key
            live_map = {r[0]: of(tuple(r[1:])) for batch in batches for r in batch}
        else:
            live_map = {key(r[0]): of(tuple(r[1:])) for batch in batches for r in batch}
    finally:
        reader.close()
    pick = operator.itemgetter(*idx[1:]) if len(idx) > 2 else None
    one = idx[1] if len(idx) == 2 else None
    pop = live_map.pop
    added = changed = 0
    for batch in itertools.chain([first], extract):
        for r in batch:
            old = pop(r[0] if digest.key_fix is None else key(r[0]), None)
            if old is None:
                added += 1
                continue
            values = pick(r) if pick is not None else ((r[one],) if one is not None else ())
            if old != of(values):
                changed += 1
    return Changes(live_rows=0, added=added, removed=len(live_map), changed=changed, unchanged=0, change_ratio=None,
                   compared_columns=live_columns, method="streamed entity IDs and row digests from both sides")


def ratio(rows: int, live_rows: int) -> float | None:
    return abs(rows - live_rows) / live_rows if live_rows else None


def compare_in_engine(spec: RunSpec, warehouse: Warehouse, target: Target, query: Query, matched: dict[str, str],
                      result: Preview) -> None:
    d = warehouse.dialect
    wanted = written_columns(spec)
    extract_cols = [f"tagoffline_e{i}" for i in range(len(query.columns))]
    idx = [i for i, (c, _t, _w) in enumerate(wanted) if c in matched]
    live_q = _live_query(target, [matched[wanted[i][0]] for i in idx])
    live_cols = [f"tagoffline_l{i}" for i in idx]
    null_columns = gates.null_counted_columns(spec)
    live = target.column_types(target.live)
    text_limits = [(i, matched[c], ct) for i, (c, _t, _w) in enumerate(wanted)
                   if c in matched and (ct := live[matched[c]]).family == "text" and ct.precision]
    differs = " OR ".join(d.differs(f"e.{extract_cols[i]}", f"l.{live_cols[n]}") for n, i in enumerate(idx)
                          if i > 0) or "1 = 0"
    parts = ["COUNT(*)",
             f"COALESCE(SUM(CASE WHEN l.{live_cols[0]} IS NULL THEN 1 ELSE 0 END), 0)",
             f"COALESCE(SUM(CASE WHEN l.{live_cols[0]} IS NOT NULL AND ({differs}) THEN 1 ELSE 0 END), 0)"]
    parts += [f"COUNT(e.{extract_cols[[c for c, _t, _w in wanted].index(c)]})" for c in null_columns]
    parts += [f"COALESCE(SUM(CASE WHEN {d.char_length(f'e.{extract_cols[i]}')} > {int(ct.precision or 0)} "
              f"THEN 1 ELSE 0 END), 0), MAX({d.char_length(f'e.{extract_cols[i]}')})" for i, _c, ct in text_limits]
    live_select = "SELECT " + ", ".join(f"{d.escape_for_params(d.quote(matched[wanted[i][0]]))} AS {live_cols[n]}"
                                        for n, i in enumerate(idx)) + live_q.sql[live_q.sql.index(" FROM "):]
    sql = (f"WITH e ({', '.join(extract_cols)}) AS ({query.sql}), l AS ({live_select}) "
           f"SELECT {', '.join(parts)} FROM e LEFT JOIN l ON e.{extract_cols[0]} = l.{live_cols[0]}")
    row = warehouse.fetchone(Query(sql=sql, params=[*query.params, *live_q.params]))
    rows, added, changed = int(row[0]), int(row[1]), int(row[2])
    at = 3
    for c in null_columns:
        result.nulls[c] = rows - int(row[at])
        at += 1
    for _i, column, ct in text_limits:
        over, longest = int(row[at] or 0), int(row[at + 1] or 0)
        at += 2
        if over:
            result.columns.append(ColumnDiff(
                kind="length", column=column, fails=True,
                detail=f"{ct.raw}: {over} value(s) longer than {ct.precision} characters (longest {longest}); the "
                       "load fails on them, or truncates them where the database allows"))
    live_count = int(target.live_rows())
    result.rows = rows
    result.changes = Changes(live_rows=live_count, added=added, removed=live_count - (rows - added), changed=changed,
                             unchanged=rows - added - changed, change_ratio=ratio(rows, live_count),
                             compared_columns=[matched[wanted[i][0]] for i in idx],
                             method="one query inside the warehouse (the target is the warehouse)")

