"""Bench (e): swap availability. 4 readers poll the target while 30 runs swap it, on PostgreSQL
and on MariaDB; every read must succeed and see the full row count.

    .venv/bin/python -m bench.bench_swap_availability [RUNS] [USERS]     (default 30 runs, 100,000 users)

The last line gives failed reads and wrong-count reads per target (target: 0 and 0).

    .venv/bin/python -m bench.bench_swap_availability --long-reader [SECONDS] [USERS]   (default 20 s)

With a long reader: one transaction reads the live table and stays open SECONDS while 3 readers poll
``SELECT count(*)`` every 50 ms and one run swaps the table; printed per target, the worst read, with
the swap's lock waits bounded (lockwait.ATTEMPT_SECONDS a try, the engine's way) and unbounded (one
wait as long as the reader, the way before issue 21). Target: worst read < 2 s, 0 failed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from bench.common import Targets, build_duckdb_warehouse, duckdb_conn_json, spec_dict, targets, tmpdir
from tests.live import mysql_connect, pg_connect
from tests.pollers import CountPollers

READERS = 4


def measure(name: str, conn_id: str, kind: str, connect: Any, runs: int, users: int) -> dict[str, int]:
    from airflow_provider_tagoffline.runs import run_export

    spec = spec_dict(conn_id, kind, "bench_duck")
    run_export(spec, "2026-11-23")  # fill the table first
    with CountPollers(lambda _: connect(), READERS, users) as readers:
        start = time.perf_counter()
        windows = [run_export(spec, "2026-11-23").swap_window_seconds or 0.0 for _ in range(runs)]
    stats = {"reads": readers.reads, "wrong": readers.wrong, "failed": readers.failed}
    print(f"{name:<10}: {runs} runs in {time.perf_counter() - start:.1f} s, {stats['reads']:,} reads, "
          f"{stats['failed']} failed, {stats['wrong']} wrong count; swap window max "
          f"{max(windows) * 1000:.1f} ms" + (f"; first error: {readers.errors[0]}" if readers.failed else ""),
          flush=True)
    return stats


def long_reader(name: str, conn_id: str, kind: str, connect: Any, hold: float, users: int, bounded: bool) -> float:
    """The worst read of 3 pollers while a transaction holding the table for ``hold`` seconds delays one run."""
    from airflow_provider_tagoffline.engine.targets import lockwait
    from airflow_provider_tagoffline.runs import run_export

    spec = spec_dict(conn_id, kind, "bench_duck")
    run_export(spec, "2026-11-23")
    attempt = lockwait.ATTEMPT_SECONDS
    if not bounded:
        lockwait.ATTEMPT_SECONDS = hold * 10  # one lock wait that outlasts the reader, as before
    reader = connect()
    cur = reader.cursor()
    cur.execute("BEGIN" if kind == "postgres" else "START TRANSACTION")
    cur.execute("SELECT COUNT(*) FROM user_tags")
    cur.fetchone()
    held_from = time.perf_counter()
    report: dict[str, Any] = {}
    with CountPollers(lambda _: connect(), 3, users, every=0.05) as pollers:
        run = threading.Thread(target=lambda: report.update(r=run_export(spec, "2026-11-23")))
        run.start()
        run.join(timeout=max(0.0, hold - (time.perf_counter() - held_from)))
        released = time.perf_counter()
        reader.commit()
        run.join()
        after = time.perf_counter() - released
    reader.close()
    lockwait.ATTEMPT_SECONDS = attempt
    r = report["r"]
    print(f"{name:<10} {'bounded' if bounded else 'unbounded':<9}: worst read {pollers.worst:.2f} s of "
          f"{pollers.reads:,} reads, {pollers.failed} failed, {pollers.wrong} wrong count; {r.lock_attempts} lock "
          f"attempts, waited {r.lock_wait_seconds:.1f} s; run done {after:.1f} s after the {hold:.0f} s reader; "
          f"swap window {(r.swap_window_seconds or 0) * 1000:.0f} ms", flush=True)
    return pollers.worst


@contextlib.contextmanager
def swapped_targets(users: int) -> Iterator[Targets]:
    """The DuckDB warehouse of ``users`` users and the two targets, their connections set in this process."""
    folder = tmpdir()
    build_duckdb_warehouse(str(folder / "wh.duckdb"), users)
    os.environ["AIRFLOW_CONN_BENCH_DUCK"] = duckdb_conn_json(folder / "wh.duckdb")
    try:
        with targets() as target:
            os.environ.update(target.env)
            yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main_long_reader() -> None:
    hold = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    users = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    with swapped_targets(users) as (pg_db, my_db, _):
        for bounded in (False, True):
            long_reader("PostgreSQL", "bench_pg", "postgres", lambda: pg_connect(pg_db), hold, users, bounded)
            long_reader("MariaDB", "bench_my", "mysql", lambda: mysql_connect(my_db), hold, users, bounded)


def main() -> None:
    if sys.argv[1:2] == ["--long-reader"]:
        main_long_reader()
        return
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    results = {}
    with swapped_targets(users) as (pg_db, my_db, _):
        results["PostgreSQL"] = measure("PostgreSQL", "bench_pg", "postgres", lambda: pg_connect(pg_db), runs, users)
        results["MariaDB"] = measure("MariaDB", "bench_my", "mysql", lambda: mysql_connect(my_db), runs, users)
    print("failed / wrong-count reads during swaps (0 / 0 wanted): "
          + ", ".join(f"{k} {v['failed']} / {v['wrong']} of {v['reads']:,}" for k, v in results.items()))


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    main()
