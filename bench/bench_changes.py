"""Bench (issue 23): load mode ``changes`` against ``overwrite`` on the same data date, in the same run.

    .venv/bin/python -m bench.bench_changes [--users N] [--warehouses pg,duck] [--targets pg,my] [--scratch]
                                            [--duckdb-memory LIMIT] [--pg-fillfactor N]
                                            [--pg-wal-compression METHOD]
                                            [--readers N] [--kill [--phases P,Q]] [--no-times] [--json FILE]

The 10-tag warehouse of ``common.py`` (PostgreSQL and DuckDB, the same rows) holds three data dates:

- D-1 = 2026-11-22: users 1..N, what the target holds before each measured run;
- D   = 2026-11-23: 1% of the users with another city, 0.1% removed, 0.1% new IDs after N;
- D+1 = 2026-11-24: every user with another city (100% changed).

Per warehouse and target (PostgreSQL, MariaDB), each target with a service of its own:

**Times** (unless ``--no-times``): the target is set to D-1 by an overwrite run, then ``overwrite`` of D is
measured and its table kept as the reference; then D-1 is written by a ``changes`` run (the service's own
write, which a warehouse-side diff needs to trust: its first run swaps and writes the snapshot) and ``changes``
of D is measured; the table it leaves is compared with the overwrite result row for row (EXCEPT ALL both ways
on PostgreSQL, a join on the key on MariaDB; NULLs equal). Then ``changes`` of D again (0% changed), and the
same for D+1 (100% changed: the run switches to the swap by itself). Each run starts right after a
``CHECKPOINT`` of the PostgreSQL server. Times are the whole ``run_export`` in this process; WAL bytes are
``pg_current_wal_lsn()`` before and after each run on the PostgreSQL server, and of those the bytes of WAL
records touching the target's database (``pg_walinspect``): the ratio uses the latter, which other sessions of
a shared server do not inflate.
The last lines are the ratios changes/overwrite.

**Readers** (``--readers N``): N processes, each with its own connection to the target, read an invariant of
the whole table — COUNT(*), SUM(user_id), SUM(LENGTH(city)), which tells D-1 from D and any mix of the two —
in a loop during 10 consecutive ``changes`` runs alternating D and D-1; they count reads, failed reads
(exceptions) and mixed states (an invariant of neither date's overwrite reference).

**Kill** (``--kill``): for each checkpoint of ``engine/faults.py`` (asked at run time), a child process runs
``changes`` of D and is SIGKILLed there (``TAGOFFLINE_CRASH_AT``, as tests/conformance/changes.py does); the
table must then hold D-1 or D whole, and after a normal run of D equal the overwrite reference of D. A
checkpoint the run does not pass through is said, not counted as a failure. ``--phases`` names the checkpoints
instead (one faults.py does not list, such as ``before_swap``).

``--scratch`` gives the warehouse connections the extra ``tagoffline_scratch`` (PostgreSQL: a schema; DuckDB:
the file scratch.duckdb beside the warehouse), so ``changes`` runs diff in the warehouse where the engine does
that; without it (or where it does not) they diff in the target. Every table a run leaves is compared with the
overwrite result of its date; the exit status is 1 when one differs, a read failed, a state was mixed or a
killed run was not recovered.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import multiprocessing
import os
import queue
import shutil
import signal
import subprocess
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
NAMES = {PREV: "D-1", DAY: "D", ALL: "D+1"}
#: the scratch place's name on a PostgreSQL warehouse (a schema of the warehouse's database)
SCRATCH_SCHEMA = "tagoffline_scratch"
#: consecutive changes runs the readers poll through
READER_RUNS = 10
#: a reader's pause between two reads (as the tests' LiveReader): polling, not a CPU-bound loop that would slow
#: the runs it watches on a small machine
READ_PAUSE = 0.02
#: one row identifying a data date's whole table: a mix of two dates' rows matches neither (the 1% moved
#: cities change the lengths, the removed and added IDs the count and the sum)
INVARIANT_SQL = "SELECT COUNT(*), COALESCE(SUM(user_id), 0), COALESCE(SUM(LENGTH(city)), 0) FROM {table}"
#: a changes run in a child process, the data date in argv[1], the spec in $BENCH_SPEC; killed at the checkpoint
#: $TAGOFFLINE_CRASH_AT names (the way tests/conformance/changes.py kills its runs)
CHILD_RUN = ("import json, os, sys; from airflow_provider_tagoffline.runs import run_export; "
             "run_export(json.loads(os.environ['BENCH_SPEC']), sys.argv[1], allow_older=True)")


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
def warehouses(users: int, which: list[str], scratch: bool,
               duckdb_memory: str | None = None) -> Iterator[dict[str, str]]:
    """The warehouses asked for, each an Airflow connection id set in this process's environment; with
    ``scratch``, each connection names its scratch place (the extra ``tagoffline_scratch``); ``duckdb_memory``:
    the DuckDB connection's extra ``memory_limit`` (None: the engine's default per thread)."""
    with contextlib.ExitStack() as stack:
        out: dict[str, str] = {}
        if "pg" in which:
            db = stack.enter_context(pg_database())
            started = time.perf_counter()
            build_pg(db, users)
            print(f"PostgreSQL warehouse {db}: {time.perf_counter() - started:.1f}s", flush=True)
            extra = {"extra": {"tagoffline_scratch": SCRATCH_SCHEMA}} if scratch else {}
            os.environ["AIRFLOW_CONN_BENCH_WH_PG"] = pg_conn_json(db, **extra)
            out["pg"] = "bench_wh_pg"
        if "duck" in which:
            folder = tmpdir()
            stack.callback(shutil.rmtree, folder, ignore_errors=True)
            path = str(Path(folder) / "warehouse.duckdb")
            build_duckdb(path, users)
            extra = {"tagoffline_scratch": str(Path(folder) / "scratch.duckdb")} if scratch else {}
            if duckdb_memory:
                extra["memory_limit"] = duckdb_memory
            os.environ["AIRFLOW_CONN_BENCH_WH_DUCK"] = duckdb_conn_json(path, **extra)
            out["duck"] = "bench_wh_duck"
        yield out


def checkpoint() -> None:
    """A checkpoint of the PostgreSQL server (warehouse and target alike) before each timed run, outside its
    time: every run starts with no dirty page and no WAL owed, so none pays for the one before it, and a
    ``changes`` run logs each page it first touches whole (a full-page image), as a daily run does — the
    server checkpoints every 5 minutes. Then the machine's own dirty pages written out (``sync``): a DuckDB
    warehouse file or scratch file the run before wrote would otherwise be flushed during this one."""
    with pg_connect() as con:
        con.execute("CHECKPOINT")
    os.sync()


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


def connect(kind: str, db: str) -> Any:
    """A DB-API connection to target database ``db`` (autocommit: each statement sees the latest commit)."""
    return pg_connect(db) if kind == "pg" else mysql_connect(db)


def read_invariant(con: Any, table: str = "user_tags") -> tuple[int, int, int]:
    cur = con.cursor()
    cur.execute(INVARIANT_SQL.format(table=table))
    count, ids, lengths = cur.fetchone()
    cur.close()
    return int(count), int(ids), int(lengths)


class Target:
    """One target database: SQL on it, the runs into it, and the overwrite reference of each data date."""

    def __init__(self, kind: str, db: str, conn_id: str, warehouse_conn_id: str):
        self.kind, self.db = kind, db
        spec = spec_dict(conn_id, "postgres" if kind == "pg" else "mysql", warehouse_conn_id)
        # a service per target: a snapshot in the warehouse is one service's, and the targets share a warehouse
        service = f"bench_{kind}"
        self.overwrite = {**spec, "service": {**spec["service"], "name": service, "slug": service}}
        self.changes = {**self.overwrite, "target": {**self.overwrite["target"], "load": "changes"}}
        self.invariants: dict[str, tuple[int, int, int]] = {}  # data date -> invariant of its reference

    def sql(self, *statements: str) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        con = connect(self.kind, self.db)
        try:
            cur = con.cursor()
            for s in statements:
                cur.execute(s)
                rows = list(cur.fetchall()) if cur.description else []
            return rows
        finally:
            con.close()

    def run(self, spec: dict[str, Any], day: str) -> dict[str, Any]:
        from airflow_provider_tagoffline.runs import run_export

        checkpoint()
        lsn = wal_lsn() if self.kind == "pg" else ""
        started = time.perf_counter()
        report = run_export(spec, day, allow_older=True)
        seconds = time.perf_counter() - started
        server_wal, wal, fpi = wal_bytes(lsn, self.db) if self.kind == "pg" else (None, None, None)
        return {"seconds": round(seconds, 3), "wal_bytes": wal, "wal_fpi_bytes": fpi, "server_wal_bytes": server_wal,
                "load_mode": report.load_mode, "inserted": report.rows_inserted, "updated": report.rows_updated,
                "deleted": report.rows_deleted, "unchanged": report.rows_unchanged, "rows": report.rows_written,
                "phases": report.phases}

    def checked_run(self, spec: dict[str, Any], day: str) -> dict[str, Any]:
        """A run of ``day``, its table compared with the overwrite reference of ``day`` (``differing_rows``)."""
        figures = self.run(spec, day)
        figures["differing_rows"] = self.differing_rows(day)
        return figures

    @staticmethod
    def reference(day: str) -> str:
        return "user_tags_ref_" + day.replace("-", "")

    def keep_reference(self, day: str) -> None:
        """The table as the overwrite run of ``day`` left it, kept as ``day``'s reference, and its invariant.
        On MariaDB a copy LIKE the table (its primary key too: ``differing_rows`` joins through it)."""
        ref = self.reference(day)
        copy = ([f"CREATE TABLE {ref} LIKE user_tags", f"INSERT INTO {ref} SELECT * FROM user_tags"]
                if self.kind == "my" else [f"CREATE TABLE {ref} AS SELECT * FROM user_tags"])
        self.sql(f"DROP TABLE IF EXISTS {ref}", *copy)
        con = connect(self.kind, self.db)
        try:
            self.invariants[day] = read_invariant(con, ref)
        finally:
            con.close()

    def references(self, *days: str) -> None:
        """An overwrite reference of each of ``days`` not kept yet (the table left on the last of them)."""
        for day in days:
            if day not in self.invariants:
                self.run(self.overwrite, day)
                self.keep_reference(day)

    def drop_references(self) -> None:
        self.sql(*(f"DROP TABLE IF EXISTS {self.reference(day)}" for day in NAMES))

    def differing_rows(self, day: str) -> int:
        """Rows in one of user_tags and the overwrite reference of ``day`` and not in the other (0: equal row for
        row). PostgreSQL: EXCEPT ALL both ways, NULLs equal. MariaDB, where EXCEPT ALL of 5M rows takes minutes:
        the same count through the primary key both tables have (each key once): the rows of one with no row of
        the same key and NULL-safe equal values in the other, both ways."""
        ref = self.reference(day)
        if self.kind == "my":
            same = " AND ".join(f"a.{c} <=> b.{c}" for c in ["user_id", *(c for c, _, _, _ in TAGS)])
            one = self.sql(f"SELECT COUNT(*) FROM user_tags a LEFT JOIN {ref} b ON b.user_id = a.user_id "
                           f"WHERE b.user_id IS NULL OR NOT ({same})")
            two = self.sql(f"SELECT COUNT(*) FROM {ref} a LEFT JOIN user_tags b ON b.user_id = a.user_id "
                           f"WHERE b.user_id IS NULL OR NOT ({same})")
            return int(one[0][0]) + int(two[0][0])
        one = self.sql(f"SELECT COUNT(*) FROM (SELECT * FROM user_tags EXCEPT ALL SELECT * FROM {ref}) x")
        two = self.sql(f"SELECT COUNT(*) FROM (SELECT * FROM {ref} EXCEPT ALL SELECT * FROM user_tags) x")
        return int(one[0][0]) + int(two[0][0])

    def holds(self) -> str | None:
        """The data date whose overwrite reference the table equals row for row (None: none of them)."""
        con = connect(self.kind, self.db)
        try:
            now = read_invariant(con)
        finally:
            con.close()
        day = next((d for d, inv in self.invariants.items() if inv == now), None)
        return day if day is not None and self.differing_rows(day) == 0 else None


# ---- times -----------------------------------------------------------------------------------------------------

def measure(t: Target) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if t.kind == "pg":
        t.sql("CREATE EXTENSION IF NOT EXISTS pg_walinspect")  # the WAL of this database alone
    t.references(PREV)
    (out["overwrite"], out["changes_prev"], out["changes"],
     out["differing_rows"]) = overwrite_then_changes(t, DAY)
    out["changes_0pct"] = t.checked_run(t.changes, DAY)  # the same day again: nothing changed
    out["differing_rows_0pct"] = out["changes_0pct"]["differing_rows"]
    (out["overwrite_100pct"], out["changes_prev_100pct"], out["changes_100pct"],
     out["differing_rows_100pct"]) = overwrite_then_changes(t, ALL)
    return out


def overwrite_then_changes(t: Target, day: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], int]:
    """From the table of PREV: an overwrite run of ``day`` (kept as the reference); then PREV written by a
    changes run (the service's own write: a warehouse-side diff trusts only that) and the measured changes run
    of ``day``. Returns the three runs' figures and the rows where the measured table differs from the
    reference."""
    t.run(t.overwrite, PREV)
    overwrite = t.run(t.overwrite, day)
    t.keep_reference(day)
    prev = t.checked_run(t.changes, PREV)
    changes = t.checked_run(t.changes, day)
    return overwrite, prev, changes, changes["differing_rows"]


def time_failures(r: dict[str, Any]) -> list[str]:
    return [f"{case}: {figures['differing_rows']} rows differ from overwrite" for case, figures in r.items()
            if isinstance(figures, dict) and figures.get("differing_rows")]


def print_ratios(results: dict[str, Any]) -> None:
    print(f"\nratios changes / overwrite, {results['users']} users (1% updated, 0.1% removed, 0.1% added):")
    for name, r in results["pairs"].items():
        if "changes" not in r:
            continue
        o, c, z, o100, c100 = (r[k] for k in ("overwrite", "changes", "changes_0pct", "overwrite_100pct",
                                              "changes_100pct"))
        wal = (f", WAL {c['wal_bytes'] / o['wal_bytes']:.3f} (0%: {z['wal_bytes'] / o['wal_bytes']:.4f}; "
               f"{o['wal_bytes'] / 1e6:.0f} MB for overwrite)" if o["wal_bytes"] and c["wal_bytes"] is not None
               and z["wal_bytes"] is not None else "")
        print(f"  {name}: time {c['seconds'] / o['seconds']:.2f} (0%: {z['seconds'] / o['seconds']:.2f}, "
              f"100%: {c100['seconds'] / o100['seconds']:.2f}){wal}; equal to overwrite: "
              f"{r['differing_rows'] == 0 and r['differing_rows_0pct'] == 0 and r['differing_rows_100pct'] == 0}")


# ---- readers ---------------------------------------------------------------------------------------------------

def reader(kind: str, db: str, invariants: dict[str, tuple[int, int, int]], stop: Any, out: Any) -> None:
    """One reader process: the table's invariant read in a loop (READ_PAUSE between reads) on its own
    connection (a new one after a failure, as an application's pool would), until ``stop``; puts ("ready", None)
    after its first read and ("done", figures) at the end."""
    days = {inv: day for day, inv in invariants.items()}
    reads = failed = mixed = 0
    seen: dict[str, int] = {}
    errors: list[str] = []
    states: list[list[int]] = []
    con = None
    while not stop.is_set():
        try:
            if con is None:
                con = connect(kind, db)
            now = read_invariant(con)
        except Exception as exc:
            failed += 1
            if len(errors) < 5:
                errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            with contextlib.suppress(Exception):
                con.close()  # type: ignore[union-attr]
            con = None
            continue
        if reads == 0:
            out.put(("ready", None))
        reads += 1
        day = days.get(now)
        if day is None:
            mixed += 1
            if len(states) < 5:
                states.append(list(now))
        else:
            seen[NAMES[day]] = seen.get(NAMES[day], 0) + 1
        stop.wait(READ_PAUSE)
    if con is not None:
        con.close()
    out.put(("done", {"reads": reads, "failed": failed, "mixed": mixed, "seen": seen, "errors": errors,
                      "mixed_states": states}))


def readers_during_runs(t: Target, count: int) -> dict[str, Any]:
    """``count`` reader processes polling the table during READER_RUNS changes runs alternating D and D-1."""
    t.references(PREV, DAY)
    first = t.checked_run(t.changes, PREV)  # PREV written by the service: the runs below can trust it
    ctx = multiprocessing.get_context("spawn")  # fresh processes, like an application's, not forks of this one
    stop, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=reader, args=(t.kind, t.db, t.invariants, stop, out), daemon=True)
             for _ in range(count)]
    runs: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    try:
        for p in procs:
            p.start()
        for _ in procs:
            kind, _ = out.get(timeout=120)  # each reader has read once: the runs start under their polling
            if kind != "ready":
                raise RuntimeError("a reader ended before its first read")
        for i in range(READER_RUNS):
            day = DAY if i % 2 == 0 else PREV
            figures = t.checked_run(t.changes, day)
            runs.append({"day": NAMES[day], **figures})
            print(f"    run {i + 1} ({NAMES[day]}): {figures['seconds']:.2f}s, {figures['load_mode']}, "
                  f"{figures['differing_rows']} rows differ from overwrite", flush=True)
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while len(results) < sum(p.pid is not None for p in procs):
                kind, figures = out.get(timeout=60)
                if kind == "done":
                    results.append(figures)
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    total = {k: sum(r[k] for r in results) for k in ("reads", "failed", "mixed")}
    return {"readers": count, "first": first, "runs": runs, **total, "per_reader": results,
            "errors": [e for r in results for e in r["errors"]][:5],
            "mixed_states": [s for r in results for s in r["mixed_states"]][:5],
            "differing_runs": sum(1 for r in runs if r["differing_rows"]) + bool(first["differing_rows"])}


def reader_failures(r: dict[str, Any]) -> list[str]:
    out = []
    if len(r["per_reader"]) < r["readers"]:
        out.append(f"{r['readers'] - len(r['per_reader'])} readers did not report")
    if r["failed"] or r["mixed"]:
        out.append(f"readers: {r['failed']} failed reads, {r['mixed']} mixed states")
    if r["differing_runs"]:
        out.append(f"readers: {r['differing_runs']} runs left a table differing from overwrite")
    return out


# ---- kill ------------------------------------------------------------------------------------------------------

def kill_phases() -> list[str]:
    """Every checkpoint of engine/faults.py, in run order (asked, not copied: phases added there come along)."""
    from airflow_provider_tagoffline.engine import faults

    phases = list(faults.CHECKPOINTS)
    phases += [p for p in faults.PHASES if p not in phases]
    return phases


def killed_runs(t: Target, phases: list[str]) -> list[dict[str, Any]]:
    """Per phase: from D-1 written by a changes run, a child's changes run of D SIGKILLed at the phase, what the
    table holds then, a normal changes run of D compared with its overwrite reference, and back to D-1."""
    from airflow_provider_tagoffline.engine import faults

    t.references(PREV, DAY)
    t.checked_run(t.changes, PREV)
    out: list[dict[str, Any]] = []
    for phase in phases:
        env = {**os.environ, "BENCH_SPEC": json.dumps(t.changes), faults.ENV: phase}
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", CHILD_RUN, DAY], env=env, capture_output=True, text=True,
                              timeout=1800, check=False)
        row: dict[str, Any] = {"phase": phase, "seconds": round(time.perf_counter() - started, 3),
                               "killed": proc.returncode == -signal.SIGKILL, "exit": proc.returncode}
        if proc.returncode not in (0, -signal.SIGKILL):
            row["error"] = proc.stderr.strip().splitlines()[-1:] or [""]
        held = t.holds()
        row["left"] = NAMES.get(held or "", "neither D-1 nor D")
        recovery = t.checked_run(t.changes, DAY)
        row["next_run"] = recovery
        row["differing_rows"] = recovery["differing_rows"]
        back = t.checked_run(t.changes, PREV)
        row["back_to_prev_differing_rows"] = back["differing_rows"]
        out.append(row)
        state = ("killed" if row["killed"] else
                 "not passed through (the run ended normally)" if proc.returncode == 0 else
                 f"FAILED, exit {proc.returncode}: {row['error'][0][:200]}")
        print(f"    kill at {phase}: {state}; left {row['left']}; next run {recovery['seconds']:.2f}s "
              f"{recovery['load_mode']}: {recovery['differing_rows']} rows differ from overwrite "
              f"(back to D-1: {back['differing_rows']})", flush=True)
    return out


def kill_failures(rows: list[dict[str, Any]]) -> list[str]:
    return [f"kill at {r['phase']}: exit {r['exit']}, left {r['left']}, {r['differing_rows']} rows differ after the "
            f"next run, {r['back_to_prev_differing_rows']} after D-1" for r in rows
            if r["exit"] not in (0, -signal.SIGKILL) or r["left"] not in ("D-1", "D") or r["differing_rows"]
            or r["back_to_prev_differing_rows"]]


# ---- main ------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def mariadb_buffer_pool(size: int | None) -> Iterator[None]:
    """The MariaDB server's buffer pool resized to ``size`` bytes for the block, then set back (a global of the
    shared server: the tests and the next bench find it as it was)."""
    if not size:
        yield
        return
    con = connect("my", "test")
    with con.cursor() as cur:
        cur.execute("SELECT @@innodb_buffer_pool_size")
        (before,) = cur.fetchone()
    try:
        with con.cursor() as cur:
            cur.execute(f"SET GLOBAL innodb_buffer_pool_size = {int(size)}")
            _pool_resized(cur, int(size))
        print(f"MariaDB innodb_buffer_pool_size {before} -> {int(size)} for the bench", flush=True)
        yield
    finally:
        with con.cursor() as cur:
            cur.execute(f"SET GLOBAL innodb_buffer_pool_size = {int(before)}")
            _pool_resized(cur, int(before))
        con.close()


def _pool_resized(cur: Any, size: int) -> None:
    # the resize runs in the background, chunk by chunk
    for _ in range(600):
        cur.execute("SELECT @@innodb_buffer_pool_size")
        (now,) = cur.fetchone()
        cur.execute("SHOW STATUS LIKE 'Innodb_buffer_pool_resize_status'")
        status = (cur.fetchone() or ("", ""))[1]
        if abs(int(now) - size) <= size * 0.01 and ("Completed" in status or not status):
            return
        time.sleep(0.1)


def snapshots_built() -> bool:
    """Whether the engine has the warehouse-side diff's snapshots (docs/changes-mode.md §2): before, a warehouse
    connection must not name a scratch place (the PostgreSQL hook hands an extra it does not know to libpq,
    which refuses it)."""
    return importlib.util.find_spec("airflow_provider_tagoffline.engine.snapshots") is not None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--warehouses", default="pg,duck")
    ap.add_argument("--targets", default="pg,my")
    ap.add_argument("--scratch", action="store_true",
                    help="give the warehouse connections a scratch place (the warehouse-side diff, where built)")
    ap.add_argument("--readers", type=int, default=0, metavar="N",
                    help=f"N readers polling the table during {READER_RUNS} changes runs")
    ap.add_argument("--kill", action="store_true", help="a changes run SIGKILLed at each checkpoint, then recovered")
    ap.add_argument("--phases", help="with --kill: these checkpoints (comma-separated) instead of engine/faults.py's")
    ap.add_argument("--no-times", action="store_true", help="skip the timed overwrite / changes comparison")
    ap.add_argument("--json", help="write the figures to this file too")
    ap.add_argument("--pg-fillfactor", type=int, metavar="N",
                    help="the PostgreSQL target table's fillfactor (kept by every swap): room on each page for "
                         "the changes' updates to stay on their page (HOT)")
    ap.add_argument("--pg-wal-compression", choices=["pglz", "lz4", "zstd"],
                    help="wal_compression for the sessions of the PostgreSQL target's database (e.g. lz4): the "
                         "full-page images compressed")
    ap.add_argument("--duckdb-memory", metavar="LIMIT",
                    help="the DuckDB warehouse connection's extra memory_limit (e.g. 2GB; default: the engine's "
                         "64 MiB per thread), for every run of both load modes")
    ap.add_argument("--mariadb-buffer-pool", metavar="BYTES", type=int,
                    help="the MariaDB server's innodb_buffer_pool_size during the bench (SET GLOBAL, the old size "
                         "set back at the end), e.g. 2147483648: a pool that holds the table")
    args = ap.parse_args()
    # a SIGTERM ends the run through the context managers: its databases and files are dropped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.disable(logging.INFO)  # each run's report lines: the figures below say what is measured
    phases = (args.phases.split(",") if args.phases else kill_phases()) if args.kill else []
    scratch = args.scratch and snapshots_built()
    if args.scratch and not scratch:
        print("--scratch: the engine has no snapshots (engine/snapshots.py) yet: no scratch place given, the "
              "changes runs diff in the target", flush=True)
    results: dict[str, Any] = {"users": args.users, "scratch": scratch, "duckdb_memory": args.duckdb_memory,
                               "pg_fillfactor": args.pg_fillfactor, "pg_wal_compression": args.pg_wal_compression,
                               "mariadb_buffer_pool": args.mariadb_buffer_pool, "pairs": {}}
    failures: list[str] = []
    kinds = args.targets.split(",")
    with (warehouses(args.users, args.warehouses.split(","), scratch, args.duckdb_memory) as whs,
          targets(mysql="my" in kinds) as tg, mariadb_buffer_pool(args.mariadb_buffer_pool if "my" in kinds else None)):
        os.environ.update(tg.env)
        if args.pg_fillfactor and "pg" in kinds:
            with pg_connect(tg.pg) as con:
                con.execute(f"ALTER TABLE user_tags SET (fillfactor = {int(args.pg_fillfactor)})")
        if args.pg_wal_compression and "pg" in kinds:
            with pg_connect() as con:  # a setting of the database (dropped at the end), not of the server
                con.execute(f"ALTER DATABASE \"{tg.pg}\" SET wal_compression = '{args.pg_wal_compression}'")
        for wh, wh_conn in whs.items():
            for kind in kinds:
                t = Target(kind, tg.pg if kind == "pg" else tg.my, f"bench_{kind}", wh_conn)
                name = f"{wh}->{kind}"
                print(f"== {name}, {args.users} users{', scratch place' if scratch else ''}", flush=True)
                results["pairs"][name] = r = {}
                if not args.no_times:
                    r.update(measure(t))
                    for case, figures in r.items():
                        print(f"  {case}: {figures}", flush=True)
                    failures += [f"{name} {f}" for f in time_failures(r)]
                if args.readers:
                    print(f"  {args.readers} readers during {READER_RUNS} changes runs (D, D-1, ...):", flush=True)
                    r["readers"] = rd = readers_during_runs(t, args.readers)
                    print(f"  readers: {rd['reads']} reads, {rd['failed']} failed, {rd['mixed']} mixed "
                          f"{rd['errors'] or ''}{rd['mixed_states'] or ''}", flush=True)
                    failures += [f"{name} {f}" for f in reader_failures(rd)]
                if phases:
                    print(f"  changes of D killed at each of {len(phases)} checkpoints:", flush=True)
                    r["kill"] = killed = killed_runs(t, phases)
                    failures += [f"{name} {f}" for f in kill_failures(killed)]
                t.drop_references()
    results["failures"] = failures
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if not args.no_times:
        print_ratios(results)
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
