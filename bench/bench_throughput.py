"""Bench (a)+(b): end-to-end export throughput against the raw bulk-load reference, same rows.

    .venv/bin/python -m bench.bench_throughput [USERS] [ROUNDS]   (default 1,000,000 users x 10 tags, 3 rounds)

PostgreSQL target: reference = ``psql \\copy (...) to stdout | psql \\copy ... from stdin`` of the
same rows into a table of the same shape (primary key included). MariaDB target: reference =
``LOAD DATA LOCAL INFILE`` of a TSV of the same rows (the TSV is written beforehand, not timed).
Our figure is one ``run_export`` (preflight, extract, load, index, gates, swap) in a fresh process.
Each round runs every reference and every export once (interleaved, so drift of the shared machine
hits both); the figures are the medians over the rounds. The last line is the ratio
median_reference_seconds / median_our_seconds (target >= 0.8).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import (
    TAGS,
    build_duckdb_warehouse,
    duckdb_conn_json,
    pg_warehouse,
    run_export_subprocess,
    spec_dict,
    targets,
    tmpdir,
)
from tests.live import mysql_connect, pg_conn_json, pg_connect, pg_url

COLS = "user_id, " + ", ".join(c for c, _, _, _ in TAGS)


def psql_copy_reference(wh_db: str, tgt_db: str) -> float:
    with pg_connect(tgt_db) as c:
        c.execute("TRUNCATE user_tags_ref")
    src = f"\\copy (SELECT {COLS} FROM dws_user_tags_d WHERE ds = '20261123') to stdout"
    dst = f"\\copy user_tags_ref ({COLS}) from stdin"
    cmd = f'psql -q "{pg_url(wh_db)}" -c "{src}" | psql -q "{pg_url(tgt_db)}" -c "{dst}"'
    start = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True)
    return time.perf_counter() - start


def load_data_reference(wh_db: str, my_db: str, folder: Path) -> float:
    tsv = folder / "rows.tsv"
    with pg_connect(wh_db, autocommit=False) as c, c.cursor() as cur, open(tsv, "wb") as f:
        # MySQL's text format: tab-separated, \N for NULL, booleans as 1/0.
        cols = COLS.replace("vip", "vip::int")
        with cur.copy(f"COPY (SELECT {cols} FROM dws_user_tags_d WHERE ds = '20261123') TO STDOUT") as copy:
            for chunk in copy:
                f.write(chunk)
    con = mysql_connect(my_db)
    con.cursor().execute("TRUNCATE TABLE user_tags_ref")
    start = time.perf_counter()
    con.cursor().execute(f"LOAD DATA LOCAL INFILE '{tsv}' INTO TABLE user_tags_ref CHARACTER SET utf8mb4 ({COLS})")
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    folder = tmpdir()
    duck = str(folder / "wh.duckdb")
    print(f"building warehouses: {users:,} users x {len(TAGS)} tags", flush=True)
    build_duckdb_warehouse(duck, users)
    with pg_warehouse(users) as wh_db, targets("user_tags", "user_tags_ref") as (pg_tgt, my_tgt, target_env):
        env = {"AIRFLOW_CONN_BENCH_DUCK": duckdb_conn_json(duck), "AIRFLOW_CONN_BENCH_PGWH": pg_conn_json(wh_db),
               **target_env}
        times: dict[str, list[float]] = {}
        for round_no in range(1, rounds + 1):
            times.setdefault("ref_pg", []).append(psql_copy_reference(wh_db, pg_tgt))
            times.setdefault("ref_mysql", []).append(load_data_reference(wh_db, my_tgt, folder))
            for wh in ("duck", "pgwh"):
                for tgt, kind in (("pg", "postgres"), ("my", "mysql")):
                    secs, rss, _, report = run_export_subprocess(
                        spec_dict(f"bench_{tgt}", kind, f"bench_{wh}"), env)
                    assert report["rows_written"] == users, report
                    times.setdefault(f"{wh}_{tgt}", []).append(secs)
                    print(f"round {round_no} ours {wh:>4} -> {kind:<8}: {secs:6.2f} s  ({users / secs:,.0f} rows/s, "
                          f"peak RSS {rss / 1e6:.0f} MB, {report['load_method']})", flush=True)
                    print("      phases: " + ", ".join(f"{k} {v:.2f}" for k, v in report["phases"].items()))
        results = {name: statistics.median(values) for name, values in times.items()}
        for name, values in times.items():
            print(f"{name:>9}: median {results[name]:6.2f} s of " + ", ".join(f"{v:.2f}" for v in values))
    shutil.rmtree(folder, ignore_errors=True)
    print(f"reference psql \\copy | psql \\copy : {results['ref_pg']:6.2f} s ({users / results['ref_pg']:,.0f} rows/s)")
    print(f"reference LOAD DATA LOCAL INFILE  : {results['ref_mysql']:6.2f} s "
          f"({users / results['ref_mysql']:,.0f} rows/s)")
    ratios = {f"{wh}->{t}": results[f"ref_{ref}"] / results[f"{wh}_{t2}"]
              for wh in ("duck", "pgwh") for t, t2, ref in (("postgres", "pg", "pg"), ("mariadb", "my", "mysql"))}
    print("ratio reference/ours (>= 0.8 wanted): " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    main()
