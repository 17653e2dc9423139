"""Bench (issue 14): every catalog shape at the warehouse's speed, against the fastest plain query.

    .venv/bin/python -m bench.bench_shapes [--users N] [--rounds R] [--timeout S]
                                           [--shapes one,two,lookups,three_dup,text_ids] [--warehouses pg,duck]
                                           [--targets pg,my] [--json FILE]

Shapes (``shapes_data.py``): 1 source; 2 sources, each with its own partition column and format;
the same + an inline lookup + a table lookup; 3 sources, one with 1% duplicate IDs; text entity IDs
(a varchar primary key), 2 sources of which one lacks 14% of the IDs, both lookups. Warehouses:
PostgreSQL and DuckDB holding the same rows; targets: PostgreSQL and MariaDB.

Reference per shape, warehouse and target: the fastest plain query we could write for the same rows
(``shapes_data.reference_query``) streamed by the warehouse's own tool straight into the target's
bulk load, into a table of the same shape (primary key included):

- PostgreSQL warehouse: ``psql \\copy (query) to stdout | psql \\copy t from stdin`` or
  ``| mariadb -e "LOAD DATA LOCAL INFILE '/dev/stdin' ..."``;
- DuckDB warehouse: DuckDB's own ``COPY (query) TO '/dev/stdout'`` (a process that imported duckdb
  before the clock starts) piped into the same loaders.

Ours: one ``run_export`` (preflight, checks, extract, load, index, gates, swap) in a fresh process
with Airflow's hooks imported before the clock. Every process has a timeout (``--timeout``); a run
that hits it is killed (its process group) and reported as TIMEOUT, not waited for. Rounds are
interleaved (every reference and every export once per round); figures are medians. In the first
round, the exported table is compared with the reference table row for row (primary key join,
NULL-safe equality on every column), so each ratio compares the same rows. The last lines are
the table of ratios median_reference / median_ours (target >= 0.8).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import RUN_CODE, duckdb_conn_json, mysql_database, pg_database, tmpdir
from bench.shapes_data import (
    SHAPE_TITLES,
    SHAPES,
    build_statements,
    expected_rows,
    output_columns,
    reference_query,
    shape_spec,
    target_ddl,
)
from tests.live import (
    MYSQL_HOST,
    MYSQL_PASSWORD,
    MYSQL_PORT,
    MYSQL_USER,
    mysql_conn_json,
    mysql_connect,
    pg_conn_json,
    pg_connect,
    pg_url,
)

WAREHOUSES = {"pg": "PostgreSQL", "duck": "DuckDB"}
TARGETS = {"pg": "PostgreSQL", "my": "MariaDB"}


class Timeout(Exception):
    pass


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    """Stop a process we started and its children (its own session): TERM, then KILL after 5 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(5)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_all(procs: list[subprocess.Popen[Any]], deadline: float, what: str) -> None:
    try:
        for p in procs:
            p.wait(max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        for p in procs:
            _kill_group(p)
        raise Timeout(what) from None


# --- ours -----------------------------------------------------------------------------------------

def run_ours(spec: dict[str, Any], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """One ``run_export`` in a fresh process (own session, killed with its children on timeout)."""
    proc = subprocess.Popen([sys.executable, "-c", RUN_CODE], env={**os.environ, **env, "BENCH_SPEC": json.dumps(spec)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise Timeout(f"export did not finish in {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise RuntimeError((err.strip().splitlines() or ["?"])[-1][:400])
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


# --- references -----------------------------------------------------------------------------------

DUCK_COPY = (
    "import sys, duckdb; sys.stderr.write('ready\\n'); sys.stderr.flush(); sys.stdin.readline(); "
    "con = duckdb.connect(sys.argv[1], read_only=True); "
    # tab-separated, \\N for NULL, nothing quoted: the text format of COPY FROM and LOAD DATA alike.
    # Into a named pipe, as the engine does: written to /dev/stdout, DuckDB's output came out garbled.
    "con.execute(\"COPY (\" + sys.argv[2] + \") TO '\" + sys.argv[3] + \"' "
    "(FORMAT csv, DELIMITER '\\t', HEADER false, NULLSTR '\\\\N', QUOTE '')\")"
)


def loader_cmd(target: str, db: str, table: str, cols: list[str], source: str = "stdin") -> list[str]:
    """The target's bulk load of the text rows from stdin or from the file (pipe) ``source``."""
    if target == "pg":
        where = "stdin" if source == "stdin" else f"'{source}'"
        return ["psql", "-q", "-v", "ON_ERROR_STOP=1", pg_url(db),
                "-c", f"\\copy {table} ({', '.join(cols)}) from {where}"]
    path = "/dev/stdin" if source == "stdin" else source
    return ["mariadb", "--local-infile=1", "-h", MYSQL_HOST, "-P", str(MYSQL_PORT), "-u", MYSQL_USER,
            *([f"--password={MYSQL_PASSWORD}"] if MYSQL_PASSWORD else []),
            "--default-character-set=utf8mb4", db, "-e",
            f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table} CHARACTER SET utf8mb4 "
            f"({', '.join(f'`{c}`' for c in cols)}); SHOW WARNINGS"]


def run_reference(wh: str, where: str, query: str, target: str, db: str, table: str, cols: list[str],
                  timeout: float, folder: Path) -> float:
    """Seconds of the reference pipe: warehouse's own export of ``query`` into the target's bulk load."""
    deadline = time.monotonic() + timeout
    if wh == "pg":
        start = time.perf_counter()
        src = subprocess.Popen(["psql", "-q", "-v", "ON_ERROR_STOP=1", pg_url(where),
                                "-c", f"\\copy ({query}) to stdout"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        dst = subprocess.Popen(loader_cmd(target, db, table, cols), stdin=src.stdout, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
        assert src.stdout is not None
        src.stdout.close()  # the loader holds the pipe's read end alone: a failing loader stops the source
    else:
        fifo = folder / "reference.fifo"
        fifo.unlink(missing_ok=True)
        os.mkfifo(fifo, 0o600)
        src = subprocess.Popen([sys.executable, "-c", DUCK_COPY, where, query, str(fifo)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        assert src.stderr is not None and src.stdin is not None
        if src.stderr.readline().strip() != b"ready":  # duckdb imported: now the clock starts
            src.wait(timeout)
            raise RuntimeError("duckdb reference process: " + src.stderr.read().decode()[-400:])
        start = time.perf_counter()
        src.stdin.write(b"go\n")
        src.stdin.close()
        dst = subprocess.Popen(loader_cmd(target, db, table, cols, str(fifo)), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    _wait_all([src, dst], deadline, f"reference did not finish in {timeout:.0f} s")
    elapsed = time.perf_counter() - start
    assert src.stderr is not None and dst.stdout is not None and dst.stderr is not None
    problems = src.stderr.read().decode() + dst.stderr.read().decode() + dst.stdout.read().decode()
    if src.returncode or dst.returncode or problems.strip():  # SHOW WARNINGS prints any LOAD DATA warning
        raise RuntimeError(f"reference failed ({src.returncode}/{dst.returncode}): {problems.strip()[-600:]}")
    return elapsed


# --- checks ---------------------------------------------------------------------------------------

def compare_sql(target: str, table: str, ref: str, cols: list[str]) -> str:
    """Rows of ``ref`` with no equal row (same ID, NULL-safe equal columns) in ``table``."""
    if target == "pg":
        same = " AND ".join(f"r.{c} IS NOT DISTINCT FROM t.{c}" for c in cols)
    else:
        same = " AND ".join(f"r.`{c}` <=> t.`{c}`" for c in cols)
    return f"SELECT COUNT(*) FROM {ref} r LEFT JOIN {table} t ON t.user_id = r.user_id WHERE NOT ({same})"


def target_query(target: str, db: str, sql: str) -> Any:
    if target == "pg":
        with pg_connect(db) as c:
            cur = c.execute(sql)
            row = cur.fetchone() if cur.description else None
            return row[0] if row else None
    con = mysql_connect(db)
    try:
        cur = con.cursor()
        cur.execute(sql)
        row = cur.fetchone() if cur.description else None
        return row[0] if row else None
    finally:
        con.close()


def verify(target: str, db: str, table: str, ref: str, cols: list[str], rows: int) -> str:
    """'same N rows' or what differs between the exported table and the reference table."""
    n_t = target_query(target, db, f"SELECT COUNT(*) FROM {table}")
    n_r = target_query(target, db, f"SELECT COUNT(*) FROM {ref}")
    if n_t != n_r or n_t != rows:
        return f"DIFFERENT row counts: export {n_t:,}, reference {n_r:,}, expected {rows:,}"
    diff = target_query(target, db, compare_sql(target, table, ref, cols))
    return f"same {n_t:,} rows" if diff == 0 else f"DIFFERENT: {diff:,} reference rows without an equal exported row"


def stop_leftovers(pg_dbs: list[str], my_db: str) -> None:
    """End the server sessions of a killed run (ours, in our own bench databases only)."""
    with pg_connect() as c:
        c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY(%s) "
                  "AND pid <> pg_backend_pid()", (pg_dbs,))
    con = mysql_connect()
    try:
        cur = con.cursor()
        cur.execute("SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()",
                    (my_db,))
        for (thread_id,) in cur.fetchall():
            cur.execute(f"KILL {int(thread_id)}")
    finally:
        con.close()


# --- main -----------------------------------------------------------------------------------------

def build_warehouses(duck_path: str, pg_wh: str, users: int) -> None:
    import duckdb

    start = time.perf_counter()
    con = duckdb.connect(duck_path)
    for stmt in build_statements("duck", users):
        con.execute(stmt)
    con.close()
    with pg_connect(pg_wh) as c:
        for stmt in build_statements("pg", users):
            c.execute(stmt)
        c.execute("VACUUM ANALYZE")
    print(f"warehouses built in {time.perf_counter() - start:.0f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds per export or reference process")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--warehouses", default="pg,duck")
    ap.add_argument("--targets", default="pg,my")
    ap.add_argument("--json", help="write the measurements here too")
    args = ap.parse_args()
    shapes = args.shapes.split(",")
    whs, tgts = args.warehouses.split(","), args.targets.split(",")
    assert set(shapes) <= set(SHAPES) and set(whs) <= set(WAREHOUSES) and set(tgts) <= set(TARGETS), args
    users = args.users
    folder = tmpdir()
    duck = str(folder / "wh.duckdb")
    load = os.getloadavg()
    print(f"{users:,} entities; shapes {', '.join(shapes)}; {args.rounds} rounds; load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores", flush=True)
    combos = [(s, w, t) for s in shapes for w in whs for t in tgts]
    ours: dict[tuple[str, str, str], list[float]] = {c: [] for c in combos}
    refs: dict[tuple[str, str, str], list[float]] = {c: [] for c in combos}
    notes: dict[tuple[str, str, str], str] = {}
    checks: dict[tuple[str, str, str], str] = {}
    phases: dict[tuple[str, str, str], list[dict[str, float]]] = {c: [] for c in combos}
    failed: set[tuple[str, str, str]] = set()
    with pg_database() as pg_wh, pg_database() as pg_tgt, mysql_database() as my_tgt:
        build_warehouses(duck, pg_wh, users)
        env = {"AIRFLOW_CONN_BENCH_DUCK": duckdb_conn_json(duck),
               "AIRFLOW_CONN_BENCH_PGWH": pg_conn_json(pg_wh),
               "AIRFLOW_CONN_BENCH_PG": pg_conn_json(pg_tgt), "AIRFLOW_CONN_BENCH_MY": mysql_conn_json(my_tgt)}
        tgt_db = {"pg": pg_tgt, "my": my_tgt}
        specs = {}
        for shape, wh, tgt in combos:
            table = f"t_{shape}_{wh}"
            kind = "postgres" if tgt == "pg" else "mysql"
            spec = shape_spec(shape, f"bench_{tgt}", kind, "bench_pgwh" if wh == "pg" else "bench_duck", table)
            specs[(shape, wh, tgt)] = spec
            for name in (table, table + "_ref"):  # (shape, warehouse) names each table of a target database
                target_query(tgt, tgt_db[tgt], target_ddl(spec, name, tgt))
        for round_no in range(1, args.rounds + 1):
            for combo in combos:
                if combo in failed:
                    continue
                shape, wh, tgt = combo
                spec = specs[combo]
                table = spec["target"]["table"]
                cols = [c for c, _ in output_columns(spec)]
                label = f"round {round_no} {shape:>9} {WAREHOUSES[wh]:>10} -> {TARGETS[tgt]:<10}"
                try:
                    target_query(tgt, tgt_db[tgt], f"TRUNCATE TABLE {table}_ref")
                    where = duck if wh == "duck" else pg_wh
                    ref_s = run_reference(wh, where, reference_query(shape, wh, tgt == "my"), tgt, tgt_db[tgt],
                                          table + "_ref", cols, args.timeout, folder)
                    run = run_ours(spec, env, args.timeout)
                except (Timeout, RuntimeError) as exc:
                    failed.add(combo)
                    notes[combo] = f"{'TIMEOUT' if isinstance(exc, Timeout) else 'FAILED'}: {exc}"
                    print(f"{label}: {notes[combo]}", flush=True)
                    stop_leftovers([pg_wh, pg_tgt], my_tgt)
                    continue
                report = run["report"]
                refs[combo].append(ref_s)
                ours[combo].append(run["seconds"])
                phases[combo].append(report["phases"])
                rows = report["rows_written"]
                if round_no == 1:
                    checks[combo] = verify(tgt, tgt_db[tgt], table, table + "_ref", cols, expected_rows(shape, users))
                elif rows != expected_rows(shape, users):
                    checks[combo] = f"DIFFERENT row count in round {round_no}: {rows:,}"
                print(f"{label}: ours {run['seconds']:6.2f} s, reference {ref_s:6.2f} s, ratio "
                      f"{ref_s / run['seconds']:.2f}; {rows:,} rows, {report['duplicates_replaced']:,} duplicates "
                      f"replaced; peak RSS {run['rss'] / 1e6:.0f} MB; {report['load_method']}"
                      + (f"; {checks[combo]}" if round_no == 1 else ""), flush=True)
                print("      phases: " + ", ".join(f"{k} {v:.2f}" for k, v in report["phases"].items()), flush=True)
            summarize(combos, ours, refs, checks, notes, phases, users, round_no, args.json)
    shutil.rmtree(folder, ignore_errors=True)


def summarize(combos: list[tuple[str, str, str]], ours: dict[Any, list[float]], refs: dict[Any, list[float]],
              checks: dict[Any, str], notes: dict[Any, str], phases: dict[Any, list[dict[str, float]]], users: int,
              rounds: int, json_path: str | None) -> None:
    """The table of medians so far (printed after every round, so a cut-short run still has one)."""
    load = os.getloadavg()
    print(f"\nafter round {rounds}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("| shape | warehouse → target | ours, median (rounds) | reference, median | rows | ratio (≥ 0.8) |")
    print("|---|---|---|---|---|---|")
    results: list[dict[str, Any]] = []
    for combo in combos:
        shape, wh, tgt = combo
        head = f"| {SHAPE_TITLES[shape]} | {WAREHOUSES[wh]} → {TARGETS[tgt]} |"
        if not ours[combo]:
            print(f"{head} {notes.get(combo, '?')} | | | **—** |")
            results.append({"shape": shape, "warehouse": wh, "target": tgt, "error": notes.get(combo)})
            continue
        o, r = statistics.median(ours[combo]), statistics.median(refs[combo])
        runs = ", ".join(f"{v:.2f}" for v in ours[combo])
        note = f" ({notes[combo]})" if combo in notes else ""
        print(f"{head} {o:.2f} s ({runs}){note} | {r:.2f} s | {checks.get(combo, '?')} | **{r / o:.2f}** |")
        results.append({"shape": shape, "warehouse": wh, "target": tgt, "ours": ours[combo], "reference": refs[combo],
                        "ratio": r / o, "check": checks.get(combo), "phases": phases[combo], "note": notes.get(combo)})
    if json_path:
        Path(json_path).write_text(json.dumps({"users": users, "rounds": rounds, "results": results}, indent=1))
    bad = [c for c in results if "error" in c or c["ratio"] < 0.8 or not str(c["check"]).startswith("same")]
    print(f"shapes under 0.8, failed or different: {len(bad)} of {len(results)}\n", flush=True)

if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    main()
