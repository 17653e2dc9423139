"""What `tagoffline run` costs beyond the run itself, against `airflow version`, in the same run (issue 21).

Setup: `tagoffline demo --home TMP --users 1000 --date DAY` (embedded: SQLite catalog store, DuckDB
warehouse, SQLite target, connections as AIRFLOW_CONN_* variables; no Airflow metadata database),
then the environment its `env.sh` gives another shell. Then ROUNDS interleaved rounds, after one
warm-up round (compiled bytecode, airflow.cfg written), each starting in a fresh process:

- `airflow version`: the reference, Airflow's lightest command (`import airflow` and little else);
- `tagoffline run crm_user_tags --date DAY --json`: the whole command, as a user runs it, each
  round exporting DAY again. Its startup cost is its wall time less the run's own time, the
  report's ``total_seconds`` (lock, preflight, extract and load, gates, swap).

Each command is timed on the wall clock and in CPU seconds (user + system of the child); on a machine
other work loads, CPU is the steadier figure. The run's CPU is the whole command's (its own part is not
reported separately), so its CPU ratio is an upper bound. Prints the medians and, last, the ratio the
issue asks for: run's startup / `airflow version` (≤ 1 wanted). With --importtime it also prints the
imports each command makes directly that cost most (``python -X importtime``).

    .venv/bin/python bench/bench_startup.py [ROUNDS] [--importtime]

The commands are those of the virtualenv whose Python runs this script: to measure another checkout (a
"before" figure), run the script with that checkout's ``.venv/bin/python`` (an editable install's finder
comes before PYTHONPATH, so PYTHONPATH does not switch the package).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SERVICE = "crm_user_tags"  # the demo's service
DAY = "2026-11-23"  # the data date the demo exports, and each run here again
USERS = 1000


def demo_env(home: Path) -> dict[str, str]:
    """`tagoffline demo` in ``home``, then the environment of a shell that sourced its env.sh."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_HOME"))}
    proc = subprocess.run([str(BIN / "tagoffline"), "demo", "--home", str(home), "--users", str(USERS),
                           "--date", DAY, "--json"], capture_output=True, text=True, env=base, timeout=600, cwd=home)
    if proc.returncode != 0:
        raise SystemExit(f"tagoffline demo failed:\n{proc.stderr[-3000:]}")
    env = dict(base)
    for line in (home / "env.sh").read_text().splitlines():  # export NAME='value' (shlex-quoted)
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value[1:-1] if value.startswith("'") else value
    return env


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, cwd=cwd)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed:\n{proc.stderr[-3000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stdout


def top_imports(argv: list[str], env: dict[str, str], cwd: Path, count: int = 6) -> tuple[float, list[str]]:
    """Total import time and the costliest imports made directly by the command (depth 0), each ≥ 3% of it."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, env=env,
                          timeout=600, cwd=cwd)
    direct = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            if not name.startswith("  "):  # nesting is indented by two spaces per level
                direct.append((name.strip(), int(cumulative) / 1e6))
    direct.sort(key=lambda item: -item[1])
    total = sum(seconds for _, seconds in direct)
    return total, [f"{name} {seconds:.2f}" for name, seconds in direct[:count] if seconds >= 0.03 * total]


def main(rounds: int, importtime: bool) -> None:
    home = Path(tempfile.mkdtemp(prefix="tagoffline-bench-startup-"))
    try:
        env = demo_env(home)
        airflow = [str(BIN / "airflow"), "version"]
        run = [str(BIN / "tagoffline"), "run", SERVICE, "--date", DAY, "--json"]
        timed(airflow, env, home)  # warm-up
        timed(run, env, home)
        ref_wall: list[float] = []
        ref_cpu: list[float] = []
        run_wall: list[float] = []
        run_cpu: list[float] = []
        run_own: list[float] = []
        for _ in range(rounds):
            wall, cpu, _out = timed(airflow, env, home)
            ref_wall.append(wall)
            ref_cpu.append(cpu)
            wall, cpu, out = timed(run, env, home)
            report = json.loads(out)
            assert report["status"] == "success" and report["rows_written"] == USERS, report
            run_wall.append(wall)
            run_cpu.append(cpu)
            run_own.append(float(report["total_seconds"]))
        startup = [wall - own for wall, own in zip(run_wall, run_own, strict=True)]
        med = statistics.median
        print(f"{rounds} rounds, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
        print(f"{'command':<44} {'wall':>7} {'range':>13} {'CPU':>7}")

        def row(label: str, values: list[float], cpu: list[float] | None = None) -> None:
            spread = f"{min(values):>5.2f}–{max(values):.2f}s" if len(values) > 1 else ""
            print(f"{label:<44} {med(values):>6.2f}s {spread:>13} " + (f"{med(cpu):>6.2f}s" if cpu else ""))

        row("airflow version", ref_wall, ref_cpu)
        row("tagoffline run (whole command)", run_wall, run_cpu)
        row("  the run itself (report total_seconds)", run_own)
        row("  startup: whole command less the run", startup)
        print(f"CPU: tagoffline run (whole) / airflow version: {med(run_cpu) / med(ref_cpu):.2f}")
        if importtime:
            for label, argv in (("airflow version", airflow), ("tagoffline run", run)):
                total, top = top_imports(argv, env, home)
                print(f"{label}: imports {total:.2f} s; costliest: {', '.join(top)}")
        print(f"\ntagoffline run startup / airflow version: {med(startup) / med(ref_wall):.2f} (≤ 1 wanted)")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    numbers = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(numbers[0]) if numbers else 7, "--importtime" in flags)
