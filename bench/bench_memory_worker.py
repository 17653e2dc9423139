"""Bench (d) inside a real Airflow worker: what a run costs a LocalExecutor task process.

    .venv/bin/python bench/bench_memory_worker.py [SIZE ...]      (default: 1000000 5000000 10000000)

`bench_memory.py` measures a run in a bare process that imported `airflow.sdk` and the hooks. A real
task process is heavier before any operator runs: Airflow 3 forks it from the executor's worker
(itself forked from the scheduler), so it starts with everything those processes had resident. This
bench starts a real Airflow (scheduler, dag-processor, API server; PostgreSQL metadata DB;
LocalExecutor) and one DAG whose tasks run one after another:

- ``noop``: records its own RSS: the floor of any task in this worker;
- ``duckdb_SIZE``: `TagOfflineOperator` exporting SIZE users × 10 tags from a DuckDB warehouse into
  PostgreSQL, for each SIZE;
- ``postgres_SMALLEST``: the same from a PostgreSQL warehouse.

Each export task records VmRSS when `execute()` starts and VmHWM when it ends. Printed per task:
the process peak, and the run's own footprint (peak minus RSS at the start of `execute()`). The last
line is the ratio of the DuckDB runs' process peaks, largest / smallest size (target: ~1.0, flat).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import (
    PG_BASE,
    build_duckdb_warehouse,
    build_pg_warehouse,
    pg_conn_json,
    pg_database,
    psycopg,
    spec_dict,
    target_ddl_pg,
    tmpdir,
)
from stack import BIN, AirflowStack, airflow_env, free_port, run_cli, simple_auth_env

DAG_TEMPLATE = '''
import json
from pathlib import Path

from airflow.sdk import dag, task

from airflow_provider_tagoffline.operators.tag_offline import TagOfflineOperator

OUT = Path({out!r})
SPECS = json.loads({specs!r})


def status():
    return {{line.split(":")[0]: int(line.split()[1]) * 1024 for line in open("/proc/self/status")
             if line.startswith(("VmRSS", "VmHWM"))}}


class MeasuredTagOfflineOperator(TagOfflineOperator):
    def execute(self, context):
        start = status()
        report = super().execute(context)
        end = status()
        (OUT / f"{{self.task_id}}.json").write_text(json.dumps(
            {{"rss_start": start["VmRSS"], "hwm_start": start["VmHWM"], "hwm_end": end["VmHWM"],
              "rows": report["rows_written"]}}))
        return report


@dag(schedule=None, catchup=False)
def tagoffline_memory_bench():
    @task
    def noop():
        s = status()
        (OUT / "noop.json").write_text(json.dumps({{"rss_start": s["VmRSS"], "hwm_end": s["VmHWM"]}}))

    previous = noop()
    for task_id, spec in SPECS.items():
        current = MeasuredTagOfflineOperator(task_id=task_id, run_spec=spec, data_date="2026-11-23")
        previous >> current
        previous = current


tagoffline_memory_bench()
'''


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000_000, 5_000_000, 10_000_000]
    small = sizes[0]
    folder = tmpdir()
    home, out = folder / "airflow", folder / "out"
    (home / "dags").mkdir(parents=True)
    out.mkdir()
    with pg_database() as meta, pg_database() as target_db, pg_database() as pg_wh:
        env = airflow_env(home, free_port(), f"{PG_BASE.replace('postgresql://', 'postgresql+psycopg://')}/{meta}")
        env.update(simple_auth_env(home, {"admin": "admin"}, {"admin": "admin-pw"}))
        env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
        specs = {}
        with psycopg.connect(f"{PG_BASE}/{target_db}", autocommit=True) as c:
            for users in sizes:
                build_duckdb_warehouse(str(folder / f"wh_{users}.duckdb"), users)
                env[f"AIRFLOW_CONN_DUCK_{users}"] = json.dumps({"conn_type": "duckdb",
                                                                "host": str(folder / f"wh_{users}.duckdb")})
                c.execute(target_ddl_pg(f"user_tags_{users}"))
                specs[f"duckdb_{users}"] = spec_dict("bench_pg", "postgres", f"duck_{users}", f"user_tags_{users}")
            build_pg_warehouse(pg_wh, small)
            c.execute(target_ddl_pg("user_tags_pgwh"))
            specs[f"postgres_{small}"] = spec_dict("bench_pg", "postgres", "pg_wh", "user_tags_pgwh")
        env["AIRFLOW_CONN_BENCH_PG"] = pg_conn_json(target_db)
        env["AIRFLOW_CONN_PG_WH"] = pg_conn_json(pg_wh)
        (home / "dags" / "tagoffline_memory_bench.py").write_text(
            DAG_TEMPLATE.format(out=str(out), specs=json.dumps(specs)))
        run_cli([str(BIN / "airflow"), "db", "migrate"], env)
        stack = AirflowStack(home=home, port=int(env["AIRFLOW__API__BASE_URL"].rsplit(":", 1)[1]), env=env)
        stack.start()
        try:
            _run_dag(env, out, ["noop", *specs])
        finally:
            stack.stop()
    results = {name: json.loads((out / f"{name}.json").read_text()) for name in ["noop", *specs]}
    shutil.rmtree(folder, ignore_errors=True)
    mb = 1e6
    print(f"noop task: RSS {results['noop']['rss_start'] / mb:.0f} MB (the floor of any task in this worker)")
    own = {}
    for name in specs:
        r = results[name]
        own[name] = (r["hwm_end"] - r["rss_start"]) / mb
        print(f"{name:>18} ({r['rows']:>9,} rows): process peak {r['hwm_end'] / mb:5.0f} MB, "
              f"RSS at execute() {r['rss_start'] / mb:5.0f} MB, run's own {own[name]:4.0f} MB", flush=True)
    peaks = [results[f"duckdb_{n}"]["hwm_end"] / mb for n in sizes]
    owns = [own[f"duckdb_{n}"] for n in sizes]
    print(f"process peak ratio {sizes[-1]:,} / {small:,} rows (DuckDB warehouse): {peaks[-1] / peaks[0]:.2f} "
          f"(peaks {', '.join(f'{p:.0f}' for p in peaks)} MB; run's own {', '.join(f'{o:.0f}' for o in owns)} MB)")


def _run_dag(env: dict[str, str], out: Path, tasks: list[str], timeout: float = 600) -> None:
    deadline = time.monotonic() + 120
    while True:  # the dag-processor has to parse the file first
        try:
            run_cli([str(BIN / "airflow"), "dags", "unpause", "tagoffline_memory_bench"], env)
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    run_cli([str(BIN / "airflow"), "dags", "trigger", "tagoffline_memory_bench"], env)
    deadline = time.monotonic() + timeout
    while not all((out / f"{t}.json").exists() for t in tasks):
        if time.monotonic() > deadline:
            missing = [t for t in tasks if not (out / f"{t}.json").exists()]
            raise RuntimeError(f"tasks {missing} did not finish in {timeout:.0f} s; see the scheduler log")
        failed = run_cli([str(BIN / "airflow"), "dags", "list-runs", "tagoffline_memory_bench",
                          "--state", "failed", "-o", "plain"], env).stdout
        if "tagoffline_memory_bench" in failed:
            raise RuntimeError(f"the bench DAG run failed; task logs under {env['AIRFLOW_HOME']}/logs")
        time.sleep(3)


if __name__ == "__main__":
    main()
