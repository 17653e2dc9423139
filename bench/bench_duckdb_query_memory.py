"""Bench helper (issue 14): the working memory of one extract query in an embedded DuckDB warehouse.

    .venv/bin/python -m bench.bench_duckdb_query_memory DB_FILE SHAPE MEMORY_LIMIT THREADS [SQL_FILE]

DB_FILE: a warehouse built by ``shapes_data.build_statements('duck', N)``; SHAPE: one of
``shapes_data.SHAPES``. Runs the engine's own extract query for SHAPE (or the query in SQL_FILE) as
``COPY … TO`` a named pipe with MEMORY_LIMIT and THREADS, ``preserve_insertion_order = false`` and a
spill folder, as the engine does, and prints the seconds, the query's memory (peak RSS minus RSS
after connect) and whether DuckDB ran out of memory.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

from airflow_provider_tagoffline.dialects import get_dialect
from airflow_provider_tagoffline.engine.extract import build_extract_query
from airflow_provider_tagoffline.runspec import RunSpec
from bench.shapes_data import shape_spec


def mb(key: str) -> int:
    return int([line for line in open("/proc/self/status") if line.startswith(key)][0].split()[1]) // 1024


def _drain(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass


def main() -> None:
    db, shape, limit, threads = sys.argv[1:5]
    spec = RunSpec.model_validate(shape_spec(shape, "t", "postgres", "w", "t"))
    dedupe = frozenset({2}) if shape == "three_dup" else frozenset()
    query = build_extract_query(spec, get_dialect("duckdb"), dt.date(2026, 11, 23), dedupe)
    sql, params = (Path(sys.argv[5]).read_text(), []) if len(sys.argv) > 5 else (query.sql, query.params)
    con = duckdb.connect(db, read_only=True)
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET temp_directory = '{tempfile.mkdtemp(prefix='tagoffline-bench-spill-')}'")
    con.execute(f"SET memory_limit = '{limit}'")
    con.execute(f"SET threads = {int(threads)}")
    # Into a named pipe drained by a thread, as the engine does ('/dev/null' is a file DuckDB locks:
    # another DuckDB process writing to it made this fail).
    fifo = Path(tempfile.mkdtemp(prefix="tagoffline-bench-")) / "out.csv"
    os.mkfifo(fifo)
    drain = threading.Thread(target=_drain, args=(fifo,), daemon=True)
    drain.start()
    base = mb("VmRSS")
    start = time.perf_counter()
    try:
        con.execute(f"COPY ({sql}) TO '{fifo}' (FORMAT csv, HEADER false)", params)
        result = "ok"
    except duckdb.OutOfMemoryException as exc:
        result = "Out of Memory: " + str(exc).splitlines()[0][:150]
        with open(fifo, "wb"):  # let the drain thread's open() return
            pass
    drain.join()
    shutil.rmtree(fifo.parent, ignore_errors=True)
    print(f"{shape}, memory_limit {limit}, {threads} threads: {time.perf_counter() - start:.1f} s, RSS after connect "
          f"{base} MB, peak {mb('VmHWM')} MB, the query's {mb('VmHWM') - base} MB; {result}")


if __name__ == "__main__":
    main()
