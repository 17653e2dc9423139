"""Bench (d): peak RSS of one run at 1M and at 5M rows (DuckDB warehouse -> PostgreSQL).

    .venv/bin/python bench/bench_memory.py [SMALL] [LARGE]

Peak RSS is VmHWM of the run's own process, Airflow and the hooks included (importing airflow.sdk
alone is ~110 MB here). The last line is the ratio peak(LARGE) / peak(SMALL) (target: ~1.0, flat).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import (
    PG_BASE,
    build_duckdb_warehouse,
    pg_conn_json,
    pg_database,
    psycopg,
    run_export_subprocess,
    spec_dict,
    target_ddl_pg,
    tmpdir,
)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:3]] or [1_000_000, 5_000_000]
    peaks: list[float] = []
    for users in sizes:
        folder = tmpdir()
        build_duckdb_warehouse(str(folder / "wh.duckdb"), users)
        with pg_database() as db:
            with psycopg.connect(f"{PG_BASE}/{db}", autocommit=True) as c:
                c.execute(target_ddl_pg())
            env = {"AIRFLOW_CONN_BENCH_DUCK": json.dumps({"conn_type": "duckdb", "host": str(folder / "wh.duckdb")}),
                   "AIRFLOW_CONN_BENCH_PG": pg_conn_json(db)}
            secs, rss, report = run_export_subprocess(spec_dict("bench_pg", "postgres", "bench_duck"), env)
        shutil.rmtree(folder, ignore_errors=True)
        assert report["rows_written"] == users
        peaks.append(rss / 1e6)
        print(f"{users:>10,} rows: peak RSS {rss / 1e6:6.1f} MB, {secs:6.2f} s", flush=True)
    print(f"peak RSS ratio {sizes[-1]:,} / {sizes[0]:,} rows: {peaks[-1] / peaks[0]:.2f} "
          f"(peaks {peaks[0]:.0f} MB and {peaks[-1]:.0f} MB; target <= 200 MB and flat)")


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    main()
