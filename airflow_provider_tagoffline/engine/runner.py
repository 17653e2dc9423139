"""One run of a service for one data date (spec §5): the sequence, with no dialect knowledge.

    lock → preflight (recover, target columns, the data date it holds, sources for D) → stage
         → extract+load → indexes → gates → the record of D on the stage → swap → report

Anything that fails before the swap drops the stage table and leaves the live table untouched;
a process killed at any point is recovered by the next run (``Target.recover``).

A whole-table target records the data date it holds with the table itself, published by the swap
with the rows (``Target.record_held``); every run reads it under the run lock and refuses an older
date unless allowed (``data_date.older_refusal``), whoever started it (docs/data-dates.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from airflow_provider_tagoffline.contract.connection import RunConnections
from airflow_provider_tagoffline.data_date import older_refusal
from airflow_provider_tagoffline.engine import changes, faults, gates, lost_connection
from airflow_provider_tagoffline.engine.extract import Query, build_extract_passes, format_date
from airflow_provider_tagoffline.engine.readiness import waiting_for
from airflow_provider_tagoffline.engine.report import RunReport
from airflow_provider_tagoffline.engine.sides import booleans_as_int, csv_between, opened
from airflow_provider_tagoffline.engine.snapshots import Snapshots
from airflow_provider_tagoffline.engine.targets import Target
from airflow_provider_tagoffline.engine.targets.base import LoadResult, TableStats
from airflow_provider_tagoffline.engine.targets.held import HeldRecord
from airflow_provider_tagoffline.engine.targets.lockwait import LockPatienceExhausted
from airflow_provider_tagoffline.engine.warehouse import SourceCheck, Warehouse, each_pass
from airflow_provider_tagoffline.errors import (
    OlderDataDate,
    RunFailed,
    SourceNotReady,
    WarehouseOutOfMemory,
    first_line,
)
from airflow_provider_tagoffline.runspec import RunSpec

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 20_000
T = TypeVar("T")


def run(spec: RunSpec, data_date: dt.date | str, where: RunConnections, *,
        batch_size: int = DEFAULT_BATCH_SIZE, echo: Callable[[str], None] | None = None,
        allow_older: bool = False, run_id: str = "", by: str = "",
        held_elsewhere: Callable[[], dt.date | None] | None = None) -> RunReport:
    """Export ``data_date`` of a service into its target, through the connections its caller resolved
    (``runs.run_export``). Raises RunFailed (with ``.report``) on failure, OlderDataDate when a whole-table
    target holds a later date and ``allow_older`` is not set.

    :param run_id: / :param by: the run and who started it, recorded with the data date the table holds
    :param held_elsewhere: where else the data date a whole table holds may be known (Airflow's asset
        events), asked only when the table records none (written before tagoffline recorded one)
    """
    d = parse_date(data_date)
    report = new_report(spec, d)
    say = echo or (lambda m: log.info("%s", m))
    lost: str | None = None  # the connection the server ended, when that failed the run
    try:
        with opened(spec, where) as (warehouse, target):
            held = _Held(d, allow_older, lambda: HeldRecord.of_run(d, spec.service.name, run_id, by), held_elsewhere)
            try:
                _run(spec, d, warehouse, target, report, batch_size, say, held)
            except Exception as exc:
                lost = lost_connection.lost_connection(spec, warehouse, target, report, exc)
                raise
            finally:
                waits = target.lock_waits
                report.lock_attempts, report.lock_timeouts = waits.attempts, waits.timeouts
                report.lock_wait_seconds = round(waits.waited, 3)
    except RunFailed as exc:
        report.status, report.error = "failed", str(exc)
        if lost is None:
            exc.report = report
            raise
        report.error = lost_connection.explain(spec, where.target, report, lost, report.error)
        err = RunFailed(report.error)
        err.report = report
        raise err from exc
    except Exception as exc:
        report.status = "failed"
        first = first_line(exc)
        report.error = f"{type(exc).__name__}: {first}"
        if lost is not None:
            report.error = lost_connection.explain(spec, where.target, report, lost, report.error)
        err = RunFailed(report.error)
        err.report = report
        raise err from exc
    report.status = "success"
    say(report.summary())
    return report


def parse_date(data_date: dt.date | str) -> dt.date:
    if isinstance(data_date, dt.date):
        return data_date
    try:
        return dt.date.fromisoformat(data_date)
    except ValueError:
        raise RunFailed(f"data date {data_date!r} is not a date (YYYY-MM-DD)") from None


def new_report(spec: RunSpec, d: dt.date) -> RunReport:
    t = spec.target
    return RunReport(service=spec.service.name, data_date=d.isoformat(),
                     target=f"{t.conn_id}:{t.schema_ + '.' if t.schema_ else ''}{t.table}")


def failed_to_start(spec: RunSpec, data_date: dt.date | str, exc: Exception) -> RunFailed:
    """The RunFailed (with its report) of a run that could not start: its caller could not resolve its
    connections (an unknown connection, a family not installed), said as a failure inside the run is."""
    report = new_report(spec, parse_date(data_date))
    report.status = "failed"
    report.error = str(exc) if isinstance(exc, RunFailed) else f"{type(exc).__name__}: {first_line(exc)}"
    err = RunFailed(report.error)
    err.report = report
    return err


class _Held:
    """How a run treats the data date a whole table holds: what it may replace, what it records."""

    def __init__(self, d: dt.date, allow_older: bool, record: Callable[[], HeldRecord],
                 elsewhere: Callable[[], dt.date | None] | None) -> None:
        self.d, self.allow_older, self.elsewhere = d, allow_older, elsewhere
        #: the record of this run, made when it is written (its time is the swap's)
        self.record = record
        #: whether the table records a data date itself (read by ``check``, in the preflight)
        self.recorded = False
        #: the record itself (None: none)
        self.found: HeldRecord | None = None

    def check(self, target: Target, report: RunReport, say: Callable[[str], None]) -> None:
        """Preflight, under the run lock: refuse an older data date than the table holds (OlderDataDate)."""
        d = self.d
        found = self.found = target.read_held()
        self.recorded = found is not None
        target.check_record_room()
        held = found.data_date if found is not None else None
        if found is not None:
            say(f"target holds data date {found.describe()}")
        else:
            held = self._elsewhere(say)
            where = (f"Airflow's last event of its asset says {held}" if held is not None
                     else "not compared with anything")
            say(f"target {report.target} records no data date yet (written before tagoffline recorded one, or "
                f"never by it): {where}; this run records {d}")
        report.held_before = held.isoformat() if held is not None else None
        reason = older_refusal(report.target, d, held, self.allow_older)
        if reason:
            raise OlderDataDate(reason, held, d)
        if held is not None and d < held:
            say(f"target holds data date {held}; exporting the older {d} as allowed (allow_older)")

    def _elsewhere(self, say: Callable[[str], None]) -> dt.date | None:
        if self.elsewhere is None:
            return None
        try:
            return self.elsewhere()
        except Exception as exc:
            say(f"cannot ask Airflow which data date the target holds: {first_line(exc)}")
            return None


def _run(spec: RunSpec, d: dt.date, warehouse: Warehouse, target: Target, report: RunReport,
         batch_size: int, say: Callable[[str], None], held: _Held) -> None:
    columns = _columns(spec, d, target)
    with target.lock():
        with report.phase("preflight"):
            _preflight_target(spec, target, report, say, held)
            checks = _check_path(warehouse)(spec, d, warehouse, report, say)
            load = _Load(spec, d, warehouse, target, report, columns, batch_size)
            snapshots = Snapshots.open(warehouse, spec.service.name) if changes.diffs_in_warehouse(spec) else None
            live_rows = _live_rows(spec, target) if snapshots is None else None
        if snapshots is None:
            _publish(spec, target, report, held, live_rows, lambda: checks.extract_load(load), say)
        else:
            _publish_changes(spec, target, report, held, checks, load, snapshots, say)


def _live_rows(spec: RunSpec, target: Target) -> int | None:
    """The live table's rows, for ``max_change_ratio`` against a swap's stage (None: no such gate)."""
    return target.live_rows() if spec.gates.max_change_ratio is not None else None


def _publish_changes(spec: RunSpec, target: Target, report: RunReport, held: _Held, checks: _Checks, load: _Load,
                     snapshots: Snapshots, say: Callable[[str], None]) -> None:
    """Load mode ``changes`` with a snapshot in the warehouse: only the changed rows cross the network
    (engine/changes.py), or the swap, which keeps a snapshot of what it writes unless most rows changed. The
    live rows are counted only for a swap (the changes' gates take them from the table's checked record)."""
    extract = _ExtractToDiff(checks, load)
    sig = changes.signature(spec, load.booleans_as_int)
    swap = changes.through_snapshot(spec, target, report, snapshots, held.found, extract.guess, extract.confirmed,
                                    sig, held.record, load.into, say)
    if swap is None:
        return
    target.load_mode = "overwrite"  # its stage is a swap's from the start
    live_rows = _live_rows(spec, target)
    if not swap.snapshot:
        _publish(spec, target, report, held, live_rows, lambda: checks.extract_load(load), say,
                 swap_because=swap.why)
        return
    # The swap, its stage loaded from the next snapshot, built from the extract in the warehouse first, so
    # that the snapshot it adopts after is exactly what the table received.
    write_id = changes.new_write_id()
    with report.phase("snapshot"):
        rows = snapshots.build_next(extract.exact(), spec.target.key_column, [o.column for o in spec.outputs])
    try:
        _publish(spec, target, report, held, live_rows, lambda: load.into(rows, load.columns), say,
                 swap_because=swap.why, stamp=changes.stage_stamp(target, spec, write_id))
    except BaseException:
        with contextlib.suppress(Exception):
            snapshots.drop_next()
        raise
    with report.phase("snapshot"):
        changes.adopted(snapshots, spec, write_id, sig, say)


class _ExtractToDiff:
    """The one-pass extract a warehouse-side diff reads. While the source checks still run beside it (the
    warehouse's checks go alongside the load), the diff starts from a guess: no source repeats an ID; a check
    that finds one makes the diff run again, deduplicated, before anything is sent (the check of 5M IDs took
    ~1 s of a PostgreSQL warehouse, waited for before the diff)."""

    def __init__(self, checks: _Checks, load: _Load) -> None:
        self.checks, self.load = checks, load
        known = checks.known_yet()
        #: the extract as the checks are known now (none known: no source deduplicated)
        self.guess = load.one_query(known or [])
        self._guessed = known is None
        self._confirmed: Query | None = None
        self._checked = False

    def confirmed(self) -> Query | None:
        """After the checks (waited for; a source not ready raises here): the extract they call for when the
        guess was wrong, else None."""
        if not self._checked:
            known = self.checks.known()
            self._checked = True
            if self._guessed and _repeating(known):
                self._confirmed = self.load.one_query(known)
        return self._confirmed

    def exact(self) -> Query:
        """The extract the checks call for (waited for)."""
        return self.confirmed() or self.guess


def _columns(spec: RunSpec, d: dt.date, target: Target) -> list[str]:
    """The stage's columns in the extract's order; a partitioned target learns its partition D."""
    columns = [spec.target.key_column] + [o.column for o in spec.outputs]
    if spec.target.partition is not None:
        columns.append(spec.target.partition.column)
        target.partition_column = spec.target.partition.column
        target.partition_value = format_date(d, spec.target.partition.format)
    return columns


def _preflight_target(spec: RunSpec, target: Target, report: RunReport, say: Callable[[str], None],
                      held: _Held) -> None:
    """Under the run lock: recover what a killed run left, check the live table, and (a whole table)
    refuse an older data date than it holds."""
    report.recovery = target.recover()
    target.check_table(spec.target.key_column, spec.entity_key.type, spec.outputs,
                       spec.target.partition.column if spec.target.partition else None)
    target.check_dependents()
    if refused := changes.refusal(spec, target):
        raise RunFailed(refused)
    if spec.target.partition is None:  # partitioned: each data date has its own partition
        held.check(target, report, say)


# ---- publishing: stage -> gates -> swap ---------------------------------------------------------------

def _publish(spec: RunSpec, target: Target, report: RunReport, held: _Held, live_rows: int | None,
             extract_load: Callable[[], LoadResult], say: Callable[[str], None], swap_because: str | None = None,
             stamp: Callable[[HeldRecord], HeldRecord] = lambda record: record) -> None:
    """A stage table loaded and indexed, the gates, the record of D on the stage, then the load mode's
    step: the swap replaces the whole table (or partition D) at once, or (``target.load: changes``) only
    the rows that differ are written in one transaction (engine/changes.py, which may swap instead and
    says why; ``swap_because``: it chose the swap already). Anything that fails before that step drops the
    stage. ``stamp``: what the stage's record carries besides the run's (a changes service's digest)."""
    with _stage_dropped_on_failure(target):
        result = _load_stage(target, report, extract_load)
        _gate(spec, target, report, result, live_rows)
        if spec.target.partition is None:
            # The stage carries the record of D from here: the swap publishes both at once.
            target.record_held(stamp(held.record()))
            faults.checkpoint("before_swap")
    if changes.applied(spec, target, report, held.recorded, held.record, say, swap_because):
        return
    _swap(target, report)
    faults.checkpoint("after_swap")


@contextlib.contextmanager
def _stage_dropped_on_failure(target: Target) -> Iterator[None]:
    """The block, the stage table dropped if it fails (however: an interrupt too); the live table untouched."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            target.run_in_tx(target.drop_sql(target.stage))
        raise


def _load_stage(target: Target, report: RunReport, extract_load: Callable[[], LoadResult]) -> LoadResult:
    """A fresh stage table, loaded by ``extract_load`` (the check path's), then indexed."""
    with report.phase("stage"):
        target.prepare_stage()
    with report.phase("extract_load"):
        result = extract_load()
        report.rows_written, report.load_method = result.rows, result.method
        report.rows_read = report.rows_read or result.rows
    with report.phase("index"):
        target.finish_stage()
    faults.checkpoint("after_load")
    return result


def _gate(spec: RunSpec, target: Target, report: RunReport, result: LoadResult, live_rows: int | None) -> None:
    """The quality gates on the stage: RunFailed when one fails (the live table untouched)."""
    with report.phase("gates"):
        null_columns = gates.null_counted_columns(spec)
        if result.exact_count and not null_columns:
            stats = TableStats(rows=result.rows, nulls={})  # 0.2 s of 3.9 s on MariaDB, 1M rows
        else:
            stats = target.stats(target.stage, null_columns)
        faults.checkpoint("gates")
        report.rows_written = stats.rows
        report.rows_read = report.rows_read or stats.rows
        report.gates_checked = gates.describe(spec.gates)
        report.gates_failed = gates.evaluate(spec.gates, spec, stats, live_rows)
        if report.gates_failed:
            raise RunFailed("quality gate failed, the live table is untouched: "
                            + "; ".join(report.gates_failed))
        report.bytes_written = target.size_bytes(target.stage)


def _swap(target: Target, report: RunReport) -> None:
    """The stage becomes the live table (or partition D), within the target's lock patience."""
    with report.phase("swap"):
        start, waited = time.perf_counter(), target.lock_waits.waited
        try:
            target.publish()
        except LockPatienceExhausted:
            # Nothing was swapped. The stage is not kept for a later run: it does not record what
            # built it (the spec, D, the sources as they were, the live table it was gated against).
            # One bounded try (the patience is spent): a stage left behind is the next run's to drop.
            with contextlib.suppress(Exception):
                target.run_bounded(f"dropping {target.stage}", target.drop_sql(target.stage))
            raise
        # the swap itself; tries that gave way (each holding readers <= lockwait.ATTEMPT_SECONDS) and the
        # pauses between them are the report's lock waits
        report.swap_window_seconds = round(time.perf_counter() - start - (target.lock_waits.waited - waited), 4)


# ---- the load path: how the rows get from the warehouse into the stage --------------------------------

class _Load:
    """The extract and the load into the stage, its path chosen once from what the two sides can do:
    one statement inside the warehouse when it is the target; CSV the warehouse engine writes, when it
    can and the target loads CSV; else batches of rows."""

    def __init__(self, spec: RunSpec, d: dt.date, warehouse: Warehouse, target: Target, report: RunReport,
                 columns: list[str], batch_size: int) -> None:
        self.spec, self.d, self.warehouse, self.target, self.report = spec, d, warehouse, target, report
        self.columns, self.batch_size = columns, batch_size
        in_warehouse = warehouse.is_the_target
        self.csv = csv_between(warehouse, target)
        self.native_lookups = warehouse.native_lookups(spec)
        #: the extract renders booleans as 0 / 1 (the target's CSV reads no true / false)
        self.booleans_as_int = booleans_as_int(warehouse, target)
        self._into_stage: Callable[[list[Query], Callable[[], bool], list[str]], LoadResult] = (
            self._in_warehouse if in_warehouse else self._as_csv if self.csv is not None else self._as_rows)

    def run(self, checks: list[SourceCheck] | None, stop: Callable[[], bool] = lambda: False) -> LoadResult:
        """Extract and load, the duplicate IDs of the sources ``checks`` found reduced (None: not known yet);
        ``stop`` says when the rest of the load is wasted (``_until``)."""
        return self._into_stage(self.queries(checks), stop, self.columns)

    def into(self, query: Query, columns: list[str]) -> LoadResult:
        """The result of another warehouse query (a change set), with these columns, by the same path."""
        return self._into_stage([query], lambda: False, columns)

    def one_query(self, checks: list[SourceCheck]) -> Query:
        """The extract as one statement (the warehouse diffs it whole), deduplicated as ``checks`` say."""
        (query,) = build_extract_passes(self.spec, self.warehouse.dialect, self.d, _repeating(checks), 1,
                                        native_lookups=self.native_lookups, booleans_as_int=self.booleans_as_int)
        return query

    def again(self, checks: list[SourceCheck] | None) -> LoadResult:
        """The load once more, on a fresh stage, with what is known now (checks, memory)."""
        target = self.target
        target.run_in_tx(target.drop_sql(target.stage))
        target.prepare_stage()
        self.report.rows_read = 0
        return self.run(checks)

    def queries(self, checks: list[SourceCheck] | None) -> list[Query]:
        """The extract: one statement, or one per pass over the IDs (``Warehouse.extract_passes``)."""
        dedupe = _repeating(checks or [])
        self.report.extract_passes = self.warehouse.extract_passes(self.spec, checks or [], dedupe)
        return build_extract_passes(self.spec, self.warehouse.dialect, self.d, dedupe, self.report.extract_passes,
                                    native_lookups=self.native_lookups, booleans_as_int=self.booleans_as_int)

    def _in_warehouse(self, queries: list[Query], stop: Callable[[], bool], columns: list[str]) -> LoadResult:
        (q,) = queries  # the target's own engine: one statement, never passes
        return self.target.load_from_query(columns, q)

    # Each stream is closed here however the load ends: a stream the target gave up on still holds
    # its statement and the warehouse connection (a PostgreSQL COPY: the reload waited forever).
    def _as_csv(self, queries: list[Query], stop: Callable[[], bool], columns: list[str]) -> LoadResult:
        csv, warehouse = self.csv, self.warehouse
        assert csv is not None
        with _ended(each_pass(queries, lambda q: warehouse.csv_chunks(q, csv))) as chunks:
            return self.target.load_csv(columns, _until(_extracting(chunks), stop))

    def _as_rows(self, queries: list[Query], stop: Callable[[], bool], columns: list[str]) -> LoadResult:
        warehouse, batch_size = self.warehouse, self.batch_size
        with _ended(each_pass(queries, lambda q: warehouse.stream(q, batch_size))) as batches:
            return self.target.load(columns, _counting(_until(_extracting(batches), stop), self.report))


# ---- the check path: when the source checks run, against the load ------------------------------------

class _Checks:
    """The source checks of one run (rows and duplicate IDs of each source for D) and the load that
    depends on them."""

    def __init__(self, spec: RunSpec, d: dt.date, warehouse: Warehouse, report: RunReport,
                 say: Callable[[str], None]) -> None:
        self.spec, self.d, self.warehouse, self.report, self.say = spec, d, warehouse, report, say

    def extract_load(self, load: _Load) -> LoadResult:
        raise NotImplementedError

    def known(self) -> list[SourceCheck]:
        """The checks' results, waited for (a warehouse-side diff needs the extract's dedupe first)."""
        raise NotImplementedError

    def known_yet(self) -> list[SourceCheck] | None:
        """The checks' results if they are known already, else None (they run alongside)."""
        return self.known()

    def _accept(self, checks: list[SourceCheck]) -> list[SourceCheck]:
        return _accept_sources(self.spec, self.d, checks, self.report)

    def _load_checked(self, load: _Load, checks: list[SourceCheck]) -> LoadResult:
        """The load, deduplicated as ``checks`` say."""
        try:
            return load.run(checks)
        except WarehouseOutOfMemory:
            # Out of a limit the warehouse's memory strategy chose (not the connection's): once more
            # with what it can still give, on a fresh stage.
            change = self.warehouse.memory.fall_back_to_more_memory()
            if change is None:
                raise
            self.say(change)
            return load.again(checks)


class _ChecksBefore(_Checks):
    """The checks run in the preflight, one source after another; the load knows which to deduplicate."""

    def __init__(self, spec: RunSpec, d: dt.date, warehouse: Warehouse, report: RunReport,
                 say: Callable[[str], None]) -> None:
        super().__init__(spec, d, warehouse, report, say)
        key_type = spec.entity_key.type
        self.checks = self._accept([warehouse.check_source(src, d, key_type) for src in spec.sources])
        say(_preflight_line(self.checks, report))

    def extract_load(self, load: _Load) -> LoadResult:
        return self._load_checked(load, self.checks)

    def known(self) -> list[SourceCheck]:
        return self.checks


class _ChecksAlongside(_Checks):
    """Optimistic: load as if no source repeated an ID while the checks run next to it, on connections
    of their own; the rare source with duplicates is loaded again, deduplicated."""

    def __init__(self, spec: RunSpec, d: dt.date, warehouse: Warehouse, report: RunReport,
                 say: Callable[[str], None]) -> None:
        super().__init__(spec, d, warehouse, report, say)
        self.pending = warehouse.check_sources_in_background(list(spec.sources), d, spec.entity_key.type)
        self.checks: list[SourceCheck] | None = None  # known: waited for before the load

    def known(self) -> list[SourceCheck]:
        if self.checks is None:
            self.checks = self._accept(self.pending())
            self.say(_preflight_line(self.checks, self.report))
        return self.checks

    def known_yet(self) -> list[SourceCheck] | None:
        return self.checks

    def extract_load(self, load: _Load) -> LoadResult:
        if self.checks is not None:  # waited for already: no optimism left to try
            return self._load_checked(load, self.checks)
        result: LoadResult | None
        try:
            # Stopped as soon as a check finds a duplicate ID: the rest of it would be
            # loaded only to be dropped (3 sources with duplicates: 0.5 of the reference).
            result = load.run(None, stop=self.pending.spoil_the_load)
        except Exception:
            # A missing source or partition says so clearly through its check.
            checks = self._accept(self.pending())
            if not self.report.duplicates_replaced:
                raise
            result = None
        else:
            checks = self._accept(self.pending())
        self.say(_preflight_line(checks, self.report))
        if result is None or self.report.duplicates_replaced:
            return load.again(checks)
        return result


def _repeating(checks: list[SourceCheck]) -> frozenset[int]:
    """The sources (by position) whose check found duplicate IDs: the extract deduplicates them."""
    return frozenset(i for i, c in enumerate(checks) if c.duplicates)


def _check_path(warehouse: Warehouse) -> type[_Checks]:
    """Checks beside the load where the warehouse's reader says they are worth a second connection."""
    return _ChecksAlongside if warehouse.checks_alongside_load else _ChecksBefore


def _accept_sources(spec: RunSpec, d: dt.date, checks: list[SourceCheck], report: RunReport) -> list[SourceCheck]:
    """Record the source checks; refuse a data date some source has no rows for."""
    report.sources = [vars(c) for c in checks]
    empty = [c for c in checks if c.rows == 0]
    if empty and not spec.gates.allow_empty:
        what = ", ".join(f"{c.table}" + (f" partition {c.partition}" if c.partition else "") for c in empty)
        raise SourceNotReady(f"no rows for data date {d.isoformat()} in {what} (partition missing or not "
                             "produced yet); the target is untouched", [waiting_for(c) for c in empty])
    report.duplicates_replaced = sum(c.duplicates for c in checks)
    return checks


def _preflight_line(checks: list[SourceCheck], report: RunReport) -> str:
    return (f"preflight ok: sources {', '.join(f'{c.table}={c.rows}' for c in checks)}; "
            f"{report.duplicates_replaced} duplicate IDs")


@contextlib.contextmanager
def _ended(stream: Iterator[T]) -> Iterator[Iterator[T]]:
    """``stream``, closed when the block ends (a generator's ``finally`` runs now, not at GC)."""
    try:
        yield stream
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


class _LoadSpoiled(Exception):
    """The optimistic load stops: a source check beside it failed or found duplicate IDs."""


def _until(stream: Iterator[T], stop: Callable[[], bool]) -> Iterator[T]:
    """``stream`` until ``stop()`` says the rest is wasted; then the load fails with _LoadSpoiled and
    the runner takes the checks' verdict (reload deduplicated, or the check's own error)."""
    for item in stream:
        yield item  # the first always goes: a target's own failure on it stays its own (and testable)
        if stop():
            raise _LoadSpoiled()


def _extracting(stream: Iterator[T]) -> Iterator[T]:
    """``stream``, with the ``extract`` fault point after its first item (the warehouse statement
    streaming, the target's load open)."""
    first = True
    for item in stream:
        if first:
            faults.checkpoint("extract")
            first = False
        yield item


def _counting(batches: Iterator[list[Any]], report: RunReport) -> Iterator[list[Any]]:
    for batch in batches:
        report.rows_read += len(batch)
        yield batch
