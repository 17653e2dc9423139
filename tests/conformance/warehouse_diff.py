"""Load mode ``changes`` diffed in the warehouse (docs/changes-mode.md §1–2): the warehouse connection names a
scratch place (``tagoffline_scratch``), the run keeps there a snapshot of its last write and sends the target
only the rows that changed. The shared conformance suite of a target family that takes ``changes``: the same
table as an overwrite, exact counts, no row rewritten when nothing changed, a table changed outside the
service (or a lost snapshot) swapped whole and said why, a kill -9 at each phase of such a run left with the
old or the new content and finished by the next run, readers never see a mix. A family runs it with
``class TestPostgresWarehouseDiff(WarehouseDiffSuite): family = "postgres"`` (tests/dialects/<family>/).

The warehouse is the session's DuckDB file (tests/run_data.py) with a scratch file of the test's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from airflow_provider_tagoffline.engine import changes, faults
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runs import preview, run_export
from tests.conformance.changes import changes_spec, killed_at, killed_then_finished, row_versions
from tests.engine.fault_kit import LiveReader, leftovers
from tests.run_data import D_PREV, EXPECTED_D, D, LiveTarget
from tests.run_data import target_content as content

DIFFED = "changes (diffed in the warehouse)"


class WarehouseDiffSuite:
    """Load mode ``changes`` with a warehouse snapshot, on one family's live target (``family``)."""

    family: ClassVar[str]
    #: another connection of the test's process can read the table while the run writes (not DuckDB)
    concurrent_readers: ClassVar[bool] = True

    @pytest.fixture
    def scratch(self, duckdb_warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        """The session's warehouse, its connection naming a scratch file of this test; the changes path kept
        on a 7-row table (a few changes are a large share of it)."""
        path = tmp_path / "scratch.duckdb"
        monkeypatch.setenv("AIRFLOW_CONN_TOT_WAREHOUSE", json.dumps(
            {"conn_type": "duckdb", "host": duckdb_warehouse, "extra": {"tagoffline_scratch": str(path)}}))
        monkeypatch.setattr(changes, "SWITCH_RATIO", 1.0)
        return path

    def first_write(self, t: LiveTarget, spec: Any) -> list[tuple[Any, ...]]:
        """D_PREV written by the service's first run: a swap that records its digest and takes the snapshot."""
        from airflow_provider_tagoffline.create_table import create_table_sql

        t.execute(*create_table_sql(spec, t.kind))
        first = run_export(spec, D_PREV)
        assert first.load_mode.startswith("overwrite (fallback: the table's last write took no snapshot"), \
            first.load_mode
        return content(t)

    def test_only_the_changes_are_written_and_the_table_equals_an_overwrite(self, live_target: LiveTarget,
                                                                           scratch: Path) -> None:
        spec = changes_spec(live_target)
        self.first_write(live_target, spec)
        report = run_export(spec, D)
        assert report.load_mode == DIFFED, report.error
        assert content(live_target) == EXPECTED_D  # what an overwrite writes, row for row
        # D_PREV -> D in run_data: 1 user's level changed, 6 as they were
        counts = (report.rows_inserted, report.rows_updated, report.rows_deleted, report.rows_unchanged)
        assert counts == (0, 1, 0, 6), counts
        assert report.rows_read == 1  # only the change set crossed the network
        assert {"trust", "diff", "apply", "promote"} <= set(report.phases)
        assert leftovers(live_target) == []

        versions = row_versions(live_target)
        again = run_export(spec, D)
        assert again.load_mode == DIFFED
        assert (again.rows_inserted, again.rows_updated, again.rows_deleted, again.rows_unchanged) == (0, 0, 0, 7)
        assert row_versions(live_target) == versions  # no row rewritten
        assert again.held_before == D.isoformat()
        back = run_export(spec, D_PREV, allow_older=True)
        assert back.load_mode == DIFFED and (back.rows_inserted, back.rows_updated, back.rows_deleted) == (0, 1, 0)

    def test_a_table_changed_outside_the_service_is_swapped_whole(self, live_target: LiveTarget,
                                                                  scratch: Path) -> None:
        spec = changes_spec(live_target)
        self.first_write(live_target, spec)
        live_target.execute("UPDATE user_tags SET nick = 'edited by hand' WHERE user_id = 3")
        report = run_export(spec, D)
        assert report.load_mode.startswith("overwrite (fallback: the table changed outside the service since its "
                                           "last write"), report.load_mode
        assert content(live_target) == EXPECTED_D and leftovers(live_target) == []
        # the swap recorded its digest and rebuilt the snapshot: the next run diffs again
        assert run_export(spec, D_PREV, allow_older=True).load_mode == DIFFED

    def test_a_lost_snapshot_is_rebuilt_by_a_swap(self, live_target: LiveTarget, scratch: Path) -> None:
        spec = changes_spec(live_target)
        self.first_write(live_target, spec)
        scratch.unlink()
        report = run_export(spec, D)
        assert report.load_mode == "overwrite (fallback: the warehouse holds no snapshot of this service)"
        assert content(live_target) == EXPECTED_D
        assert run_export(spec, D_PREV, allow_older=True).load_mode == DIFFED

    def test_the_preview_says_whether_the_run_would_trust_the_snapshot(self, live_target: LiveTarget,
                                                                       scratch: Path, tmp_path: Path) -> None:
        """The preview reads the snapshot's state and the table's digest as the run checks them (making and
        writing nothing): the load mode it shows is the one the run then reports, fallbacks and reasons alike."""
        spec = changes_spec(live_target)
        self.first_write(live_target, spec)
        assert preview(spec, D).load_mode == "changes: 0 inserted, 1 updated, 0 deleted, 6 unchanged"

        live_target.execute("UPDATE user_tags SET nick = 'edited by hand' WHERE user_id = 3")
        edited = preview(spec, D).load_mode
        assert edited.startswith("overwrite (fallback: the table changed outside the service since its last write"), \
            edited
        assert run_export(spec, D).load_mode == edited  # the same reason, the same digests
        assert preview(spec, D_PREV, allow_older=True).load_mode == \
            "changes: 0 inserted, 1 updated, 0 deleted, 6 unchanged"

        # killed after its commit, before its promotion: the next run promotes the change set, then trusts it
        killed_at(spec, "after_swap", D, tmp_path)
        assert preview(spec, D_PREV, allow_older=True).load_mode == \
            "changes: 0 inserted, 1 updated, 0 deleted, 6 unchanged"
        assert run_export(spec, D_PREV, allow_older=True).load_mode == DIFFED

        scratch.unlink()
        lost = preview(spec, D_PREV, allow_older=True)
        assert lost.load_mode.startswith("overwrite (fallback: the warehouse holds no snapshot of this service"), \
            lost.load_mode
        assert not scratch.exists()  # the preview made no scratch place
        assert lost.rows == len(EXPECTED_D) and lost.changes is not None  # the rest of the preview as before
        run = run_export(spec, D_PREV, allow_older=True)
        assert run.load_mode == "overwrite (fallback: the warehouse holds no snapshot of this service)"

    def test_a_day_when_most_rows_change_swaps_without_a_snapshot(self, live_target: LiveTarget, scratch: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
        spec = changes_spec(live_target)
        self.first_write(live_target, spec)
        monkeypatch.setattr(changes, "SWITCH_RATIO", 0.1)  # 1 changed row of 7 is "most" here
        report = run_export(spec, D)
        assert report.load_mode == ("overwrite (fallback: 1 of the first 7 rows are new or changed, more than 10%: "
                                    "the swap is cheaper)")
        assert "snapshot" not in report.phases and "diff" not in report.phases  # a plain swap, decided early
        assert content(live_target) == EXPECTED_D
        monkeypatch.setattr(changes, "SWITCH_RATIO", 1.0)
        after = run_export(spec, D_PREV, allow_older=True)  # the next run takes the snapshot again, with a swap
        assert after.load_mode.startswith("overwrite (fallback: the table's last write took no snapshot"), \
            after.load_mode
        assert "snapshot" in after.phases
        assert run_export(spec, D).load_mode == DIFFED
        assert content(live_target) == EXPECTED_D

    def test_gates_see_the_table_as_it_will_be(self, live_target: LiveTarget, scratch: Path) -> None:
        spec = changes_spec(live_target, gates={"max_change_ratio": 0.1})
        old = self.first_write(live_target, spec)
        # 7 rows before and after (a row-count gate sees 0%), but 1 of the 7 changes: 14%
        with pytest.raises(RunFailed, match=r"quality gate failed, the live table is untouched: 1 rows change "
                                            r"\(0 inserted, 1 updated, 0 deleted, 6 unchanged\) of 7 live rows"):
            run_export(spec, D)
        assert content(live_target) == old and leftovers(live_target) == []
        relaxed = changes_spec(live_target)
        assert run_export(relaxed, D).load_mode == DIFFED  # the refused change set was not kept
        assert content(live_target) == EXPECTED_D

    @pytest.mark.slow
    def test_kill_at_every_phase_then_the_next_run_finishes(self, live_target: LiveTarget, scratch: Path,
                                                           tmp_path: Path) -> None:
        spec = changes_spec(live_target)
        old = self.first_write(live_target, spec)
        assert run_export(spec, D).load_mode == DIFFED
        run_export(spec, D_PREV, allow_older=True)
        killed_then_finished(live_target, spec, faults.CHANGES_PHASES, old, tmp_path, DIFFED)

    def test_readers_see_old_or_new_never_a_mix(self, live_target: LiveTarget, scratch: Path) -> None:
        if not self.concurrent_readers:
            pytest.skip("a reader in another connection of this process cannot share the file with the run's")
        spec = changes_spec(live_target)
        old = self.first_write(live_target, spec)
        reader = LiveReader(live_target.connect)
        with reader.polling():
            for day in (D, D_PREV, D, D_PREV, D):
                assert run_export(spec, day, allow_older=True).load_mode == DIFFED
        reader.assert_whole(old, EXPECTED_D)
        assert reader.failures == [] and len(reader.answers) >= 2
