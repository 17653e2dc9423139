"""The preview of one run for one data date (``preview``): the steps in the run's order, each read-only
— the live table and the data date it holds, the source checks, the extract against the live table —
and the gates the run would see."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from airflow_provider_tagoffline.contract.connection import RunConnections
from airflow_provider_tagoffline.data_date import older_refusal
from airflow_provider_tagoffline.engine import changes, gates
from airflow_provider_tagoffline.engine.extract import Query, build_extract_passes, format_date
from airflow_provider_tagoffline.engine.preview.columns import column_diff, find_column, matched_columns
from airflow_provider_tagoffline.engine.preview.compare import compare_in_engine, compare_streamed
from airflow_provider_tagoffline.engine.preview.result import Preview, SourceRows
from airflow_provider_tagoffline.engine.preview.sample import first_rows
from airflow_provider_tagoffline.engine.sides import booleans_as_int, opened
from airflow_provider_tagoffline.engine.snapshots import Snapshots
from airflow_provider_tagoffline.engine.targets import Target
from airflow_provider_tagoffline.engine.targets.base import TableStats
from airflow_provider_tagoffline.engine.targets.held import HeldRecord
from airflow_provider_tagoffline.engine.types import ColumnType
from airflow_provider_tagoffline.engine.warehouse import SourceCheck, Warehouse
from airflow_provider_tagoffline.errors import RunFailed, TagOfflineError, redacted_first_line
from airflow_provider_tagoffline.runspec import RunSpec

DEFAULT_SAMPLE = 10
MAX_SAMPLE = 1000


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
        if t.partition is not None:
            target.partition_column = t.partition.column
            target.partition_value = format_date(data_date, t.partition.format)
        live, found = _live_table(spec, data_date, target, result, allow_older, held_elsewhere)
        checks = _sources(spec, data_date, warehouse, result)
        dedupe = frozenset(i for i, c in enumerate(checks) if c.duplicates)
        # Streamed out of the warehouse as the run would: in its passes (a join's memory bounded;
        # one inside a warehouse that is the target, which the in-engine compare below reads).
        queries = build_extract_passes(spec, warehouse.dialect, data_date, dedupe,
                                       warehouse.extract_passes(spec, checks, dedupe))
        query = queries[0]
        matched = matched_columns(spec, live)
        key_live = matched.get(t.key_column)
        if t.partition is not None and find_column(live, t.partition.column) is None:
            key_live = None  # partition D of the live table cannot be told apart: nothing to compare
        if where.in_warehouse and key_live is not None:
            compare_in_engine(spec, warehouse, target, query, matched, result)
            first = Query(sql=warehouse.dialect.first_rows_sql(query.sql, sample), params=query.params)
            result.sample_columns, result.sample = first_rows(spec, warehouse.stream(first, max(sample, 1)), sample)
        else:
            compare_streamed(spec, warehouse, target, where, queries, matched if key_live else {}, live, result,
                             sample)
        _gates(spec, result)
        swap_because, read = (_snapshot_doubt(spec, warehouse, target, found)
                              if found is not None and changes.diffs_in_warehouse(spec) and live else (None, True))
        _load_mode(spec, result, found is not None, swap_because)
        if not read:
            result.load_mode = f"{result.load_mode} ({SNAPSHOT_BUSY})"
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _live_table(spec: RunSpec, data_date: dt.date, target: Target, result: Preview, allow_older: bool,
                held_elsewhere: Callable[[], dt.date | None] | None
                ) -> tuple[dict[str, ColumnType], HeldRecord | None]:
    """The live table's columns against the mapping, and (a whole table) the data date it holds: what
    the run's preflight would refuse. Its columns (none when it does not exist), and the record of what
    the table holds, when it keeps one itself."""
    record = None
    live = target.column_types(target.live)
    result.target_exists = bool(live)
    result.columns = column_diff(spec, live) if live else []
    if not live:
        result.would_fail.append(f"target table {target.display_name} does not exist; create it first")
    elif spec.target.partition is None:
        record = target.read_held()
        held = record.data_date if record is not None else held_elsewhere() if held_elsewhere else None
        result.holds = held.isoformat() if held is not None else None
        if reason := older_refusal(result.target, data_date, held, allow_older=allow_older):
            result.would_fail.append(reason)
    result.would_fail += [f"column {c.column!r}: {c.detail}" for c in result.columns if c.fails
                          and c.kind in ("missing", "type")]
    return live, record


def _sources(spec: RunSpec, data_date: dt.date, warehouse: Warehouse, result: Preview) -> list[SourceCheck]:
    """The run's own source checks; a source with no rows for D fails the run (unless allowed)."""
    checks = [warehouse.check_source(src, data_date, spec.entity_key.type) for src in spec.sources]
    result.sources = [SourceRows(**vars(c)) for c in checks]
    result.duplicates_replaced = sum(c.duplicates for c in checks)
    empty = [c for c in checks if c.rows == 0]
    if empty and not spec.gates.allow_empty:
        result.would_fail.append("no rows for data date " + data_date.isoformat() + " in " + ", ".join(
            c.table + (f" partition {c.partition}" if c.partition else "") for c in empty))
    return checks


def _gates(spec: RunSpec, result: Preview) -> None:
    """The gates the run would fail on what the compare counted."""
    null_columns = gates.null_counted_columns(spec)
    stats = TableStats(rows=result.rows, nulls={c: result.nulls.get(c, 0) for c in null_columns})
    live_rows = result.changes.live_rows if result.changes is not None else None
    result.gates_failed = gates.evaluate(spec.gates, spec, stats, live_rows)


#: what a preview adds to its change set when it could not read the snapshot's state
SNAPSHOT_BUSY = "not checked against the warehouse's snapshot: a run holds its scratch place now"


def _snapshot_doubt(spec: RunSpec, warehouse: Warehouse, target: Target,
                    found: HeldRecord) -> tuple[str | None, bool]:
    """Why the run would not trust the warehouse's snapshot of the table's last write and swap the whole table
    instead (None: it would diff against it, or it keeps no snapshot and diffs in the target), read only; and
    whether the snapshot's state could be read now."""
    snapshots = Snapshots.kept(warehouse, spec.service.name)
    if snapshots is None:
        return None, True
    try:
        peeked = snapshots.peek()
    except RunFailed as exc:  # the run makes a missing place, and finds no snapshot there
        return f"the warehouse holds no snapshot of this service ({exc})", True
    if peeked is None:  # a run holds the scratch place: the run after it finds what that one leaves
        return None, False
    state, promoted_rows = peeked
    columns = [spec.target.key_column, *(o.column for o in spec.outputs)]
    return changes.snapshot_doubt(found, state, promoted_rows,
                                  changes.signature(spec, booleans_as_int(warehouse, target)),
                                  lambda: target.table_digest(target.live, columns)), True


def _load_mode(spec: RunSpec, result: Preview, recorded: bool, swap_because: str | None) -> None:
    """How the run would write (``target.load``): for a ``changes`` service its change set, or the
    fallback to the swap and why, and ``max_change_ratio`` on that change set as the run checks it."""
    ch = result.changes
    change_set = None if ch is None else changes.ChangeSet(inserted=ch.added, updated=ch.changed,
                                                           deleted=ch.removed, unchanged=ch.unchanged)
    result.load_mode, failed = changes.previewed(spec, recorded, change_set, swap_because)
    result.gates_failed += failed
