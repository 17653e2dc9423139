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

Where the warehouse keeps a snapshot of the service's last write (its connection's ``tagoffline_scratch``,
engine/snapshots.py), ``through_snapshot`` diffs there instead and only the changed rows cross the network:

    the snapshot trusted? (the table's record names the snapshot's write, the output columns are the
    snapshot's, the table's digest is the record's) → a look at the first 10,000 extract rows → the diff
    into the warehouse's pending change set → gates → the change set into a temporary table of the target
    → ONE transaction: delete, update, insert, the record (data date, a new write id, the digest updated
    from the changed rows alone) → the pending set promoted into the snapshot

Any answer "no" swaps the whole table instead: its stage loaded from the next snapshot, its record with the
stage's digest, that snapshot adopted after (``adopted``) — or, when most rows changed, a plain swap that
keeps no snapshot.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from airflow_provider_tagoffline.engine import faults, gates
from airflow_provider_tagoffline.engine.extract import Query
from airflow_provider_tagoffline.engine.report import RunReport
from airflow_provider_tagoffline.engine.snapshots import Snapshots, SnapshotState
from airflow_provider_tagoffline.engine.targets import Target
from airflow_provider_tagoffline.engine.targets.base import LoadResult, TableStats
from airflow_provider_tagoffline.engine.targets.held import HeldRecord, TableDigest
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


def diffs_in_warehouse(spec: RunSpec) -> bool:
    """Whether a run of ``spec`` diffs in the warehouse when it keeps a snapshot there: a whole table in
    load mode ``changes`` (a partitioned target is refused at save)."""
    return spec.target.load == "changes" and spec.target.partition is None


def refusal(spec: RunSpec, target: Target) -> str | None:
    """Preflight: why this target cannot take a ``changes`` run (None: it can, or the service overwrites)."""
    refused = target.changes_refused() if spec.target.load == "changes" else None
    return f"target.load is changes, but {refused}; use overwrite" if refused else None


def applied(spec: RunSpec, target: Target, report: RunReport, recorded: bool, record: Callable[[], HeldRecord],
            say: Callable[[str], None], swap_because: str | None = None) -> bool:
    """Where the runner would swap: write only the changes and drop the stage (True), or leave the stage ready
    for the swap, saying why (False). Fails with RunFailed, the live table untouched and the stage dropped,
    when ``max_change_ratio`` refuses the change set. ``recorded``: the table records a data date (as the
    preflight read it, under the run lock); ``record`` makes this run's record, when it is written;
    ``swap_because``: the warehouse-side diff already chose the swap, for this reason."""
    if spec.target.load != "changes":
        report.load_mode = "overwrite"
        return False
    if swap_because is not None:
        return _swap_instead(target, report, say, swap_because)
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
                                              lambda: _apply(target, key, columns, record))
    except BaseException:
        with contextlib.suppress(Exception):
            _drop_delta(target)
        with contextlib.suppress(Exception):
            target.run_in_tx(target.drop_sql(target.stage))
        raise
    faults.checkpoint("after_swap")
    _report(report, counts, changes, "changes (target-side diff)")
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
    target.delta_loaded(DELTA)
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


def previewed(spec: RunSpec, recorded: bool, changes: ChangeSet | None,
              swap_because: str | None = None) -> tuple[str, list[str]]:
    """What a preview says of the load mode: how the run would write (and the change set), and the gate the
    change set would fail; ``recorded``: the table records a data date; ``changes``: None when not compared;
    ``swap_because``: why the run would not trust the warehouse's snapshot (``snapshot_doubt``)."""
    if spec.target.load != "changes":
        return "overwrite", []
    if spec.target.partition is not None:
        return "overwrite (fallback: a partitioned target writes partition D)", []
    if not recorded:
        return "overwrite (fallback: first run: the table records no data date written by a run)", []
    if swap_because is not None:
        return f"overwrite (fallback: {swap_because})", []
    if changes is None:
        return "changes", []
    if changes.live_rows == 0:
        return "overwrite (fallback: the live table is empty)", []
    if changes.changed > SWITCH_RATIO * changes.live_rows:
        return (f"overwrite (fallback: {changes.changed} changed rows are more than {SWITCH_RATIO:.0%} of the "
                f"{changes.live_rows} live rows)", change_gate(spec, changes))
    return f"changes: {changes.describe()}", change_gate(spec, changes)


def _apply(target: Target, key: str, columns: list[str], record: Callable[[], HeldRecord],
           digest: TableDigest | None = None, check: Callable[[], None] = lambda: None,
           versions: tuple[TableDigest, TableDigest] | None = None) -> tuple[int | None, ...]:
    """One bounded transaction: delete, update, insert, ``check`` (RunFailed rolls it all back), the record —
    with ``digest`` (the table's before), the record carries it updated from the changed rows' old and new
    versions alone: ``versions`` (their digests, taken from the change set before the transaction), else read in
    the live table inside it. Row counts as the driver gives them."""
    delete, update, insert = target.changes_apply_sql(DELTA, key, columns)
    every = [key, *columns]
    counts: list[int | None] = []
    with target.bounded(target.dml_transaction()):
        target.run_statements(target.changes_settings_sql())
        removed = None
        if digest is not None:
            removed = versions[0] if versions else target.digest_of_changed_rows(DELTA, key, every, "ud")
        for i, sql in enumerate((delete, update, insert)):
            cur = target.execute(sql)
            counts.append(getattr(cur, "rowcount", None))
            cur.close()
            if i == 0:
                target.checkpoint("inside_swap")  # some rows written, the transaction open
        check()
        written = record()
        if digest is not None and removed is not None:
            added = versions[1] if versions else target.digest_of_changed_rows(DELTA, key, every, "ui")
            written = dataclasses.replace(written, digest=target.digest_after(digest, removed, added).text())
        target.run_statements(target.changes_record_sql(written))
    deleted, updated, inserted = counts
    return inserted, updated, deleted


# ---- the warehouse-side diff --------------------------------------------------------------------------

def new_write_id() -> str:
    """A write's own id: the snapshot and the table's record name it (an Airflow run id repeats when a task
    is cleared; this never does)."""
    return secrets.token_hex(8)


def signature(spec: RunSpec, booleans_as_int: bool) -> str:
    """What a snapshot's rows are, to compare with the run's: the key and the output columns with their
    types, and how booleans travel to this target (a snapshot of other columns cannot be diffed)."""
    return json.dumps([spec.target.key_column, spec.entity_key.type, [[o.column, o.type] for o in spec.outputs],
                       booleans_as_int], ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class SwapInstead:
    """Why a ``changes`` run with a warehouse snapshot swaps the whole table instead (nothing written yet)."""

    why: str
    #: the swap keeps a snapshot of what it writes, so that the next run can diff: not when it swaps because
    #: most rows changed (a table that changes whole every day would pay for a snapshot every day; the next
    #: run after such a day takes one)
    snapshot: bool = True


def through_snapshot(spec: RunSpec, target: Target, report: RunReport, snapshots: Snapshots,
                     found: HeldRecord | None, extract: Query, confirmed: Callable[[], Query | None], sig: str,
                     record: Callable[[], HeldRecord], load_delta: Callable[[Query, list[str]], LoadResult],
                     say: Callable[[str], None]) -> SwapInstead | None:
    """A ``changes`` run diffed in the warehouse against the snapshot of the table's last write: None when the
    changes are written (and the snapshot promoted), else why the run swaps the whole table instead (nothing
    written yet). ``found``: the table's record as the preflight read it; ``extract``: the one-pass extract,
    perhaps a guess made while the source checks run; ``confirmed``: after them, the extract to diff instead
    when the guess was wrong (None: it was right; it raises when a source is not ready); ``load_delta``: the
    run's load path, into the table ``Target.loading_into`` names, with these columns. RunFailed (nothing
    written) when a gate refuses the change set."""
    write_id = new_write_id()
    diffed = _diffed(spec, target, report, snapshots, found, extract, confirmed, sig, write_id, say)
    if isinstance(diffed, SwapInstead):
        return diffed
    changes, held = diffed
    try:
        with report.phase("gates"):
            report.gates_checked = gates.describe(spec.gates)
            # NULL ratios are counted on the table as it will be, inside the changes' transaction (_apply)
            stats = TableStats(rows=held.rows + changes.inserted - changes.deleted, nulls={})
            report.rows_written = stats.rows
            failed = gates.evaluate(spec.gates, spec, stats, held.rows) + change_gate(spec, changes)
            if failed:
                report.gates_failed += failed
                raise RunFailed("quality gate failed, the live table is untouched: " + "; ".join(report.gates_failed))
        if held.rows and changes.changed > SWITCH_RATIO * held.rows:
            snapshots.discard_pending()
            return SwapInstead(f"{changes.changed} changed rows are more than {SWITCH_RATIO:.0%} of the {held.rows} "
                               "live rows: the swap is cheaper", snapshot=False)
        written = _sent_and_applied(spec, target, report, snapshots, changes, held,
                                    lambda: dataclasses.replace(record(), write_id=write_id), load_delta)
    except BaseException:
        # Not committed: the change set is dropped (the next run would drop it too: the table names no such write)
        with contextlib.suppress(Exception):
            snapshots.discard_pending()
        raise
    faults.checkpoint("after_swap")
    with report.phase("promote"):
        try:
            snapshots.promote(write_id)
        except Exception as exc:  # the next run finds the table naming this write and promotes it then
            log.warning("the changes to %s are committed; the snapshot is promoted by the next run: %s",
                        target.display_name, exc)
    _report(report, written, changes, "changes (diffed in the warehouse)")
    return None


def _diffed(spec: RunSpec, target: Target, report: RunReport, snapshots: Snapshots, found: HeldRecord | None,
            extract: Query, confirmed: Callable[[], Query | None], sig: str, write_id: str,
            say: Callable[[str], None]) -> tuple[ChangeSet, TableDigest] | SwapInstead:
    """The trust check and the warehouse's diff: the change set (pending in the warehouse, tagged
    ``write_id``) and the table's digest as recorded and found, or why the run swaps instead."""
    key, columns = spec.target.key_column, [o.column for o in spec.outputs]
    with report.phase("trust"):
        state = _promoted_or_discarded(snapshots, found, say)
        held = TableDigest.parse(found.digest) if found is not None else None
        doubt = _doubt(found, held, state, sig)
        if doubt is not None:
            return SwapInstead(doubt)
        assert held is not None
        looked, different = snapshots.sample(extract, key, columns, SAMPLE_ROWS)
        if looked and different > SWITCH_RATIO * looked:
            return SwapInstead(f"{different} of the first {looked} rows are new or changed, more than "
                               f"{SWITCH_RATIO:.0%}: the swap is cheaper", snapshot=False)
    with report.phase("diff"):
        # The table's digest (a scan in the target) while the warehouse diffs: two servers, one wait.
        if target.digest_alongside:
            with ThreadPoolExecutor(1, thread_name_prefix="tagoffline-digest") as pool:
                digest = pool.submit(target.table_digest, target.live, [key, *columns])
                try:
                    counts = snapshots.diff(extract, key, columns, write_id)
                finally:
                    now = digest.result()  # the target's connection is the caller's again, whatever happened
        else:
            now = target.table_digest(target.live, [key, *columns])
            counts = snapshots.diff(extract, key, columns, write_id)
        if now != held:
            snapshots.discard_pending()
            return SwapInstead(_changed_outside(now, held))
        try:
            exact = confirmed()
        except BaseException:
            with contextlib.suppress(Exception):
                snapshots.discard_pending()
            raise
        if exact is not None:  # a source repeats an ID: the diff again, of the deduplicated extract
            say("a source repeats IDs: the diff again, of the deduplicated extract")
            counts = snapshots.diff(exact, key, columns, write_id)
    faults.checkpoint("after_diff")
    inserted, updated, deleted = counts.get("i", 0), counts.get("u", 0), counts.get("d", 0)
    changes = ChangeSet(inserted=inserted, updated=updated, deleted=deleted, unchanged=held.rows - updated - deleted)
    say(f"changes against the snapshot of the last write: {changes.describe()}")
    return changes, held


def _sent_and_applied(spec: RunSpec, target: Target, report: RunReport, snapshots: Snapshots, changes: ChangeSet,
                      held: TableDigest, record: Callable[[], HeldRecord],
                      load_delta: Callable[[Query, list[str]], LoadResult]) -> tuple[int | None, ...]:
    """The change set into the target's temporary table, then the changes' one transaction (its row counts)."""
    key, columns = spec.target.key_column, [o.column for o in spec.outputs]
    null_columns = gates.null_counted_columns(spec)

    def nulls_gate() -> None:
        if not null_columns:
            return
        failed = gates.evaluate(spec.gates, spec, target.stats(target.live, null_columns), None)
        if failed:
            report.gates_failed += failed
            raise RunFailed("quality gate failed, the changes are rolled back: " + "; ".join(failed))

    # the versions the changes replace travel with them where the target can hash them there (the snapshot
    # holds what the table holds: its digest was just checked): none of the changed rows is read in the table
    olds = target.digests_from_change_set(key, columns)
    try:
        with report.phase("extract_load"):
            target.prepare_changes()
            _drop_delta(target)
            target.run_statements([target.empty_delta_sql(DELTA, key, columns)])
            if changes.changed:  # else only the record changes (an empty load is no load: DuckDB's CSV)
                with target.loading_into(target.temp_ref(DELTA)):
                    result = load_delta(snapshots.pending_query(old_versions=olds),
                                        ["tagoffline_op", "tagoffline_key", *columns])
                report.load_method = result.method
            target.delta_loaded(DELTA)
            versions = ((target.change_set_digest(DELTA, key, columns, "o"),
                         target.change_set_digest(DELTA, key, columns, "ui")) if olds else None)
        report.rows_read = changes.changed
        faults.checkpoint("after_load")
        with report.phase("apply"):
            return target.with_lock_retries(f"the changes to {target.display_name}",
                                            lambda: _apply(target, key, columns, record, held, nulls_gate, versions))
    finally:
        with contextlib.suppress(Exception):
            _drop_delta(target)


def adopted(snapshots: Snapshots, spec: RunSpec, write_id: str, sig: str, say: Callable[[str], None]) -> None:
    """After a ``changes`` service swapped (recording ``write_id``) from the next snapshot's rows: that table
    becomes the snapshot. A failure only costs the next run a swap (the table's record then names a write the
    snapshot is not)."""
    try:
        snapshots.adopt_next(write_id, [o.column for o in spec.outputs], sig)
    except Exception as exc:
        log.warning("the snapshot of %s was not rebuilt; the next changes run swaps again: %s",
                    spec.service.name, exc)
        say(f"the warehouse snapshot was not rebuilt ({exc}); the next run swaps the whole table again")


def stage_stamp(target: Target, spec: RunSpec, write_id: str) -> Callable[[HeldRecord], HeldRecord]:
    """For a swap of a ``changes`` service with a snapshot: its record names the write and carries the digest
    of the stage it publishes (a scan of the stage, before the swap)."""
    columns = [spec.target.key_column, *(o.column for o in spec.outputs)]

    def stamp(record: HeldRecord) -> HeldRecord:
        return dataclasses.replace(record, write_id=write_id,
                                   digest=target.table_digest(target.stage, columns).text())
    return stamp


def _promoted_or_discarded(snapshots: Snapshots, found: HeldRecord | None, say: Callable[[str], None]) -> SnapshotState:
    """A change set left pending by a run that died: promoted when the table's record names its write (the
    target committed it), else discarded."""
    state = snapshots.state()
    if not state.pending_write_id:
        return state
    if _committed_pending(found, state):
        snapshots.promote(state.pending_write_id)
        say(f"promoted the change set of write {state.pending_write_id}: the table committed it, the run that "
            "wrote it ended before its snapshot did")
    else:
        snapshots.discard_pending()
    return snapshots.state()


def _committed_pending(found: HeldRecord | None, state: SnapshotState) -> bool:
    """Whether the change set pending in the snapshot is the write the table's record names: committed by the
    target, so the next run promotes it (any other pending set it discards)."""
    return bool(state.pending_write_id) and found is not None and found.write_id == state.pending_write_id


def snapshot_doubt(found: HeldRecord | None, state: SnapshotState, promoted_rows: int, sig: str,
                   now: Callable[[], TableDigest]) -> str | None:
    """Why a run would not trust the snapshot and swap instead (None: it would diff against it), as
    ``_promoted_or_discarded`` then ``_diffed`` decide, for a preview: ``state`` as stored (``Snapshots.peek``),
    ``promoted_rows`` its rows were its pending set promoted; ``now``: the table's digest, taken only when the
    rest agrees."""
    if _committed_pending(found, state):
        state = SnapshotState(state.pending_write_id, state.signature, promoted_rows, "")
    held = TableDigest.parse(found.digest) if found is not None else None
    doubt = _doubt(found, held, state, sig)
    if doubt is None and held is not None and (digest := now()) != held:
        doubt = _changed_outside(digest, held)
    return doubt


def _changed_outside(now: TableDigest, held: TableDigest) -> str:
    return (f"the table changed outside the service since its last write ({now.rows} rows, digest {now.total}; "
            f"the record says {held.rows} rows, digest {held.total})")


def _doubt(found: HeldRecord | None, held: TableDigest | None, state: SnapshotState, sig: str) -> str | None:
    """Why the snapshot cannot stand for the table's content (None: it can, if the digest agrees)."""
    if found is None or not found.write_id or held is None:
        return ("the table's last write took no snapshot (a first changes run, an overwrite, or a day when most "
                "rows changed)")
    if not state.write_id:
        return "the warehouse holds no snapshot of this service"
    if state.write_id != found.write_id:
        return (f"the warehouse's snapshot is of write {state.write_id}, the table holds write {found.write_id} "
                "(a restored backup, a lost snapshot, or another writer)")
    if state.signature != sig:
        return "the output columns or their types changed since the snapshot"
    if state.rows != held.rows:
        return f"the snapshot holds {state.rows} rows, the table's record {held.rows}"
    return None


def _report(report: RunReport, written: tuple[int | None, ...], changes: ChangeSet, mode: str) -> None:
    # The rows counted by the statements themselves, where the driver says (they ran under the lock).
    inserted, updated, deleted = (c if c is not None and c >= 0 else expected for c, expected in
                                  zip(written, (changes.inserted, changes.updated, changes.deleted), strict=True))
    report.rows_inserted, report.rows_updated, report.rows_deleted = inserted, updated, deleted
    report.rows_unchanged = changes.unchanged
    report.load_mode = mode


def _drop_delta(target: Target) -> None:
    target.run_statements([target.changes_drop_delta_sql(DELTA)])
