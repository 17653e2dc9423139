"""Bench (d, issue 14) inside a real Airflow worker: what a run costs a LocalExecutor task process.

    .venv/bin/python -m bench.bench_memory_worker [--shapes one,two,three_dup] [SIZE ...]
                                                    (default: one,two,three_dup at 1000000 10000000)

`bench_memory.py` measures a run in a bare process that imported `airflow.sdk` and the hooks. A real
task process is heavier before any operator runs: Airflow 3 forks it from the executor's worker
(itself forked from the scheduler), so it starts with everything those processes had resident. This
bench starts a real Airflow (scheduler, dag-processor, API server; PostgreSQL metadata DB;
LocalExecutor) and one DAG whose tasks run one after another:

- ``noop``: records its own RSS and peak: the floor of any task in this worker;
- ``duckdb_SHAPE_SIZE``: `TagOfflineOperator` exporting SIZE users from a DuckDB warehouse into
  PostgreSQL, for each shape of ``shapes_data.py`` (``one``: one source, 10 tags; ``two``: two
  sources; ``lookups``: two sources and both lookups; ``three_dup``: three sources, 1% duplicates);
- ``postgres_one_SMALLEST``: the one-source shape from a PostgreSQL warehouse.

Each export task records VmRSS when `execute()` starts and VmHWM when it ends. Printed per task:
the process peak and **the run's own memory: the task's peak minus the no-op task's peak** (issue
14's target: <= 110 MB, and flat, <= x1.1, from the smallest to the largest size, per shape).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from bench.common import build_pg_warehouse, duckdb_conn_json, pg_database, spec_dict, target_ddl_pg, tmpdir
from bench.shapes_data import SHAPES, build_statements, shape_spec, target_ddl
from tests.live import free_port, pg_conn_json, pg_connect, pg_url
from tests.stack import BIN, AirflowStack, airflow_env, run_cli, simple_auth_env

DAG_TEMPLATE = '''
import json
import time
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
        clock = time.perf_counter()
        report = super().execute(context)
        seconds = time.perf_counter() - clock
        end = status()
        (OUT / f"{{self.task_id}}.json").write_text(json.dumps(
            {{"rss_start": start["VmRSS"], "hwm_start": start["VmHWM"], "hwm_end": end["VmHWM"],
              "rows": report["rows_written"], "seconds": seconds}}))
        return report


@dag(schedule=None, catchup=False)
def tagoffline_memory_bench():
    @task
    def noop():
        s = status()
        (OUT / "noop.json").write_text(json.dumps({{"rss_start": s["VmRSS"], "hwm_end": s["VmHWM"]}}))

    previous = noop()
    for task_id, spec in SPECS.items():
        # all_done: a run that fails (out of memory) is reported, the next ones still run
        current = MeasuredTagOfflineOperator(task_id=task_id, run_spec=spec, data_date="2026-11-23",
                                             trigger_rule="all_done")
        previous >> current
        previous = current


tagoffline_memory_bench()
'''


def build_duckdb_shapes(path: str, users: int) -> None:
    import duckdb

    con = duckdb.connect(path)
    for stmt in build_statements("duck", users):
        con.execute(stmt)
    con.close()


def main() -> None:
    args = sys.argv[1:]
    shapes = ["one", "two", "three_dup"]
    if args[:1] == ["--shapes"]:
        shapes, args = args[1].split(","), args[2:]
    assert set(shapes) <= set(SHAPES), shapes
    sizes = [int(a) for a in args] or [1_000_000, 10_000_000]
    small = sizes[0]
    folder = tmpdir()
    home, out = folder / "airflow", folder / "out"
    (home / "dags").mkdir(parents=True)
    out.mkdir()
    load = os.getloadavg()
    print(f"shapes {', '.join(shapes)} at {', '.join(f'{n:,}' for n in sizes)} IDs; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores", flush=True)
    with pg_database() as meta, pg_database() as target_db, pg_database() as pg_wh:
        env = airflow_env(home, free_port(), pg_url(meta, driver="psycopg"))
        env.update(simple_auth_env(home, {"admin": "admin"}, {"admin": "admin-pw"}))
        env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
        specs = {}
        with pg_connect(target_db) as c:
            for users in sizes:
                start = time.perf_counter()
                build_duckdb_shapes(str(folder / f"wh_{users}.duckdb"), users)
                print(f"DuckDB warehouse of {users:,} IDs built in {time.perf_counter() - start:.0f} s", flush=True)
                env[f"AIRFLOW_CONN_DUCK_{users}"] = duckdb_conn_json(folder / f"wh_{users}.duckdb")
                for shape in shapes:
                    name = f"duckdb_{shape}_{users}"
                    specs[name] = shape_spec(shape, "bench_pg", "postgres", f"duck_{users}", f"t_{name}")
                    c.execute(target_ddl(specs[name], f"t_{name}", "pg"))
            build_pg_warehouse(pg_wh, small)
            c.execute(target_ddl_pg("user_tags_pgwh"))
            specs[f"postgres_one_{small}"] = spec_dict("bench_pg", "postgres", "pg_wh", "user_tags_pgwh")
        env["AIRFLOW_CONN_BENCH_PG"] = pg_conn_json(target_db)
        env["AIRFLOW_CONN_PG_WH"] = pg_conn_json(pg_wh)
        (home / "dags" / "tagoffline_memory_bench.py").write_text(
            DAG_TEMPLATE.format(out=str(out), specs=json.dumps(specs)))
        run_cli([str(BIN / "airflow"), "db", "migrate"], env)
        stack = AirflowStack(home=home, port=int(env["AIRFLOW__API__BASE_URL"].rsplit(":", 1)[1]), env=env)
        stack.start()
        try:
            _run_dag(env, out, ["noop", *specs], timeout=600 + 120 * len(specs) * max(sizes) / 10_000_000)
        finally:
            stack.stop()
    results = {name: json.loads((out / f"{name}.json").read_text()) for name in ["noop", *specs]
               if (out / f"{name}.json").exists()}
    failures = {name: _failure(home, name) for name in specs if name not in results}
    shutil.rmtree(folder, ignore_errors=True)
    mb = 1e6
    noop = results["noop"]
    print(f"noop task: RSS {noop['rss_start'] / mb:.0f} MB, peak {noop['hwm_end'] / mb:.0f} MB "
          "(the floor of any task in this worker)")
    print("\n| task | rows | seconds | process peak | RSS at execute() | the run's own (peak - no-op's peak) |")
    print("|---|---|---|---|---|---|")
    own = {}
    for name in specs:
        if name in failures:
            print(f"| {name} | FAILED: {failures[name]} | | | | |", flush=True)
            continue
        r = results[name]
        own[name] = (r["hwm_end"] - noop["hwm_end"]) / mb
        print(f"| {name} | {r['rows']:,} | {r['seconds']:.1f} | {r['hwm_end'] / mb:.0f} MB | "
              f"{r['rss_start'] / mb:.0f} MB | **{own[name]:.0f} MB** |", flush=True)
    print()
    for shape in shapes:
        owns = [own.get(f"duckdb_{shape}_{n}", float("nan")) for n in sizes]
        print(f"{shape}: run's own {', '.join(f'{o:.0f}' for o in owns)} MB at {', '.join(f'{n:,}' for n in sizes)} "
              f"IDs; max {max(owns):.0f} MB (<= 110 wanted), largest / smallest {owns[-1] / owns[0]:.2f} "
              "(<= 1.1 wanted)")


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
        if "tagoffline_memory_bench" in failed:  # every task ran; the failed ones wrote no figures
            return
        time.sleep(3)


def _failure(home: Path, task_id: str) -> str:
    """The last error line a failed task logged (its run's own message)."""
    for log in (home / "logs").rglob(f"task_id={task_id}/attempt=*.log"):
        errors = [json.loads(line).get("event", "") for line in log.read_text().splitlines()
                  if line.startswith("{") and '"level":"error"' in line]
        if errors:
            return errors[0].split("error:", 1)[-1].strip().splitlines()[0][:300]
    return "no log found"


if __name__ == "__main__":
    main()
