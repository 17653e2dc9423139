"""`tagoffline service plan`: the preview of a run, as a user runs it (subprocesses, the demo's files)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from command import demo_env, tagoffline


def test_plan_then_run(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    assert tagoffline("demo", "--home", str(home), "--users", "2000", "--date", "2026-11-23").returncode == 0
    env = demo_env(home)
    target = home / "target.db"
    before = hashlib.sha256(target.read_bytes()).hexdigest()

    # the demo's table holds 2026-11-23: a plan of the day before says the run would be refused ...
    refused = tagoffline("service", "plan", "crm_user_tags", "--date", "2026-11-22", env=env)
    assert refused.returncode == 1
    assert "holds data date 2026-11-23; data date 2026-11-22 is older and would roll it back" in refused.stderr
    # ... and, with --allow-older, what that run would write
    plan = tagoffline("service", "plan", "crm_user_tags", "--date", "2026-11-22", "--allow-older", "--sample", "3",
                      "--json", env=env)
    assert plan.returncode == 0, plan.stderr
    p = json.loads(plan.stdout)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before  # not a byte written
    assert p["target_exists"] and p["columns"] == [] and len(p["sample"]) == 3
    assert p["changes"]["live_rows"] == 2000 and p["changes"]["changed"] > 0

    run = tagoffline("run", "crm_user_tags", "--date", "2026-11-22", "--allow-older", "--json", env=env)
    assert run.returncode == 0, run.stderr
    r = json.loads(run.stdout)
    assert p["rows"] == r["rows_written"] and p["duplicates_replaced"] == r["duplicates_replaced"]
    assert p["sources"] == r["sources"]

    text = tagoffline("service", "plan", "crm_user_tags", "--date", "2026-11-22", env=env)  # now the date it holds
    assert text.returncode == 0, text.stderr
    assert "PREVIEW: crm_user_tags data date 2026-11-22 -> demo_target:user_tags" in text.stdout
    assert "added 0, removed 0, changed 0, unchanged 2000" in text.stdout
    assert "nothing was written" in text.stdout

    empty = tagoffline("service", "plan", "crm_user_tags", "--date", "2026-01-01", "--allow-older", env=env)
    assert empty.returncode == 1  # the run would fail: it says why, and still shows what it found
    assert "run would fail: no rows for data date 2026-01-01 in dws_user_profile_d" in empty.stdout
    assert empty.stderr.startswith("error: a run for data date 2026-01-01 would fail: no rows for data date")

    bad = tagoffline("service", "plan", "crm_user_tags", "--date", "22/11/2026", env=env)
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == ["error: --date: '22/11/2026' is not a date YYYY-MM-DD"]
