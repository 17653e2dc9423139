"""Bench (issue 23): load mode ``changes`` against ``overwrite`` on the same data date, in the same run.

    .venv/bin/python -m bench.bench_changes [--users N] [--warehouses pg,duck] [--targets pg,my] [--json FILE]

The 10-tag warehouse of ``common.py`` (PostgreSQL and DuckDB, the same rows) holds three data dates:

- D-1 = 2026-11-22: users 1..N, what the target holds before each measured run;
- D   = 2026-11-23: 1% of the users with another city, 0.1% removed, 0.1% new IDs after N;
- D+1 = 2026-11-24: every user with another city (100% changed).

Per warehouse and target (PostgreSQL, MariaDB): the target is set to D-1 by an overwrite run, then one
run of D is measured — ``overwrite``, then (target set back to D-1) ``changes`` — and the table it leaves
is compared with the overwrite result row for row (EXCEPT ALL both ways, NULLs equal). Then ``changes`` of
D again (0% changed), and, the target back on D-1, ``overwrite`` and ``changes`` of D+1 (100% changed: the
run switches to the swap by itself). Times are the whole ``run_export`` in this process; WAL bytes are
``pg_current_wal_lsn()`` before and after each run on the PostgreSQL server, and of those the bytes of WAL
records touching the target's database (``pg_walinspect``): the ratio uses the latter, which other
sessions of a shared server do not inflate. The last lines are the ratios changes/overwrite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import (
    PG_TYPES,
    SQL_TYPES,
    TAGS,
    duckdb_conn_json,
    pg_database,
    spec_dict,
    targets,
    tmpdir,
)
from tests.live import mysql_connect, pg_conn_json, pg_connect

PREV, DAY, ALL = "2026-11-22", "2026-11-23", "2026-11-24"


def _rows_sql(engine: str, users: int, series: str) -> str:
    """The three data dates' rows (see the module's docstring) as one INSERT ... SELECT."""
    exprs = [e if engine == "duckdb" else p for _, _, e, p in TAGS]
    city = [c for c, _, _, _ in TAGS].index("city")
    moved, every = list(exprs), list(exprs)
    moved[city] = "CASE WHEN i % 100 = 2 THEN 'moved_' || (i % 1000) ELSE " + exprs[city] + " END"
    every[city] = "'all_' || (i % 1000)"
    added = max(1, users // 1000)
    return (f"SELECT i, {', '.join(exprs)}, '20261122' FROM {series.format(lo=1, hi=users)} "
            f"UNION ALL SELECT i, {', '.join(moved)}, '20261123' FROM {series.format(lo=1, hi=users + added)} "
            f"WHERE i % 1000 <> 1 "
            f"UNION ALL SELECT i, {', '.join(every)}, '20261124' FROM {series.format(lo=1, hi=users)}")


def build_duckdb(path: str, users: int) -> None:
    import duckdb

    con = duckdb.connect(path)
    cols = ", ".join(f"{c} {SQL_TYPES[t]}" for c, t, _, _ in TAGS)
    con.execute(f"CREATE TABLE dws_user_tags_d (user_id BIGINT, {cols}, ds VARCHAR)")
    con.execute("INSERT INTO dws_user_tags_d " + _rows_sql("duckdb", users, "range({lo}, {hi} + 1) t(i)"))
    con.close()


def build_pg(dbname: str, users: int) -> None:
    with pg_connect(dbname) as con:
        cols = ", ".join(f"{c} {PG_TYPES[t]}" for c, t, _, _ in TAGS)
        con.execute(f"CREATE TABLE dws_user_tags_d (user_id bigint, {cols}, ds text)")
        con.execute("INSERT INTO dws_user_tags_d " + _rows_sql("postgres", users, "generate_series({lo}, {hi}) i"))
        con.execute("CREATE INDEX ON dws_user_tags_d (ds)")
        con.execute("ANALYZE dws_user_tags_d")


@contextlib.contextmanager
def warehouses(users: int, which: list[str]) -> Iterator[dict[str, str]]:
    """The warehouses asked for, each an Airflow connection id set in this process's environment."""
    with contextlib.ExitStack() as stack:
        out: dict[str, str] = {}
        if "pg" in which:
            db = stack.enter_context(pg_database())
            started = time.perf_counter()
            build_pg(db, users)
            print(f"PostgreSQL warehouse {db}: {time.perf_counter() - started:.1f}s", flush=True)
            os.environ["AIRFLOW_CONN_BENCH_WH_PG"] = pg_conn_json(db)
            out["pg"] = "bench_wh_pg"
        if "duck" in which:
            folder = tmpdir()
            stack.callback(shutil.rmtree, folder, ignore_errors=True)
            path = str(Path(folder) / "warehouse.duckdb")
            build_duckdb(path, users)
            os.environ["AIRFLOW_CONN_BENCH_WH_DUCK"] = duckdb_conn_json(path)
            out["duck"] = "bench_wh_duck"
        yield out


def wal_lsn() -> str:
    with pg_connect() as con:
        return str(con.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])


def wal_bytes(since: str, dbname: str) -> tuple[int, int | None, int | None]:
    """WAL bytes the server wrote since ``since``, and (pg_walinspect) those of records touching database
    ``dbname``: other sessions' writes on a shared server do not count there (None: not readable)."""
    with pg_connect(dbname) as con:
        end = str(con.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])
        total = int(con.execute("SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)", [end, since]).fetchone()[0])
        try:
            ours, fpi = con.execute(
                "SELECT COALESCE(SUM(record_length), 0), COALESCE(SUM(fpi_length), 0) "
                "FROM pg_get_wal_records_info(%s::pg_lsn, %s::pg_lsn) "
                "WHERE block_ref LIKE '%%/' || (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "|| '/%%'", [since, end]).fetchone()
        except Exception:  # the WAL was recycled meanwhile, or no pg_walinspect
            return total, None, None
        return total, int(ours), int(fpi)


class Target:
    """One target database: SQL on it, and the runs into it."""

    def __init__(self, kind: str, db: str, conn_id: str, warehouse_conn_id: str):
        self.kind, self.db = kind, db
        self.overwrite = spec_dict(conn_id, "postgres" if kind == "pg" else "mysql", warehouse_conn_id)
        self.changes = {**self.overwrite, "target": {**self.overwrite["target"], "load": "changes"}}

    def sql(self, *statements: str) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        if self.kind == "pg":
            with pg_connect(self.db) as con:
                for s in statements:
                    cur = con.execute(s)
                    rows = list(cur.fetchall()) if cur.description else []
            return rows
        con = mysql_connect(self.db)
        try:
            cur = con.cursor()
            for s in statements:
                cur.execute(s)
                rows = list(cur.fetchall())
            return rows
        finally:
            con.close()

    def run(self, spec: dict[str, Any], day: str) -> dict[str, Any]:
        from airflow_provider_tagoffline.runs import run_export

        lsn = wal_lsn()
        started = time.perf_counter()
        report = run_export(spec, day, allow_older=True)
        seconds = time.perf_counter() - started
        server_wal, wal, fpi = wal_bytes(lsn, self.db) if self.kind == "pg" else (None, None, None)
        return {"seconds": round(seconds, 3), "wal_bytes": wal, "wal_fpi_bytes": fpi, "server_wal_bytes": server_wal,
                "load_mode": report.load_mode, "inserted": report.rows_inserted, "updated": report.rows_updated,
                "deleted": report.rows_deleted, "unchanged": report.rows_unchanged, "rows": report.rows_written,
                "phases": report.phases}

    def keep_reference(self) -> None:
        self.sql("DROP TABLE IF EXISTS user_tags_ref", "CREATE TABLE user_tags_ref AS SELECT * FROM user_tags")

    def differing_rows(self) -> int:
        """Rows in one of user_tags and user_tags_ref and not in the other (0: equal row for row)."""
        one = self.sql("SELECT COUNT(*) FROM (SELECT * FROM user_tags EXCEPT ALL SELECT * FROM user_tags_ref) x")
        two = self.sql("SELECT COUNT(*) FROM (SELECT * FROM user_tags_ref EXCEPT ALL SELECT * FROM user_tags) x")
        return int(one[0][0]) + int(two[0][0])


def measure(t: Target) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if t.kind == "pg":
        t.sql("CREATE EXTENSION IF NOT EXISTS pg_walinspect")  # the WAL of this database alone
    out["overwrite"], out["changes"], out["differing_rows"] = overwrite_then_changes(t, DAY)
    out["changes_0pct"] = t.run(t.changes, DAY)  # the same day again: nothing changed
    out["differing_rows_0pct"] = t.differing_rows()
    out["overwrite_100pct"], out["changes_100pct"], out["differing_rows_100pct"] = overwrite_then_changes(t, ALL)
    return out


def overwrite_then_changes(t: Target, day: str) -> tuple[dict[str, Any], dict[str, Any], int]:
    """From the table of PREV: an overwrite run of ``day`` (kept as the reference), then, from PREV again, a
    changes run of ``day``; returns both measurements and the rows where the two tables differ."""
    t.run(t.overwrite, PREV)
    overwrite = t.run(t.overwrite, day)
    t.keep_reference()
    t.run(t.overwrite, PREV)
    changes = t.run(t.changes, day)
    return overwrite, changes, t.differing_rows()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--warehouses", default="pg,duck")
    ap.add_argument("--targets", default="pg,my")
    ap.add_argument("--json", help="write the figures to this file too")
    args = ap.parse_args()
    # a SIGTERM ends the run through the context managers: its databases and files are dropped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.disable(logging.INFO)  # each run's report lines: the figures below say what is measured
    results: dict[str, Any] = {"users": args.users}
    kinds = args.targets.split(",")
    with warehouses(args.users, args.warehouses.split(",")) as whs, targets(mysql="my" in kinds) as tg:
        os.environ.update(tg.env)
        for wh, wh_conn in whs.items():
            for kind in kinds:
                t = Target(kind, tg.pg if kind == "pg" else tg.my, f"bench_{kind}", wh_conn)
                name = f"{wh}->{kind}"
                print(f"== {name}, {args.users} users", flush=True)
                results[name] = r = measure(t)
                for case, figures in r.items():
                    print(f"  {case}: {figures}", flush=True)
                t.sql("DROP TABLE IF EXISTS user_tags_ref")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"\nratios changes / overwrite, {args.users} users (1% updated, 0.1% removed, 0.1% added):")
    for name, r in results.items():
        if name == "users":
            continue
        o, c, z, o100, c100 = (r[k] for k in ("overwrite", "changes", "changes_0pct", "overwrite_100pct",
                                              "changes_100pct"))
        wal = (f", WAL {c['wal_bytes'] / o['wal_bytes']:.3f} (0%: {z['wal_bytes'] / o['wal_bytes']:.4f}; "
               f"{o['wal_bytes'] / 1e6:.0f} MB for overwrite)" if o["wal_bytes"] and c["wal_bytes"] is not None
               and z["wal_bytes"] is not None else "")
        print(f"  {name}: time {c['seconds'] / o['seconds']:.2f} (0%: {z['seconds'] / o['seconds']:.2f}, "
              f"100%: {c100['seconds'] / o100['seconds']:.2f}){wal}; equal to overwrite: "
              f"{r['differing_rows'] == 0 and r['differing_rows_0pct'] == 0 and r['differing_rows_100pct'] == 0}")


if __name__ == "__main__":
    main()
