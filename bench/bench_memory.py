"""Bench (d): peak RSS of one run at 1M and at 5M rows (DuckDB warehouse -> PostgreSQL).

    .venv/bin/python -m bench.bench_memory [SIZE ...]      (default: 1000000 5000000)

Per size: the process peak (VmHWM of a fresh process that imported `airflow.sdk` and the hooks
first, ~150 MB before the run starts) and the run's own footprint (that peak minus the RSS when
the run started). `bench_memory_worker.py` measures the same inside a real Airflow worker. The last
line is the ratio of the process peaks, largest / smallest size (target: ~1.0, flat).
"""

from __future__ import annotations

import os
import shutil
import sys

from bench.common import build_duckdb_warehouse, duckdb_conn_json, run_export_subprocess, spec_dict, targets, tmpdir


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000_000, 5_000_000]
    peaks: list[float] = []
    for users in sizes:
        folder = tmpdir()
        build_duckdb_warehouse(str(folder / "wh.duckdb"), users)
        with targets(mysql=False) as target:
            env = {"AIRFLOW_CONN_BENCH_DUCK": duckdb_conn_json(folder / "wh.duckdb"), **target.env}
            run = run_export_subprocess(spec_dict("bench_pg", "postgres", "bench_duck"), env)
        shutil.rmtree(folder, ignore_errors=True)
        assert run.report["rows_written"] == users
        peaks.append(run.peak_rss / 1e6)
        print(f"{users:>10,} rows: process peak RSS {run.peak_rss / 1e6:6.1f} MB (RSS at start "
              f"{run.rss_start / 1e6:5.1f} MB, run's own {(run.peak_rss - run.rss_start) / 1e6:5.1f} MB), "
              f"{run.seconds:6.2f} s", flush=True)
    print(f"peak RSS ratio {sizes[-1]:,} / {sizes[0]:,} rows: {peaks[-1] / peaks[0]:.2f} "
          f"(peaks {peaks[0]:.0f} MB and {peaks[-1]:.0f} MB; target <= 200 MB and flat)")


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    main()
