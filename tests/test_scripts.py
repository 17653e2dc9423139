"""The repository's scripts: ``scripts/test.sh --help`` says how to use it instead of running the pipeline."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_test_script_help_prints_usage_and_runs_nothing(flag: str) -> None:
    started = time.monotonic()
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "test.sh"), flag], capture_output=True, text=True,
                          timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: scripts/test.sh [PYTEST ARGS...]"), proc.stdout
    assert "installed into" not in proc.stdout and proc.stderr == ""  # scripts/install.sh did not run
    assert elapsed < 10, f"--help took {elapsed:.1f} s: it ran more than the usage"
