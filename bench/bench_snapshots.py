"""Bench (issue 23, part 2): the warehouse-side snapshot of a ``changes`` service, on its own.

    .venv/bin/python -m bench.bench_snapshots [--users N] [--warehouses pg,duck] [--duckdb-memory 2GB]

The warehouse of ``bench_changes.py`` (one source table of 3 data dates: D-1 users 1..N; D 1% of them
with another city, 0.1% removed, 0.1% new; D+1 every city changed), with an index on the date column on
PostgreSQL, and a scratch place in the connection's extra (a schema; an ATTACHed DuckDB file). Timed, each
through ``engine/snapshots.py`` as a run calls it: ``rebuild`` from D-1's extract, ``sample`` of 10,000
rows of D, ``diff`` of D (the FULL JOIN of every row with the snapshot), ``promote``, and ``diff`` of D
again (nothing changed).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.bench_changes import ALL, DAY, PREV, build_duckdb, build_pg
from bench.common import duckdb_conn_json, pg_database, spec_dict, tmpdir
from tests.live import pg_conn_json


def timed(label: str, fn: Any, *args: Any) -> Any:
    started = time.perf_counter()
    out = fn(*args)
    print(f"  {label:<28} {time.perf_counter() - started:7.2f} s  {out if out is not None else ''}", flush=True)
    return out


@contextlib.contextmanager
def warehouse(which: str, users: int, duckdb_memory: str | None) -> Iterator[str]:
    """A warehouse of ``which`` with the bench's rows and a scratch place: its connection id."""
    if which == "pg":
        with pg_database() as db:
            started = time.perf_counter()
            build_pg(db, users)
            print(f"PostgreSQL warehouse {db}: {time.perf_counter() - started:.1f}s", flush=True)
            os.environ["AIRFLOW_CONN_BENCH_SNAP_PG"] = pg_conn_json(db, extra={"tagoffline_scratch": "tagoffline"})
            yield "bench_snap_pg"
    else:
        folder = tmpdir()
        try:
            path = str(Path(folder) / "warehouse.duckdb")
            started = time.perf_counter()
            build_duckdb(path, users)
            print(f"DuckDB warehouse {path}: {time.perf_counter() - started:.1f}s", flush=True)
            conn = json.loads(duckdb_conn_json(path))
            conn["extra"] = {**(conn.get("extra") or {}), "tagoffline_scratch": str(Path(folder) / "scratch.duckdb"),
                             **({"memory_limit": duckdb_memory} if duckdb_memory else {})}
            os.environ["AIRFLOW_CONN_BENCH_SNAP_DUCK"] = json.dumps(conn)
            yield "bench_snap_duck"
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def measure(conn_id: str) -> None:
    from airflow_provider_tagoffline.connections import resolve_connection
    from airflow_provider_tagoffline.engine.extract import build_extract_query
    from airflow_provider_tagoffline.engine.snapshots import Snapshots
    from airflow_provider_tagoffline.engine.warehouse import Warehouse
    from airflow_provider_tagoffline.runspec import RunSpec

    spec = RunSpec.model_validate(spec_dict("t", "sqlite", conn_id))
    wh = Warehouse(resolve_connection(conn_id))
    snaps = Snapshots.open(wh, "bench")
    assert snaps is not None
    key, columns = spec.entity_key.code, [o.column for o in spec.outputs]

    def extract(day: str) -> Any:
        return build_extract_query(spec, wh.dialect, dt.date.fromisoformat(day))

    timed("rebuild (D-1)", snaps.rebuild, extract(PREV), key, columns, "a1", "sig")
    timed("sample 10,000 rows (D)", snaps.sample, extract(DAY), key, columns, 10_000)
    timed("diff (D: 1% changed)", snaps.diff, extract(DAY), key, columns, "b2")
    timed("promote", snaps.promote, "b2")
    timed("diff (D again: 0%)", snaps.diff, extract(DAY), key, columns, "c3")
    timed("discard_pending", snaps.discard_pending)
    timed("diff (D+1: 100% changed)", snaps.diff, extract(ALL), key, columns, "d4")
    timed("promote", snaps.promote, "d4")
    print(f"  state: {snaps.state()}", flush=True)
    snaps.drop()
    wh.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=5_000_000)
    parser.add_argument("--warehouses", default="pg,duck")
    parser.add_argument("--duckdb-memory", help="memory_limit in the DuckDB warehouse's extra (default: none)")
    args = parser.parse_args()
    for which in args.warehouses.split(","):
        with warehouse(which, args.users, args.duckdb_memory) as conn_id:
            print(f"{which}, {args.users:,} users:", flush=True)
            measure(conn_id)


if __name__ == "__main__":
    main()
