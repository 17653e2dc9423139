"""Bench (c): our engine against Airflow's GenericTransfer on the same job and rows.

    .venv/bin/python -m bench.bench_generic_transfer [USERS]   (default 200,000: GenericTransfer
                                                               holds the whole result in memory)

Source: a PostgreSQL warehouse; targets PostgreSQL and MariaDB tables of the same shape.
GenericTransfer runs with its defaults (fetch all, insert_rows committing every 1000 rows) after
truncating the target. The last line is the ratio of throughputs, ours / GenericTransfer (target >= 8).
"""

from __future__ import annotations

import os
import sys
import time

from bench.common import TAGS, pg_warehouse, run_export_subprocess, spec_dict, targets
from tests.live import pg_conn_json

COLS = "user_id, " + ", ".join(c for c, _, _, _ in TAGS)


def generic_transfer(destination: str, preoperator: str, users: int) -> float:
    from airflow.providers.common.sql.operators.generic_transfer import GenericTransfer

    op = GenericTransfer(task_id="gt", source_conn_id="bench_pgwh", destination_conn_id=destination,
                         sql=f"SELECT {COLS} FROM dws_user_tags_d WHERE ds = '20261123'",
                         destination_table="user_tags", preoperator=preoperator)
    start = time.perf_counter()
    op.execute(context={})
    return time.perf_counter() - start


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    ratios = {}
    with pg_warehouse(users) as wh, targets() as target:
        env = {"AIRFLOW_CONN_BENCH_PGWH": pg_conn_json(wh), **target.env}
        os.environ.update(env)
        for name, conn_id, kind in (("PostgreSQL", "bench_pg", "postgres"), ("MariaDB", "bench_my", "mysql")):
            ours, _, _, report = run_export_subprocess(spec_dict(conn_id, kind, "bench_pgwh"), env)
            assert report["rows_written"] == users
            gt = generic_transfer(conn_id, "DELETE FROM user_tags", users)
            ratios[name] = gt / ours
            print(f"-> {name:<10}: ours {ours:6.2f} s ({users / ours:,.0f} rows/s), GenericTransfer {gt:6.2f} s "
                  f"({users / gt:,.0f} rows/s)", flush=True)
    print("throughput ratio ours/GenericTransfer (>= 8 wanted): "
          + ", ".join(f"{k} {v:.1f}x" for k, v in ratios.items()))


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    main()
