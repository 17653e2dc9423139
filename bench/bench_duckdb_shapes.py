"""Bench: the embedded DuckDB warehouse at scale, for the three shapes of an extract.

    .venv/bin/python -m bench.bench_duckdb_shapes [USERS] [MEMORY_LIMIT]   (default 10,000,000, unset)

One run each into PostgreSQL, in a fresh process; MEMORY_LIMIT (e.g. 512MB) goes into the warehouse
connection's extra, as a user would set it:

- ``one source``: one table, no duplicate IDs: scan only (32 MB, 2 threads of DuckDB);
- ``two sources``: the last five tags from a second table holding 90% of the IDs (joins);
- ``duplicates``: one table where 1% of the IDs appear twice (dedupe, "last row wins").

A fixed 32 MB DuckDB limit made the first fail at 10M IDs (the duplicate check's GROUP BY) and the
other two need far more. Printed per shape: seconds, process peak RSS, and the run's own footprint;
the last line says whether all three exported every ID.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from bench.common import build_duckdb_warehouse, duckdb_conn_json, run_export_subprocess, spec_dict, targets, tmpdir

SECOND_SOURCE_TAGS = ("score", "vip", "birthday", "last_login", "nickname")


def shapes() -> dict[str, dict[str, Any]]:
    one = spec_dict("bench_pg", "postgres", "bench_duck")
    two = spec_dict("bench_pg", "postgres", "bench_duck")
    two["sources"].append({"table": "dws_user_more_d", "key": "user_id",
                           "partition": {"column": "ds", "format": "yyyyMMdd"}})
    for tag in two["tags"]:
        if tag["code"] in SECOND_SOURCE_TAGS:
            tag["source"] = 1
    dup = spec_dict("bench_pg", "postgres", "bench_duck")
    dup["sources"][0]["table"] = "dws_user_dup_d"
    return {"one source": one, "two sources": two, "duplicates": dup}


def main() -> None:
    import duckdb

    users = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    extra = {"memory_limit": sys.argv[2]} if len(sys.argv) > 2 else {}
    folder = tmpdir()
    path = str(folder / "wh.duckdb")
    print(f"building the warehouse: {users:,} users x 10 tags, three tables", flush=True)
    build_duckdb_warehouse(path, users)
    con = duckdb.connect(path)
    more = ", ".join(SECOND_SOURCE_TAGS)
    con.execute(f"CREATE TABLE dws_user_more_d AS SELECT user_id, {more}, ds FROM dws_user_tags_d "
                "WHERE user_id % 10 <> 0")
    con.execute("CREATE TABLE dws_user_dup_d AS SELECT * FROM dws_user_tags_d "
                "UNION ALL SELECT * FROM dws_user_tags_d WHERE user_id % 100 = 0")
    con.close()
    ok = True
    with targets(mysql=False) as target:
        env = {"AIRFLOW_CONN_BENCH_DUCK": duckdb_conn_json(path, **extra), **target.env}
        for name, spec in shapes().items():
            try:
                run = run_export_subprocess(spec, env)
            except RuntimeError as exc:
                ok = False
                print(f"{name:>12}: FAILED {str(exc).strip().splitlines()[-1][:300]}", flush=True)
                continue
            rows = run.report["rows_written"]
            ok = ok and rows == users
            print(f"{name:>12}: {run.seconds:6.2f} s, {rows:,} rows ({run.report['duplicates_replaced']:,} duplicates "
                  f"replaced), process peak RSS {run.peak_rss / 1e6:.0f} MB, run's own "
                  f"{(run.peak_rss - run.rss_start) / 1e6:.0f} MB", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    print(f"all three shapes exported all {users:,} IDs: {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    main()
