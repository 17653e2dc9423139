"""Preview (plan) of a run at 1M rows against the run itself (issue 15).

For each case the live table first holds the data date (one run), then drifts: 1% of rows changed,
0.5% deleted (the preview sees them added back), 1,000 stale rows inserted (removed). The preview
and then the run each go in a fresh process (as a worker would run them), timed from the call;
the preview's figures are checked against what was done to the table, and its row count against
the run's. Cases:

* DuckDB warehouse → PostgreSQL target, → MariaDB target: the two sides meet only in Python
  (streamed entity IDs and row digests);
* PostgreSQL warehouse, target kind ``warehouse``, and DuckDB likewise: one query inside the engine.

Prints preview / run per case (lower is better; the preview writes nothing, the run writes it all).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import duckdb

from bench.common import (
    DAY,
    build_duckdb_warehouse,
    duckdb_conn_json,
    pg_warehouse,
    run_export_subprocess,
    spec_dict,
    target_ddl_pg,
    targets,
    tmpdir,
)
from tests.live import mysql_connect, pg_conn_json, pg_connect

STALE = 1_000
DRIFT = [  # the same drift on every engine: (changed, deleted) by user_id modulo
    "UPDATE user_tags SET level = level + 1 WHERE user_id % 100 = 0",
    "DELETE FROM user_tags WHERE user_id % 200 = 1",
]


def preview_subprocess(spec: dict[str, Any], env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    code = ("import json, os, time, datetime as dt; from airflow_provider_tagoffline.runs import preview; "
            "import airflow.providers.postgres.hooks.postgres, airflow.providers.mysql.hooks.mysql, "
            "airflow.providers.duckdb.hooks.duckdb; "
            "t = time.perf_counter(); p = preview(json.loads(os.environ['BENCH_SPEC']), dt.date.fromisoformat('"
            + DAY + "'), sample=10); el = time.perf_counter() - t; "
            "print(json.dumps({'seconds': el, 'preview': p.model_dump()}))")
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env, "BENCH_SPEC": json.dumps(spec)},
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["seconds"], out["preview"]


def drift_sql(users: int) -> list[str]:
    # ids 2, 12, ... 9992 moved past the last user: none of them was deleted above
    return DRIFT + [f"INSERT INTO user_tags (user_id, level) SELECT {users} + i, 1 FROM "
                    f"(SELECT user_id AS i FROM user_tags WHERE user_id % 10 = 2 AND user_id <= {10 * STALE}) s"]


def expected(users: int) -> dict[str, int]:
    deleted = len(range(1, users + 1, 200))
    changed = users // 100 - len([u for u in range(100, users + 1, 100) if u % 200 == 1])
    return {"added": deleted, "removed": STALE, "changed": changed, "rows": users}


def case(name: str, spec: dict[str, Any], env: dict[str, str], drift: Any, users: int) -> tuple[float, float]:
    first = run_export_subprocess(spec, env)
    assert first.report["rows_written"] == users, first.report
    drift()
    p_secs, p = preview_subprocess(spec, env)
    ch = p["changes"]
    want = expected(users)
    got = {"added": ch["added"], "removed": ch["removed"], "changed": ch["changed"], "rows": p["rows"]}
    assert got == want, (name, got, want)
    run = run_export_subprocess(spec, env)
    assert run.report["rows_written"] == p["rows"], (run.report, p["rows"])
    print(f"{name:<34} preview {p_secs:6.2f} s   run {run.seconds:6.2f} s   preview/run {p_secs / run.seconds:5.2f}"
          f"   ({ch['method']}; +{ch['added']} -{ch['removed']} ~{ch['changed']})", flush=True)
    return p_secs, run.seconds


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    folder = tmpdir()
    duck = str(folder / "wh.duckdb")
    print(f"building warehouses: {users:,} users x 10 tags", flush=True)
    build_duckdb_warehouse(duck, users)
    results: dict[str, tuple[float, float]] = {}
    with pg_warehouse(users) as wh_db, targets() as (pg_tgt, my_tgt, target_env):
        with pg_connect(wh_db) as c:
            c.execute(target_ddl_pg())
        dk = duckdb.connect(duck)
        dk.execute(target_ddl_pg().replace("double precision", "double"))
        dk.close()
        env = {"AIRFLOW_CONN_BENCH_DUCK": duckdb_conn_json(duck), "AIRFLOW_CONN_BENCH_PGWH": pg_conn_json(wh_db),
               **target_env}

        def on_pg(db: str) -> Any:
            def drift() -> None:
                with pg_connect(db) as c:
                    for sql in drift_sql(users):
                        c.execute(sql)
            return drift

        def on_mysql() -> None:
            c = mysql_connect(my_tgt)
            for sql in drift_sql(users):
                c.cursor().execute(sql)
            c.close()

        def on_duck() -> None:
            c = duckdb.connect(duck)
            for sql in drift_sql(users):
                c.execute(sql)
            c.close()

        results["duckdb -> postgres (streamed)"] = case(
            "duckdb -> postgres (streamed)", spec_dict("bench_pg", "postgres", "bench_duck"), env, on_pg(pg_tgt), users)
        results["duckdb -> mariadb (streamed)"] = case(
            "duckdb -> mariadb (streamed)", spec_dict("bench_my", "mysql", "bench_duck"), env, on_mysql, users)
        results["postgres in warehouse (pushed)"] = case(
            "postgres in warehouse (pushed)", spec_dict("bench_pgwh", "warehouse", "bench_pgwh"), env, on_pg(wh_db),
            users)
        results["duckdb in warehouse (pushed)"] = case(
            "duckdb in warehouse (pushed)", spec_dict("bench_duck", "warehouse", "bench_duck"), env, on_duck, users)
    shutil.rmtree(folder, ignore_errors=True)
    print("ratio preview/run (lower is better): " + ", ".join(f"{k} {p / r:.2f}" for k, (p, r) in results.items()))


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    main()
