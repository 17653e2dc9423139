"""Load mode ``changes``: only the rows that differ reach the live table, in one transaction
(docs/changes-mode.md). Built: the design's *target-side diff* — it needs no snapshot and no trust check,
so it is correct on its own:

    the stage loaded as for a swap (PostgreSQL: UNLOGGED, no WAL) → gates → the diff into a temporary
    table of the target's session (entity ID, what to do, the new values) → ``max_change_ratio`` on the real
    change set → too many changes, an empty table or a first run: the swap → ONE transaction: delete the IDs
    gone, update the rows that differ (NULL-safe, over every mapped column), insert the new IDs, write the
    data date's record → drop the stage

The runner calls ``refusal`` in its preflight and ``applied`` where it would swap. The SQL is the family's
(``Target.changes_*``); this module only sequences it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from airflow_provider_tagoffline.engine import faults
from airflow_provider_tagoffline.engine.report import RunReport
from airflow_provider_tagoffline.engine.targets import Target
from airflow_provider_tagoffline.engine.targets.held import HeldRecord
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runspec import RunSpec

log = logging.getLogger(__name__)

#: changed rows (inserted + updated + deleted) / live rows above which the run swaps instead: a set of row
#: writes that large costs more than rewriting the table (docs/changes-mode.md §2.4, bench/bench_changes.py)
SWITCH_RATIO = 0.5

#: stage rows looked up in the live table before the whole diff: when more than SWITCH_RATIO of them are new or
#: different, the run swaps without paying for the diff (a day when every row changed)
SAMPLE_ROWS = 10_000

#: the temporary table holding the diff, in the run's own session (no WAL / binlog, gone with the session)
DELTA = "tagoffline_delta"


@dataclass(frozen=True)
class ChangeSet:
    inserted: int
    updated: int
    deleted: int
    unchanged: int

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted

    @property
    def live_rows(self) -> int:
        """Rows the live table holds now: all of them were compared."""
        return self.unchanged + self.updated + self.deleted

    def describe(self) -> str:
        return (f"{self.inserted} inserted, {self.updated} updated, {self.deleted} deleted, "
                f"{self.unchanged} unchanged")


def refusal(spec: RunSpec, target: Target) -> str | None:
    """Preflight: why this target cannot take a ``changes`` run (None: it can, or the service overwrites)."""
    refused = target.changes_refused() if spec.target.load == "changes" else None
    return f"target.load is changes, but {refused}; use overwrite" if refused else None


def applied(spec: RunSpec, target: Target, report: RunReport, recorded: bool, record: Callable[[], HeldRecord],
            say: Callable[[str], None]) -> bool:
    """Where the runner would swap: write only the changes and drop the stage (True), or leave the stage ready
    for the swap, saying why (False). Fails with RunFailed, the live table untouched and the stage dropped,
    when ``max_change_ratio`` refuses the change set. ``recorded``: the table records a data date (as the
    preflight read it, under the run lock); ``record`` makes this run's record, when it is written."""
    if spec.target.load != "changes":
        report.load_mode = "overwrite"
        return False
    if spec.target.partition is not None:  # refused at save; a spec frozen otherwise still runs safely
        return _swap_instead(target, report, say, "a partitioned target writes partition D")
    if not recorded:
        return _swap_instead(target, report, say, "first run: the table records no data date written by a run")
    key = spec.target.key_column
    columns = [o.column for o in spec.outputs]
    try:
        with report.phase("diff"):
            looked, different = _sample(target, key, columns)
        if looked and different > SWITCH_RATIO * looked:
            return _swap_instead(target, report, say, f"{different} of the first {looked} rows loaded are new or "
                                 f"changed, more than {SWITCH_RATIO:.0%}: the swap is cheaper")
        with report.phase("diff"):
            target.prepare_changes()
            changes = _diff(target, key, columns, report.rows_written)
        say(f"changes against the live table: {changes.describe()}")
        _gate(spec, report, changes)
        if changes.live_rows == 0:
            _drop_delta(target)
            return _swap_instead(target, report, say, "the live table is empty")
        if changes.changed > SWITCH_RATIO * changes.live_rows:
            _drop_delta(target)
            return _swap_instead(target, report, say, f"{changes.changed} changed rows are more than "
                                 f"{SWITCH_RATIO:.0%} of the {changes.live_rows} live rows: the swap is cheaper")
        with report.phase("apply"):
            counts = target.with_lock_retries(f"the changes to {target.display_name}",
                                              lambda: _apply(target, key, columns, record()))
    except BaseException:
        with contextlib.suppress(Exception):
            _drop_delta(target)
        with contextlib.suppress(Exception):
            target.run_in_tx(target.drop_sql(target.stage))
        raise
    faults.checkpoint("after_swap")
    # The rows counted by the statements themselves, where the driver says (they ran under the lock).
    inserted, updated, deleted = (c if c is not None and c >= 0 else expected for c, expected in
                                  zip(counts, (changes.inserted, changes.updated, changes.deleted), strict=True))
    report.rows_inserted, report.rows_updated, report.rows_deleted = inserted, updated, deleted
    report.rows_unchanged = changes.unchanged
    report.load_mode = "changes (target-side diff)"
    for cleanup in (_drop_delta, lambda t: t.run_in_tx(t.drop_sql(t.stage))):
        try:
            cleanup(target)
        except Exception as exc:  # the changes are committed: a leftover stage is the next run's to drop
            log.warning("the changes to %s are committed; cleanup left for the next run: %s",
                        target.display_name, exc)
    return True


def _swap_instead(target: Target, report: RunReport, say: Callable[[str], None], why: str) -> bool:
    report.load_mode = f"overwrite (fallback: {why})"
    say(f"load mode changes: swapping the whole table instead ({why})")
    with report.phase("index"):
        target.stage_for_swap()
    return False


def _sample(target: Target, key: str, columns: list[str]) -> tuple[int, int]:
    ((looked, different),) = target.rows(target.changes_sample_sql(key, columns, SAMPLE_ROWS))
    return int(looked), int(different)


def _diff(target: Target, key: str, columns: list[str], stage_rows: int) -> ChangeSet:
    _drop_delta(target)  # a failed attempt earlier in this session
    with target.transaction():
        target.run_statements([target.changes_delta_sql(DELTA, key, columns)])
    by_op = {str(op): int(n) for op, n in target.rows(target.changes_count_sql(DELTA))}
    inserted, updated, deleted = by_op.get("i", 0), by_op.get("u", 0), by_op.get("d", 0)
    return ChangeSet(inserted=inserted, updated=updated, deleted=deleted,
                     unchanged=stage_rows - inserted - updated)


def change_gate(spec: RunSpec, changes: ChangeSet) -> list[str]:
    """``max_change_ratio`` against the real change set (a row-count change is only a lower bound of it)."""
    limit = spec.gates.max_change_ratio
    if limit is None or not changes.live_rows:
        return []
    ratio = changes.changed / changes.live_rows
    if ratio <= limit:
        return []
    return [f"{changes.changed} rows change ({changes.describe()}) of {changes.live_rows} live rows ({ratio:.1%}), "
            f"more than gates.max_change_ratio = {limit:.1%}"]


def _gate(spec: RunSpec, report: RunReport, changes: ChangeSet) -> None:
    failed = change_gate(spec, changes)
    if failed:
        report.gates_failed += failed
        raise RunFailed("quality gate failed, the live table is untouched: " + "; ".join(report.gates_failed))


def previewed(spec: RunSpec, recorded: bool, changes: ChangeSet | None) -> tuple[str, list[str]]:
    """What a preview says of the load mode: how the run would write (and the change set), and the gate the
    change set would fail; ``recorded``: the table records a data date; ``changes``: None when not compared."""
    if spec.target.load != "changes":
        return "overwrite", []
    if spec.target.partition is not None:
        return "overwrite (fallback: a partitioned target writes partition D)", []
    if not recorded:
        return "overwrite (fallback: first run: the table records no data date written by a run)", []
    if changes is None:
        return "changes", []
    if changes.live_rows == 0:
        return "overwrite (fallback: the live table is empty)", []
    if changes.changed > SWITCH_RATIO * changes.live_rows:
        return (f"overwrite (fallback: {changes.changed} changed rows are more than {SWITCH_RATIO:.0%} of the "
                f"{changes.live_rows} live rows)", change_gate(spec, changes))
    return f"changes: {changes.describe()}", change_gate(spec, changes)


def _apply(target: Target, key: str, columns: list[str], record: HeldRecord) -> tuple[int | None, ...]:
    """One bounded transaction: delete, update, insert, the record. Row counts as the driver gives them."""
    delete, update, insert = target.changes_apply_sql(DELTA, key, columns)
    counts: list[int | None] = []
    with target.bounded(target.dml_transaction()):
        for i, sql in enumerate((delete, update, insert)):
            cur = target.execute(sql)
            counts.append(getattr(cur, "rowcount", None))
            cur.close()
            if i == 0:
                target.checkpoint("inside_swap")  # some rows written, the transaction open
        target.run_statements(target.changes_record_sql(record))
    deleted, updated, inserted = counts
    return inserted, updated, deleted


def _drop_delta(target: Target) -> None:
    target.run_statements([target.changes_drop_delta_sql(DELTA)])
