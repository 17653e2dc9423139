"""Load mode ``changes`` (docs/changes-mode.md), the shared conformance suite of a target family that
takes it: the table a changes run leaves equals what an overwrite run writes, the change set is counted
exactly, no change writes no row, the real change set meets ``max_change_ratio``, too many changes swap
instead, a kill at each phase leaves old or new content and the next run finishes, readers see the old
rows or the new ones, never a mix, and a row held by another session is waited for as long as the swap
would. A family runs it with ``class TestPostgresChanges(ChangesSuite): family = "postgres"`` in its
test module (tests/dialects/<family>/)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.engine import changes, faults
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runs import preview, run_export
from airflow_provider_tagoffline.runspec import RunSpec
from tests.engine.fault_kit import LiveReader, leftovers
from tests.run_data import D_PREV, EXPECTED_D, D, LiveTarget, make_spec
from tests.run_data import target_content as content


def changes_spec(t: LiveTarget, **kw: Any) -> RunSpec:
    spec = make_spec(t.kind, t.conn_id, **kw)
    return spec.model_copy(update={"target": spec.target.model_copy(update={"load": "changes"})})


def day_before(t: LiveTarget, spec: RunSpec) -> list[tuple[Any, ...]]:
    """The live table holding D_PREV, written by a first run (which swaps: nothing recorded yet)."""
    t.execute(*create_table_sql(spec, t.kind))
    first = run_export(spec, D_PREV)
    assert first.load_mode == "overwrite (fallback: first run: the table records no data date written by a run)"
    return content(t)


def row_versions(t: LiveTarget) -> list[tuple[Any, ...]]:
    """Each row's physical version where the engine shows it (PostgreSQL xmin, SQLite rowid)."""
    if t.kind == "postgres":
        return t.rows("SELECT user_id, xmin::text FROM user_tags ORDER BY user_id")
    if t.kind == "sqlite":
        return t.rows("SELECT user_id, rowid FROM user_tags ORDER BY user_id")
    return []


def killed_then_finished(t: LiveTarget, spec: RunSpec, phases: tuple[str, ...], old: list[tuple[Any, ...]],
                         tmp_path: Path, mode: str) -> None:
    """For each phase: a changes run of D SIGKILLed there leaves the old content (or D, once committed), the
    next run writes D in load mode ``mode`` and leaves nothing behind, and a run of D_PREV brings the old back."""
    for phase in phases:
        killed_at(spec, phase, D, tmp_path)
        assert content(t) == (EXPECTED_D if phase == "after_swap" else old), f"killed at {phase}"
        report = run_export(spec, D)
        assert report.load_mode == mode, f"after a kill at {phase}: {report.load_mode}"
        assert content(t) == EXPECTED_D and leftovers(t) == []
        back = run_export(spec, D_PREV, allow_older=True)
        assert back.load_mode == mode and content(t) == old, f"after a kill at {phase}"


def killed_at(spec: RunSpec, phase: str, day: dt.date, tmp_path: Path) -> None:
    """A changes run of ``day`` in a process of its own, SIGKILLed at checkpoint ``phase`` (engine/faults.py)."""
    env = dict(os.environ, TOT_SPEC=spec.to_json(), TMPDIR=str(tmp_path), **{faults.ENV: phase})
    proc = subprocess.run([sys.executable, "-c", RUN, day.isoformat()], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, f"the run was not killed at {phase}: {proc.stderr[-800:]}"


RUN = ("import json, os, sys; from airflow_provider_tagoffline.engine import changes; changes.SWITCH_RATIO = 1.0; "
       "from airflow_provider_tagoffline.runs import run_export; "
       "run_export(json.loads(os.environ['TOT_SPEC']), sys.argv[1])")


@pytest.mark.usefixtures("warehouse_env")
class ChangesSuite:
    """Load mode ``changes`` on one family's live target (``family``, as in TargetSuite)."""

    family: ClassVar[str]
    #: another connection of the test's process can read the table while the run writes (DuckDB: no, one
    #: process holds the file)
    concurrent_readers: ClassVar[bool] = True
    #: a session can hold a row the run changes (row locks: PostgreSQL, InnoDB) rather than the whole file
    row_locks: ClassVar[bool] = False

    @pytest.fixture
    def every_change_written(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A test table of 7 rows: a few changes are a large share of it; keep the changes path anyway."""
        monkeypatch.setattr(changes, "SWITCH_RATIO", 1.0)

    def test_changes_write_what_overwrite_writes(self, live_target: LiveTarget,
                                                 every_change_written: None) -> None:
        spec = changes_spec(live_target)
        day_before(live_target, spec)
        # changed outside the service too: the target-side diff compares with what the table holds
        live_target.execute("DELETE FROM user_tags WHERE user_id = 5",
                            "INSERT INTO user_tags (user_id, nick) VALUES (999, 'stale row')")

        report = run_export(spec, D)
        assert content(live_target) == EXPECTED_D  # what test_run_targets' overwrite writes, row for row
        assert report.load_mode == "changes (target-side diff)"
        # 5 back, 999 gone, 1 changed (its level), the other 5 as they were
        assert (report.rows_inserted, report.rows_updated, report.rows_deleted, report.rows_unchanged) == (1, 1, 1, 5)
        assert "load mode changes (target-side diff): 1 inserted, 1 updated, 1 deleted, 5 unchanged" in report.summary()
        assert leftovers(live_target) == []

        # the same date again: nothing to write but the record, which says D
        versions = row_versions(live_target)
        again = run_export(spec, D)
        assert again.held_before == D.isoformat()
        assert (again.rows_inserted, again.rows_updated, again.rows_deleted, again.rows_unchanged) == (0, 0, 0, 7)
        assert content(live_target) == EXPECTED_D
        assert row_versions(live_target) == versions  # no row rewritten
        assert run_export(spec, D).held_before == D.isoformat()

    def test_max_change_ratio_compares_the_real_change_set(self, live_target: LiveTarget) -> None:
        spec = changes_spec(live_target, gates={"max_change_ratio": 0.1})
        old = day_before(live_target, spec)
        # 7 rows before and after (a row-count gate sees 0%), but 1 of the 7 changes: 14%
        with pytest.raises(RunFailed, match=r"quality gate failed, the live table is untouched: 1 rows change "
                                            r"\(0 inserted, 1 updated, 0 deleted, 6 unchanged\) of 7 live rows "
                                            r"\(14.3%\), more than gates.max_change_ratio = 10.0%"):
            run_export(spec, D)
        assert content(live_target) == old and leftovers(live_target) == []

    def test_too_many_changes_swap_instead(self, live_target: LiveTarget, monkeypatch: pytest.MonkeyPatch) -> None:
        spec = changes_spec(live_target)
        day_before(live_target, spec)
        live_target.execute("DELETE FROM user_tags WHERE user_id < 6")
        report = run_export(spec, D)
        # seen in the first rows loaded, before the whole diff: 5 of the 7 are not in the live table
        assert report.load_mode == ("overwrite (fallback: 5 of the first 7 rows loaded are new or changed, more than "
                                    "50%: the swap is cheaper)")
        assert report.rows_inserted is None and "swap" in report.phases
        assert content(live_target) == EXPECTED_D and leftovers(live_target) == []
        live_target.execute("DELETE FROM user_tags WHERE user_id IN (1, 2, 3)")
        monkeypatch.setattr(changes, "SAMPLE_ROWS", 0)  # no look at the first rows: the whole diff decides
        report = run_export(spec, D)
        assert report.load_mode == ("overwrite (fallback: 3 changed rows are more than 50% of the 4 live rows: the "
                                    "swap is cheaper)")
        assert content(live_target) == EXPECTED_D and leftovers(live_target) == []
        if live_target.kind == "postgres":  # the UNLOGGED stage was made a logged table before it went live
            assert live_target.rows("SELECT relpersistence FROM pg_class WHERE relname = 'user_tags'") == [("p",)]
            assert live_target.rows("SELECT count(*) FROM pg_indexes WHERE tablename = 'user_tags'") == [(1,)]

    @pytest.mark.slow
    def test_kill_at_every_phase_then_the_next_run_finishes(self, live_target: LiveTarget, tmp_path: Path,
                                                           every_change_written: None) -> None:
        spec = changes_spec(live_target)
        old = day_before(live_target, spec)
        run_export(spec, D)  # the record written by a changes run too
        run_export(spec, D_PREV, allow_older=True)
        assert content(live_target) == old
        killed_then_finished(live_target, spec, faults.PHASES, old, tmp_path, "changes (target-side diff)")

    def test_readers_see_old_or_new_never_a_mix(self, live_target: LiveTarget,
                                                every_change_written: None) -> None:
        if not self.concurrent_readers:
            pytest.skip("a reader in another connection of this process cannot share the file with the run's")
        spec = changes_spec(live_target)
        old = day_before(live_target, spec)
        reader = LiveReader(live_target.connect)
        with reader.polling():
            for day in (D, D_PREV, D, D_PREV, D):
                report = run_export(spec, day, allow_older=True)
                assert report.load_mode == "changes (target-side diff)"
        reader.assert_whole(old, EXPECTED_D)
        assert reader.failures == [] and len(reader.answers) >= 2

    def test_preview_shows_the_change_set_the_run_writes(self, live_target: LiveTarget,
                                                         every_change_written: None) -> None:
        spec = changes_spec(live_target)
        live_target.execute(*create_table_sql(spec, live_target.kind))
        first = preview(spec, D_PREV)
        assert first.load_mode == "overwrite (fallback: first run: the table records no data date written by a run)"
        run_export(spec, D_PREV)
        live_target.execute("DELETE FROM user_tags WHERE user_id = 5",
                            "INSERT INTO user_tags (user_id, nick) VALUES (999, 'stale row')")
        p = preview(spec, D)
        assert p.load_mode == "changes: 1 inserted, 1 updated, 1 deleted, 5 unchanged"
        assert "  load mode changes: 1 inserted, 1 updated, 1 deleted, 5 unchanged" in p.summary()
        report = run_export(spec, D)
        assert (report.rows_inserted, report.rows_updated, report.rows_deleted, report.rows_unchanged) == (1, 1, 1, 5)

    def test_row_locks_wait_as_long_as_the_swap_would(self, live_target: LiveTarget,
                                                      every_change_written: None) -> None:
        """A session holding a row the run changes: the changes' transaction waits at most 1.5 s a try, up to
        target.wait_for_lock, then gives up naming it; the live table untouched, nothing left behind."""
        if not self.row_locks:
            pytest.skip("the family locks the whole file, not rows: its lock waits are TargetSuite's")
        spec = changes_spec(live_target)
        old = day_before(live_target, spec)
        patient = spec.model_copy(update={"target": spec.target.model_copy(update={"wait_for_lock": 3})})
        holder = live_target.connect()
        if callable(getattr(holder, "autocommit", None)):
            holder.autocommit(False)  # PyMySQL
        else:
            holder.autocommit = False
        try:
            cur = holder.cursor()
            cur.execute("UPDATE user_tags SET nick = nick WHERE user_id = 1")  # user 1 changes from D_PREV to D
            with pytest.raises(RunFailed, match=r"^the changes to user_tags gave up: other sessions held the table for "
                                                r"the whole wait_for_lock of 3s .*the target is untouched"):
                run_export(patient, D)
        finally:
            holder.rollback()
            holder.close()
        assert content(live_target) == old and leftovers(live_target) == []
        assert run_export(patient, D).load_mode == "changes (target-side diff)"
        assert content(live_target) == EXPECTED_D
