"""How many exports one warehouse and one target server take at once.

    .venv/bin/python -m bench.bench_concurrency [USERS] [LEVELS]   (default 500000 users, levels 1,2,4)

K services export at the same time from one PostgreSQL warehouse (the 10-tag table of
``bench/common.py``, one partition of USERS rows) into K tables of one target server, each run in
its own process as a worker runs it. Printed per target family and K: the wall time until the last
run ends, each run's own time, and the aggregate rows per second; the last line is the scaling
against K = 1 in the same run (1.0 = no gain from running more at once: the servers or the cores
are saturated). The reference is the single run: what matters for sizing a pool is where the
aggregate stops growing.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

from bench.common import pg_warehouse, run_export_subprocess, spec_dict, targets
from tests.live import pg_conn_json


def run_together(specs: list[dict[str, Any]], env: dict[str, str]) -> tuple[float, list[float]]:
    """Start every run at once; the wall time until the last ends and each run's own seconds."""
    own: list[float] = [0.0] * len(specs)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            run = run_export_subprocess(specs[i], env)
            own[i] = run.seconds
        except BaseException as exc:  # reported after the others finished
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(specs))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return wall, own


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    levels = [int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "1,2,4").split(",")]
    most = max(levels)
    print(f"building the warehouse: {users:,} users x 10 tags; levels {levels} (cores: {os.cpu_count()})", flush=True)
    tables = [f"user_tags_{i}" for i in range(most)]
    with pg_warehouse(users) as wh_db, targets(*tables) as target:
        env = {"AIRFLOW_CONN_BENCH_PGWH": pg_conn_json(wh_db), **target.env}
        for conn_id, kind in (("bench_pg", "postgres"), ("bench_my", "mysql")):
            aggregate: dict[int, float] = {}
            for k in levels:
                specs = []
                for t in tables[:k]:
                    spec = spec_dict(conn_id, kind, "bench_pgwh", table=t)
                    spec["service"] = {**spec["service"], "name": f"bench_{t}", "slug": f"bench_{t}"}
                    specs.append(spec)
                wall, own = run_together(specs, env)
                aggregate[k] = k * users / wall
                print(f"{kind:<8} K={k}: wall {wall:6.2f} s, each " + ", ".join(f"{s:.2f}" for s in own)
                      + f" s, aggregate {aggregate[k]:,.0f} rows/s", flush=True)
            print(f"{kind:<8} scaling vs K=1: "
                  + ", ".join(f"K={k} {aggregate[k] / aggregate[levels[0]]:.2f}" for k in levels), flush=True)
    print(json.dumps({"users": users, "levels": levels}))


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    main()
