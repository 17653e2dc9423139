"""How long a `tagoffline` command takes from start to exit, against `airflow version` in the same run (issue 14).

Setup: `tagoffline demo` in a temporary folder (embedded SQLite catalog store, DuckDB warehouse, SQLite
target, Airflow's home inside it), Airflow's metadata database migrated, and four more services, so the
store holds five. Then ROUNDS interleaved rounds, each starting every command once in a fresh process
(after one warm-up round: compiled bytecode, airflow.cfg written):

- `airflow version`: the reference, Airflow's lightest command;
- `tagoffline --help`;
- `tagoffline catalog export` and `tagoffline service list`: catalog-store commands;
- `tagoffline run crm_user_tags` up to the export: the CLI's entry point with the engine's `run_export`
  replaced by an exit, so it counts start, the store, the frozen spec, and the imports the export
  needs, but not the export itself;
- `tagoffline run crm_user_tags` all but the run's own sequence (the engine's ``runner._run`` skipped):
  start, the store, the spec, opening the warehouse and the target, and what the CLI does around the
  export — what a user waits for beyond the run itself (issue 21).

Each command is timed on the wall clock and in CPU seconds (user + system of the child): on a machine
other work loads, the CPU time is the steadier measure of what a command costs.

Prints each command's median (and range) and its ratio to `airflow version`; the last line is the
ratio the issue asks for: `service list` / `airflow version` (≤ 1). With --importtime it also prints,
per command, the imports that cost most (``python -X importtime``: cumulative time of each import made
directly by the command, so nested ones are not counted twice).

    .venv/bin/python -m bench.bench_cli_startup [ROUNDS] [--importtime]

Whatever `airflow_provider_tagoffline` the children import is measured (they run in the temporary
folder, so the current directory does not count): to measure another checkout of the package, put its
folder first on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import costliest_imports, timed_command

BIN = Path(sys.executable).parent
SERVICE = "crm_user_tags"  # the demo's service
EXTRA_SERVICES = 4

# `run` up to its export: the real entry point; the export itself exits at once
RUN_PROBE = """
import sys
from airflow_provider_tagoffline import runs
from airflow_provider_tagoffline.cli.main import main

def reached_export(*_args, **_kwargs):
    raise SystemExit(0)

runs.run_export = reached_export
sys.argv = ["tagoffline", "run", sys.argv[1]]
main()
"""

# `run` whole but for the run's own sequence (lock, checks, load, gates, swap): all a user waits for beyond it
RUN_AROUND_PROBE = """
import sys
from airflow_provider_tagoffline.cli.main import main
from airflow_provider_tagoffline.engine import runner

runner._run = lambda *_args, **_kwargs: None
sys.argv = ["tagoffline", "run", sys.argv[1], "--json"]
main()
"""

COMMANDS: dict[str, list[str]] = {
    "airflow version": [str(BIN / "airflow"), "version"],
    "tagoffline --help": [str(BIN / "tagoffline"), "--help"],
    "tagoffline catalog export": [str(BIN / "tagoffline"), "catalog", "export"],
    "tagoffline service list": [str(BIN / "tagoffline"), "service", "list"],
    "tagoffline run (to the export)": [sys.executable, "-c", RUN_PROBE, SERVICE],
    "tagoffline run (all but the run)": [sys.executable, "-c", RUN_AROUND_PROBE, SERVICE],
}
REFERENCE, ASKED = "airflow version", "tagoffline service list"


def demo_env(home: Path) -> dict[str, str]:
    """The environment `tagoffline demo --home HOME` gives itself (cli/demo_cmd.py), for every command here."""
    airflow_home = home / "airflow"
    return {**os.environ,
            "AIRFLOW_HOME": str(airflow_home), "AIRFLOW__CORE__DAGS_FOLDER": str(airflow_home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'catalog.db'}",
            "AIRFLOW__TAG_OFFLINE__WAREHOUSE_CONN_ID": "tag_warehouse",
            "AIRFLOW_CONN_TAG_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(home / "warehouse.duckdb")}),
            "AIRFLOW_CONN_DEMO_TARGET": json.dumps({"conn_type": "sqlite", "host": str(home / "target.db")})}


def setup(home: Path) -> dict[str, str]:
    env = demo_env(home)

    def run(*args: str) -> str:
        proc = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=600, cwd=home)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
        return proc.stdout

    run(str(BIN / "tagoffline"), "demo", "--home", str(home), "--users", "1000", "--json")
    run(str(BIN / "airflow"), "db", "migrate")
    service = (Path(__file__).resolve().parents[1] / "airflow_provider_tagoffline" / "examples"
               / "demo_service.yaml").read_text()
    for i in range(1, EXTRA_SERVICES + 1):
        path = home / f"service_{i}.yaml"
        path.write_text(service.replace(f"name: {SERVICE}", f"name: {SERVICE}_{i}")
                        .replace("table: user_tags", f"table: user_tags_{i}"))
        run(str(BIN / "tagoffline"), "service", "apply", str(path))
    listed = json.loads(run(str(BIN / "tagoffline"), "service", "list", "--json"))
    assert listed["total"] == 1 + EXTRA_SERVICES, listed
    return env


def main(rounds: int, importtime: bool) -> None:
    home = Path(tempfile.mkdtemp(prefix="tagoffline-bench-cli-"))
    try:
        env = setup(home)
        for argv in COMMANDS.values():  # warm-up
            timed_command(argv, env, env["AIRFLOW_HOME"])
        times: dict[str, list[float]] = {label: [] for label in COMMANDS}
        cpu: dict[str, list[float]] = {label: [] for label in COMMANDS}
        for _ in range(rounds):
            for label, argv in COMMANDS.items():
                wall, used, _out = timed_command(argv, env, env["AIRFLOW_HOME"])
                times[label].append(wall)
                cpu[label].append(used)
        print(f"{rounds} rounds, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
        reference, cpu_reference = statistics.median(times[REFERENCE]), statistics.median(cpu[REFERENCE])
        print(f"{'command':<34} {'median':>8} {'range':>15} {'/ airflow version':>18} {'CPU':>7} "
              f"{'/ airflow version':>18}")
        for label, values in times.items():
            median, used = statistics.median(values), statistics.median(cpu[label])
            print(f"{label:<34} {median:>7.2f}s {min(values):>6.2f}–{max(values):.2f}s {median / reference:>18.2f} "
                  f"{used:>6.2f}s {used / cpu_reference:>18.2f}")
        if importtime:
            for label, argv in COMMANDS.items():
                # the script the command runs (this interpreter's own arguments, else the console script)
                script = argv[1:] if argv[0] == sys.executable else argv
                total, top = costliest_imports(script, env, env["AIRFLOW_HOME"])
                print(f"\n{label}: imports {total:.2f} s; costliest: "
                      + ", ".join(f"{name} {seconds:.2f}" for name, seconds in top))
        ratio = statistics.median(times[ASKED]) / reference
        print(f"\n{ASKED} / {REFERENCE}: {ratio:.2f} (≤ 1 wanted)")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    numbers = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(numbers[0]) if numbers else 7, "--importtime" in flags)
