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
imports each command makes directly that cost most (``python -X importtime``). With --postgres the
demo's service is also pointed at a PostgreSQL target (a database of its own on the local server,
dropped at the end; the connection an AIRFLOW_CONN_* variable) and that run is timed the same way.

    .venv/bin/python -m bench.bench_startup [ROUNDS] [--importtime] [--postgres]

The commands are those of the virtualenv whose Python runs this script: to measure another checkout (a
"before" figure), run the script with that checkout's ``.venv/bin/python`` (an editable install's finder
comes before PYTHONPATH, so PYTHONPATH does not switch the package).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import costliest_imports, timed_command
from tests.live import pg_conn_json, pg_database

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


@contextmanager
def postgres_service(env: dict[str, str], home: Path) -> Iterator[dict[str, str]]:
    """The demo's service as ``crm_pg`` into a PostgreSQL database of its own (granted, created, run once so
    the table records its data date); yields the environment with its connection."""
    with pg_database("tagoffline_bench_startup") as name:
        env = {**env, "AIRFLOW_CONN_BENCH_PG": pg_conn_json(name)}

        def cli(*args: str) -> str:
            proc = subprocess.run([str(BIN / "tagoffline"), *args], capture_output=True, text=True, env=env,
                                  timeout=600, cwd=home)
            if proc.returncode != 0:
                raise SystemExit(f"tagoffline {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
            return proc.stdout

        (home / "grant.yaml").write_text("target_grants:\n- application: crm\n  conn_id: bench_pg\n")
        cli("catalog", "apply", str(home / "grant.yaml"))
        service = cli("service", "export", SERVICE)
        (home / "pg.yaml").write_text(service.replace(f"name: {SERVICE}\n", "name: crm_pg\n", 1)
                                      .replace("conn_id: demo_target", "conn_id: bench_pg"))
        cli("service", "apply", str(home / "pg.yaml"))
        cli("service", "ddl", "crm_pg", "--execute")
        cli("run", "crm_pg", "--date", DAY)
        yield env


def main(rounds: int, importtime: bool, postgres: bool) -> None:
    home = Path(tempfile.mkdtemp(prefix="tagoffline-bench-startup-"))
    try:
        env = demo_env(home)
        if postgres:
            with postgres_service(env, home) as pg_env:
                measure(rounds, importtime, home, {"SQLite target": (SERVICE, env), "PostgreSQL target":
                                                   ("crm_pg", pg_env)})
        else:
            measure(rounds, importtime, home, {"SQLite target": (SERVICE, env)})
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure(rounds: int, importtime: bool, home: Path, cases: dict[str, tuple[str, dict[str, str]]]) -> None:
    """ROUNDS interleaved rounds of `airflow version` and each case's run; prints medians and ratios."""
    airflow = [str(BIN / "airflow"), "version"]
    runs = {label: ([str(BIN / "tagoffline"), "run", service, "--date", DAY, "--json"], env)
            for label, (service, env) in cases.items()}
    base_env = next(iter(cases.values()))[1]
    timed_command(airflow, base_env, home)  # warm-up
    for argv, env in runs.values():
        timed_command(argv, env, home)
    ref_wall: list[float] = []
    ref_cpu: list[float] = []
    wall_of: dict[str, list[float]] = {label: [] for label in runs}
    cpu_of: dict[str, list[float]] = {label: [] for label in runs}
    own_of: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(rounds):
        wall, cpu, _out = timed_command(airflow, base_env, home)
        ref_wall.append(wall)
        ref_cpu.append(cpu)
        for label, (argv, env) in runs.items():
            wall, cpu, out = timed_command(argv, env, home)
            report = json.loads(out)
            assert report["status"] == "success" and report["rows_written"] == USERS, report
            wall_of[label].append(wall)
            cpu_of[label].append(cpu)
            own_of[label].append(float(report["total_seconds"]))
    med = statistics.median
    print(f"{rounds} rounds, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'command':<48} {'wall':>7} {'range':>13} {'CPU':>7}")

    def row(label: str, values: list[float], cpu: list[float] | None = None) -> None:
        spread = f"{min(values):>5.2f}–{max(values):.2f}s" if len(values) > 1 else ""
        print(f"{label:<48} {med(values):>6.2f}s {spread:>13} " + (f"{med(cpu):>6.2f}s" if cpu else ""))

    row("airflow version", ref_wall, ref_cpu)
    ratios = {}
    for label in runs:
        startup = [wall - own for wall, own in zip(wall_of[label], own_of[label], strict=True)]
        row(f"tagoffline run, {label} (whole command)", wall_of[label], cpu_of[label])
        row("  the run itself (report total_seconds)", own_of[label])
        row("  startup: whole command less the run", startup)
        print(f"  CPU of the whole command / airflow version: {med(cpu_of[label]) / med(ref_cpu):.2f}")
        ratios[label] = med(startup) / med(ref_wall)
    if importtime:
        for label, (argv, env) in {"airflow version": (airflow, base_env), **runs}.items():
            total, top = costliest_imports(argv, env, home)
            print(f"{label}: imports {total:.2f} s; costliest: "
                  + ", ".join(f"{name} {seconds:.2f}" for name, seconds in top))
    print()
    for label, ratio in ratios.items():
        print(f"tagoffline run ({label}) startup / airflow version: {ratio:.2f} (≤ 1 wanted)")


if __name__ == "__main__":
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    numbers = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(numbers[0]) if numbers else 7, "--importtime" in flags, "--postgres" in flags)
