"""Crash tests (spec §6): the run process SIGKILLed at each phase, then the target is complete
(old or new, never half) and the next run recovers and succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from engine_data import D_PREV, EXPECTED_D, D, LiveTarget, make_spec
from engine_data import target_content as content

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.engine import faults
from airflow_provider_tagoffline.runs import run_export

pytestmark = [pytest.mark.postgres, pytest.mark.mysql, pytest.mark.slow]

RUN = "import os, sys; from airflow_provider_tagoffline.runs import run_export; " \
      "run_export(os.environ['TOT_SPEC'], sys.argv[1])"


def run_killed_at(phase: str, spec_json: str, day: str, tmp: str) -> int:
    # TMPDIR: the temp files a killed run cannot remove (pipes, spool files) stay in pytest's folder.
    env = dict(os.environ, TOT_SPEC=spec_json, TMPDIR=tmp, **{faults.ENV: phase})
    proc = subprocess.run([sys.executable, "-c", RUN.replace("os.environ['TOT_SPEC']",
                                                             "__import__('json').loads(os.environ['TOT_SPEC'])"),
                           day], env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode


def test_kill_at_every_phase_then_recover(live_target: LiveTarget, tmp_path: Path) -> None:
    spec = make_spec(live_target.kind, live_target.conn_id)
    live_target.execute(*create_table_sql(spec, live_target.kind))
    run_export(spec, D_PREV)
    old = content(live_target)
    assert old != EXPECTED_D

    for phase in faults.PHASES:
        rc = run_killed_at(phase, spec.to_json(), D.isoformat(), str(tmp_path))
        assert rc == -signal.SIGKILL, f"the run was not killed at {phase}"
        after_crash = content(live_target)
        if phase == "after_swap":
            assert after_crash == EXPECTED_D  # the swap committed before the kill
        elif phase == "inside_swap" and live_target.kind == "mysql":
            # MySQL's one RENAME TABLE statement already swapped; the kill left only the old copy.
            assert after_crash == EXPECTED_D
            assert "user_tags_dpfx_tmp" in live_target.tables()
        else:  # transactional swaps roll back
            assert after_crash == old, f"killed at {phase}: the live table changed"
        # The next run recovers the leftovers and succeeds.
        report = run_export(spec, D)
        assert content(live_target) == EXPECTED_D
        assert not [n for n in live_target.tables() if "_dpfx_" in n]
        if phase in ("during_load", "after_load"):
            assert any("_dpfx_b" in a for a in report.recovery), report.recovery
        run_export(spec, D_PREV, allow_older=True)  # back to the old data for the next phase
        assert content(live_target) == old
