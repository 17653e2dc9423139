"""Preview (plan) of a run for one data date (spec §3 "preview"): what the run would find and change,
reading the warehouse and the live target and writing nothing.

    columns  the DDL diff between the mapping and the live table: missing / extra columns, types that
             cannot hold a tag, values too long or too wide for their column (with the column)
    sources  rows and duplicate IDs of each source for D (the run's own source checks)
    rows     what the extract returns for D: the rows the run would write, a sample of them
    changes  against the live table (or partition D): rows added / removed / changed by entity ID,
             and the change ratio and gates the run would see
    holds    the data date a whole table holds (the run's own reading) and whether D would be refused

How the live table is compared: where the target *is* the warehouse, one aggregate query joins the
extract with the live table inside the engine; otherwise both sides are streamed, each row reduced
to its entity ID and a digest of its values in one canonical form per value type (drivers return
Decimal, float, str or int for the same value), the live side held as an ID → digest map (the only
memory that grows with the table: about 100 bytes a row).

Nothing is written: no lock, no recovery, no stage table; the target's session is made read-only
where the family can (``Target.read_only_statements``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import math
import operator
import time
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, Field

from airflow_provider_tagoffline.contract.connection import Resolved, RunConnections
from airflow_provider_tagoffline.data_date import older_refusal
from airflow_provider_tagoffline.engine import changes, gates
from airflow_provider_tagoffline.engine.extract import Query, build_extract_passes, format_date
from airflow_provider_tagoffline.engine.sides import opened
from airflow_provider_tagoffline.engine.targets import Target
from airflow_provider_tagoffline.engine.targets.base import TableStats
from airflow_provider_tagoffline.engine.types import ColumnType, incompatibility
from airflow_provider_tagoffline.engine.warehouse import Reader, SourceCheck, Warehouse, each_pass
from airflow_provider_tagoffline.errors import RunFailed, TagOfflineError, redacted_first_line
from airflow_provider_tagoffline.runspec import RunSpec
from airflow_provider_tagoffline.value_types import parse_value_type

DEFAULT_SAMPLE = 10
MAX_SAMPLE = 1000
BATCH = 20_000


# ---- the result ---------------------------------------------------------------------------------

class ColumnDiff(BaseModel):
    """One difference between the mapping and the live table, on one column."""

    kind: str = Field(description="missing | extra | type | length | precision")
    column: str
    detail: str
    fails: bool = Field(description="whether the run would fail on it (else it is a warning)")


class SourceRows(BaseModel):
    table: str
    partition: str | None = None
    rows: int
    duplicates: int


class Changes(BaseModel):
    """The extract against the live table (partition D of a partitioned target), by entity ID."""

    live_rows: int
    added: int
    removed: int
    changed: int
    unchanged: int
    change_ratio: float | None = Field(description="|new rows - live rows| / live rows: what gates.max_change_ratio "
                                                   "compares (None for an empty live table)")
    compared_columns: list[str]
    method: str


class Preview(BaseModel):
    service: str
    data_date: str
    target: str
    target_exists: bool
    holds: str | None = Field(None, description="the data date the whole table holds now (its own record, else "
                                                "Airflow's); None: unknown, or a partitioned target")
    columns: list[ColumnDiff] = []
    sources: list[SourceRows] = []
    rows: int = Field(0, description="rows the run would write (the extract for D, duplicate IDs reduced)")
    duplicates_replaced: int = 0
    nulls: dict[str, int] = Field(default_factory=dict, description="NULL values per column the gates look at")
    sample_columns: list[str] = []
    sample: list[list[Any]] = []
    changes: Changes | None = None
    load_mode: str = Field("overwrite", description="how the run would write (target.load): overwrite, or for a "
                                                    "changes service its change set or the fallback and why")
    gates_checked: str = ""
    gates_failed: list[str] = Field(default_factory=list, description="the gates the run would fail, as it says them")
    would_fail: list[str] = Field(default_factory=list, description="why the run would fail before its gates")
    seconds: float = 0.0

    def summary(self) -> str:
        """A few lines for people (the CLI)."""
        out = [f"PREVIEW: {self.service} data date {self.data_date} -> {self.target}"
               + ("" if self.target_exists else " (table does not exist)")
               + (f" (holds data date {self.holds})" if self.holds else "")]
        for c in self.columns:
            out.append(f"  column {c.column!r}: {c.kind}{' (fails)' if c.fails else ''}: {c.detail}")
        if not self.columns and self.target_exists:
            out.append("  columns: the mapping matches the live table")
        out.append("  sources: " + ", ".join(
            f"{s.table}" + (f" {s.partition}" if s.partition else "") + f" {s.rows} rows"
            + (f" ({s.duplicates} duplicate IDs)" if s.duplicates else "") for s in self.sources))
        out.append(f"  rows to write {self.rows}, duplicates replaced {self.duplicates_replaced}")
        if self.changes is not None:
            ch = self.changes
            ratio = "n/a" if ch.change_ratio is None else f"{ch.change_ratio:.1%}"
            out.append(f"  versus live ({ch.live_rows} rows): added {ch.added}, removed {ch.removed}, changed "
                       f"{ch.changed}, unchanged {ch.unchanged}; change ratio {ratio} ({ch.method})")
        if self.load_mode != "overwrite":
            out.append(f"  load mode {self.load_mode}")
        if self.gates_checked:
            out.append(f"  gates {'would fail' if self.gates_failed else 'would pass'}: {self.gates_checked}")
        for g in self.gates_failed:
            out.append(f"  gate would fail: {g}")
        for w in self.would_fail:
            out.append(f"  run would fail: {w}")
        if self.sample:
            out.append("  sample: " + " | ".join(self.sample_columns))
            out += ["    " + " | ".join("NULL" if v is None else str(v) for v in row) for row in self.sample]
        out.append(f"  previewed in {self.seconds:.2f}s; nothing was written")
        return "\n".join(out)


# ---- entry point ----------------------------------------------------------------------------------

def preview(spec: RunSpec, data_date: dt.date, where: RunConnections, *, sample: int = DEFAULT_SAMPLE,
            allow_older: bool = False, held_elsewhere: Callable[[], dt.date | None] | None = None) -> Preview:
    """Preview the run of ``spec`` for ``data_date`` through the connections its caller resolved
    (``runs.preview``): reads only. Raises RunFailed when a side cannot be read.

    :param allow_older: preview the run as ``allow_older`` runs it (an older data date is no failure)
    :param held_elsewhere: what Airflow says a whole table holds, asked when the table records nothing
        (as the run asks it)
    """
    try:
        return _preview(spec, data_date, where, sample, allow_older, held_elsewhere)
    except Exception as exc:
        raise failure(exc) from exc


def failure(exc: Exception) -> Exception:
    """What a preview that failed with ``exc`` raises: our own errors as they are, a driver's as a
    RunFailed with its first line, quoted values masked (they may be data)."""
    if isinstance(exc, TagOfflineError):
        return exc
    return RunFailed(f"preview failed: {type(exc).__name__}: {redacted_first_line(exc)}")


def _preview(spec: RunSpec, data_date: dt.date, connections: RunConnections, sample: int, allow_older: bool,
             held_elsewhere: Callable[[], dt.date | None] | None) -> Preview:
    sample = max(0, min(sample, MAX_SAMPLE))
    started = time.perf_counter()
    t = spec.target
    result = Preview(service=spec.service.name, data_date=data_date.isoformat(), target_exists=False,
                     target=f"{t.conn_id}:{t.schema_ + '.' if t.schema_ else ''}{t.table}",
                     gates_checked=gates.describe(spec.gates))
    where = connections.target
    with opened(spec, connections, read_only=True) as (warehouse, target):
        in_warehouse = where.in_warehouse
        if t.partition is not None:
            target.partition_column = t.partition.column
            target.partition_value = format_date(data_date, t.partition.format)
        live = target.column_types(target.live)
        result.target_exists = bool(live)
        result.columns = column_diff(spec, live) if live else []
        if not live:
            result.would_fail.append(f"target table {target.display_name} does not exist; create it first")
        record = None
        if live and t.partition is None:
            record = target.read_held()
            held = record.data_date if record is not None else held_elsewhere() if held_elsewhere else None
            result.holds = held.isoformat() if held is not None else None
            if reason := older_refusal(result.target, data_date, held, allow_older=allow_older):
                result.would_fail.append(reason)
        result.would_fail += [f"column {c.column!r}: {c.detail}" for c in result.columns if c.fails
                              and c.kind in ("missing", "type")]
        checks = [warehouse.check_source(src, data_date, spec.entity_key.type) for src in spec.sources]
        result.sources = [SourceRows(**vars(c)) for c in checks]
        result.duplicates_replaced = sum(c.duplicates for c in checks)
        empty = [c for c in checks if c.rows == 0]
        if empty and not spec.gates.allow_empty:
            result.would_fail.append("no rows for data date " + data_date.isoformat() + " in " + ", ".join(
                c.table + (f" partition {c.partition}" if c.partition else "") for c in empty))
        dedupe = _dedupe(checks)
        # Streamed out of the warehouse as the run would: in its passes (a join's memory bounded;
        # one inside a warehouse that is the target, which the in-engine compare below reads).
        queries = build_extract_passes(spec, warehouse.dialect, data_date, dedupe,
                                       warehouse.extract_passes(spec, checks, dedupe))
        query = queries[0]
        matched = _matched_columns(spec, live)
        key_live = matched.get(t.key_column)
        if t.partition is not None and _find(live, t.partition.column) is None:
            key_live = None  # partition D of the live table cannot be told apart: nothing to compare
        if in_warehouse and key_live is not None:
            _compare_in_engine(spec, warehouse, target, query, matched, result)
            first = Query(sql=warehouse.dialect.first_rows_sql(query.sql, sample), params=query.params)
            result.sample_columns, result.sample = _sample(spec, warehouse.stream(first, max(sample, 1)), sample)
        else:
            _compare_streamed(spec, warehouse, target, where, queries, matched if key_live else {}, live, result,
                              sample)
        null_columns = gates.null_counted_columns(spec)
        stats = TableStats(rows=result.rows, nulls={c: result.nulls.get(c, 0) for c in null_columns})
        live_rows = result.changes.live_rows if result.changes is not None else None
        result.gates_failed = gates.evaluate(spec.gates, spec, stats, live_rows)
        ch = result.changes
        change_set = None if ch is None else changes.ChangeSet(inserted=ch.added, updated=ch.changed,
                                                               deleted=ch.removed, unchanged=ch.unchanged)
        result.load_mode, failed = changes.previewed(spec, record is not None, change_set)
        result.gates_failed += failed
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _dedupe(checks: list[SourceCheck]) -> frozenset[int]:
    return frozenset(i for i, c in enumerate(checks) if c.duplicates)


# ---- the DDL diff ------------------------------------------------------------------------------------

def _wanted(spec: RunSpec) -> list[tuple[str, str, str]]:
    """(column, value type, what it holds) of every column the run writes."""
    out = [(spec.target.key_column, spec.entity_key.type, "the entity ID")]
    out += [(o.column, o.type, f"tag {o.tag!r} ({'code name' if o.content == 'codename' else 'value'})")
            for o in spec.outputs]
    return out


def _find(live: dict[str, ColumnType], column: str) -> str | None:
    """The live column a mapped column lands in (as the run's preflight matches: exact, then any case)."""
    if column in live:
        return column
    lower = {c.lower(): c for c in live}
    return lower.get(column.lower())


def _matched_columns(spec: RunSpec, live: dict[str, ColumnType]) -> dict[str, str]:
    """mapped column → its live column, for those that exist."""
    return {c: found for c, _t, _w in _wanted(spec) if (found := _find(live, c)) is not None}


def column_diff(spec: RunSpec, live: dict[str, ColumnType]) -> list[ColumnDiff]:
    """Missing and extra columns and types that cannot hold a tag (no data needed)."""
    diffs: list[ColumnDiff] = []
    used: set[str] = set()
    part = spec.target.partition.column if spec.target.partition else None
    for column, value_type, what in _wanted(spec) + ([(part, "string", "the partition")] if part else []):
        found = _find(live, column)
        if found is None:
            diffs.append(ColumnDiff(kind="missing", column=column, fails=True,
                                    detail=f"column {column!r} for {what} does not exist in the live table"))
            continue
        used.add(found)
        if column == part:
            continue
        why = incompatibility(value_type, live[found])
        if why:
            diffs.append(ColumnDiff(kind="type", column=found, fails=True,
                                    detail=f"{live[found].raw} cannot hold {what} of type {value_type}: {why}"))
    for name, ctype in live.items():
        if name not in used:
            diffs.append(ColumnDiff(kind="extra", column=name, fails=False,
                                    detail=f"{ctype.raw} is not mapped: the run leaves it NULL (it fails if the "
                                           "column is NOT NULL without a default)"))
    return diffs


class _Widths:
    """Values too long for a text column or too wide for a decimal one, found while the rows stream."""

    def __init__(self, spec: RunSpec, live: dict[str, ColumnType], matched: dict[str, str]):
        self.checks: list[tuple[int, str, ColumnType]] = []  # (row index, live column, its type)
        for i, (column, value_type, _what) in enumerate(_wanted(spec)):
            found = matched.get(column)
            if found is None:
                continue
            ct = live[found]
            # A decimal tag's values fit a column the type check let through; a double's may not.
            if (ct.family == "text" and ct.precision) or (ct.family == "decimal" and ct.precision
                                                           and parse_value_type(value_type).name == "double"):
                self.checks.append((i, found, ct))
        self.over: dict[str, list[Any]] = {}  # column → [count, widest, an entity ID]

    def see(self, batch: list[Any]) -> None:
        for i, column, ct in self.checks:
            limit = ct.precision or 0
            if ct.family == "text":
                for row in batch:
                    v = row[i]
                    if v is not None and len(s := v if isinstance(v, str) else str(v)) > limit:
                        self._note(column, len(s), row[0])
            else:
                digits = limit - (ct.scale or 0)
                for row in batch:
                    v = row[i]
                    if v is None or isinstance(v, bool):
                        continue
                    width = _integer_digits(v)
                    if width > digits:
                        self._note(column, width, row[0])

    def _note(self, column: str, width: int, key: Any) -> None:
        seen = self.over.setdefault(column, [0, 0, key])
        seen[0] += 1
        if width > seen[1]:
            seen[1], seen[2] = width, key

    def diffs(self) -> list[ColumnDiff]:
        out = []
        for _i, column, ct in self.checks:
            if column not in self.over:
                continue
            n, widest, key = self.over[column]
            if ct.family == "text":
                detail = (f"{ct.raw}: {n} value(s) longer than {ct.precision} characters (longest {widest}, entity ID "
                          f"{key}); the load fails on them, or truncates them where the database allows")
                diffs_kind = "length"
            else:
                detail = (f"{ct.raw}: {n} value(s) with more than {(ct.precision or 0) - (ct.scale or 0)} integer "
                          f"digits (widest {widest}, entity ID {key}); the load fails on them")
                diffs_kind = "precision"
            out.append(ColumnDiff(kind=diffs_kind, column=column, detail=detail, fails=True))
        return out


def _integer_digits(v: Any) -> int:
    try:
        d = v if isinstance(v, Decimal) else Decimal(str(v))
        if not d.is_finite() or d == 0:
            return 0
        return max(d.adjusted() + 1, 0)
    except (InvalidOperation, ValueError):
        return 0


# ---- values in one canonical form -------------------------------------------------------------------

def _canon_string(v: Any) -> Any:
    return v if type(v) is str else str(v)


def _canon_int(v: Any) -> Any:
    return v if type(v) is int else int(v)


def _canon_float(v: Any) -> Any:
    return v if type(v) is float else float(v)


def _canon_bool(v: Any) -> Any:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "t", "true", "y", "yes")
    return bool(v)


def _canon_date(v: Any) -> Any:
    return v.isoformat()[:10] if isinstance(v, (dt.date, dt.datetime)) else str(v)[:10]


def _canon_datetime(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day).isoformat(sep=" ")
    text = str(v).strip().replace("T", " ")
    with contextlib.suppress(ValueError):
        return dt.datetime.fromisoformat(text).replace(tzinfo=None).isoformat(sep=" ")
    return text


def _canon_decimal(scale: int) -> Callable[[Any], Any]:
    quantum = Decimal(1).scaleb(-scale)

    def canon(v: Any) -> Any:
        try:
            # ties away from zero, as PostgreSQL and MySQL round a numeric they store
            return (v if isinstance(v, Decimal) else Decimal(str(v))).quantize(quantum, rounding=ROUND_HALF_UP)
        except (InvalidOperation, ValueError):
            return str(v)
    return canon


def _canonical(value_type: str) -> Callable[[Any], Any]:
    vt = parse_value_type(value_type)
    if vt.name == "decimal":
        return _canon_decimal(vt.scale or 0)
    return {"bigint": _canon_int, "double": _canon_float, "boolean": _canon_bool, "date": _canon_date,
            "datetime": _canon_datetime}.get(vt.name, _canon_string)


def _same_kind(a: Any, b: Any) -> bool:
    """Whether values from two drivers compare (and hash) equal as they come: same Python type (bool and
    int alike: True == 1), and timestamps both naive or both aware. Decimals compare by value."""
    ta, tb = type(a), type(b)
    if ta in (bool, int) and tb in (bool, int):
        return True
    if ta is not tb:
        return False
    if ta is dt.datetime:
        return (a.tzinfo is None) == (b.tzinfo is None)
    return ta in (str, float, Decimal, dt.date)


def _first_values(batch: list[Any], positions: list[int]) -> list[Any]:
    """The first non-NULL value at each position of ``batch`` (None where all are NULL)."""
    out: list[Any] = [None] * len(positions)
    for n, p in enumerate(positions):
        out[n] = next((row[p] for row in batch if row[p] is not None), None)
    return out


class _Digest:
    """Entity ID and a digest of the compared values, the same for equal values from either side.

    Values of the same kind on both sides are hashed as they come (a tuple hash, in C); only a column
    whose drivers disagree (a date as text, a decimal as float, ...), and decimals, go through their
    canonical form.
    CPython hashes -1 like -2: the count of -1s joins the digest, so -1 → -2 is a change.
    """

    def __init__(self, value_types: list[str], extract_first: list[Any], live_first: list[Any]):
        # Decimals are always rounded to the tag's scale: the target rounds a wider warehouse value so
        # when it writes it, and would otherwise differ from it for ever after.
        fixes = [n for n, (e, lv) in enumerate(zip(extract_first, live_first, strict=True))
                 if e is None or lv is None or not _same_kind(e, lv)
                 or parse_value_type(value_types[n]).name == "decimal"]
        self.key_fix = _canonical(value_types[0]) if 0 in fixes else None
        self.fixes = [(n - 1, _canonical(value_types[n])) for n in fixes if n > 0]
        # only numbers can be -1 (a -1 count over every column costs a third of the hashing)
        numbers = [n - 1 for n, vt in enumerate(value_types)
                   if n > 0 and parse_value_type(vt).name in ("bigint", "double", "decimal")]
        self._numbers = operator.itemgetter(*numbers) if len(numbers) > 1 else None
        self._number = numbers[0] if len(numbers) == 1 else None

    def key(self, k: Any) -> Any:
        return k if self.key_fix is None or k is None else self.key_fix(k)

    def of(self, values: tuple[Any, ...]) -> int:
        if self.fixes:
            fixed = list(values)
            for n, f in self.fixes:
                if fixed[n] is not None:
                    fixed[n] = f(fixed[n])
            values = tuple(fixed)
        if self._numbers is not None:
            return hash((values, self._numbers(values).count(-1)))
        if self._number is not None:
            return hash((values, values[self._number] == -1))
        return hash(values)


# ---- comparing: streamed digests ---------------------------------------------------------------------

def _live_query(target: Target, columns: list[str]) -> Query:
    d = target.d
    # always run with a parameter list (maybe empty): a literal % in a name must survive the driver
    sql = d.escape_for_params(f"SELECT {', '.join(d.quote(c) for c in columns)} FROM {target.q(target.live)}")
    params: list[object] = []
    if target.partition_column is not None:
        sql += f" WHERE {d.escape_for_params(d.quote(target.partition_column))} = {d.placeholder}"
        params.append(target.partition_value)
    return Query(sql=sql, params=params)


def _compare_streamed(spec: RunSpec, warehouse: Warehouse, target: Target, where: Resolved, queries: list[Query],
                      matched: dict[str, str], live: dict[str, ColumnType], result: Preview, sample: int) -> None:
    wanted = _wanted(spec)
    # Compared: the entity ID and every mapped column the live table has (a missing one fails the run anyway).
    idx = [i for i, (c, _t, _w) in enumerate(wanted) if c in matched]
    widths = _Widths(spec, live, matched)
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
                sample_rows.extend(_jsonable(r) for r in batch[: sample - len(sample_rows)])
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
    result.sample_columns, result.sample = _sample_columns(spec), sample_rows
    result.columns += widths.diffs()
    if result.changes is not None:  # the extract was read to its end only now
        ch = result.changes
        ch.unchanged = rows - ch.added - ch.changed
        ch.live_rows = rows - ch.added + ch.removed
        ch.change_ratio = _ratio(rows, ch.live_rows)


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
        digest = _Digest(value_types, _first_values(first, idx), _first_values(live_first, list(range(len(idx)))))
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


def _ratio(rows: int, live_rows: int) -> float | None:
    return abs(rows - live_rows) / live_rows if live_rows else None


# ---- comparing: inside the engine (the target is the warehouse) ------------------------------------

def _compare_in_engine(spec: RunSpec, warehouse: Warehouse, target: Target, query: Query, matched: dict[str, str],
                       result: Preview) -> None:
    d = warehouse.dialect
    wanted = _wanted(spec)
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
                             unchanged=rows - added - changed, change_ratio=_ratio(rows, live_count),
                             compared_columns=[matched[wanted[i][0]] for i in idx],
                             method="one query inside the warehouse (the target is the warehouse)")


# ---- the sample ---------------------------------------------------------------------------------------

def _sample_columns(spec: RunSpec) -> list[str]:
    part = spec.target.partition
    return [spec.target.key_column] + [o.column for o in spec.outputs] + ([part.column] if part else [])


def _sample(spec: RunSpec, batches: Iterator[list[Any]], n: int) -> tuple[list[str], list[list[Any]]]:
    rows: list[list[Any]] = []
    for batch in batches:
        rows.extend(_jsonable(r) for r in batch[: n - len(rows)])
        if len(rows) >= n:
            break
    close = getattr(batches, "close", None)
    if close is not None:
        close()  # stop the query: the rest is not needed
    return _sample_columns(spec), rows


def _jsonable(row: Any) -> list[Any]:
    out: list[Any] = []
    for v in row:
        if v is None or isinstance(v, (bool, int, str)):
            out.append(v)
        elif isinstance(v, float):
            out.append(v if math.isfinite(v) else str(v))
        elif isinstance(v, dt.datetime):
            out.append(v.isoformat(sep=" "))
        elif isinstance(v, (dt.date, Decimal)):
            out.append(str(v))
        elif isinstance(v, (bytes, bytearray, memoryview)):
            out.append(bytes(v).hex())
        else:
            out.append(str(v))
    return out

