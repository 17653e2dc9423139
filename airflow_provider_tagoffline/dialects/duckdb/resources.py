"""The embedded DuckDB warehouse's memory and threads, set per statement (``docs/engine.md``).

DuckDB runs in the task's process. A scan needs almost no memory whatever the row count, the sort
of the duplicate check little, joins and dedupe as much as their input. So lean statements run with
LEAN_THREADS under LEAN_LIMIT — what each thread pins is what counts: at 32 MB a scan failed with 16
threads, the sort of 30M IDs passed with 2 and failed with 4 — and lowering the limit also evicts
the table blocks DuckDB cached. The others run with the connection's own ``memory_limit`` and
``threads`` (its extra, as Airflow's DuckDB hook reads them); when the extra sets no limit,
DEFAULT_LIMIT_PER_THREAD for each thread: DuckDB's own default, 80% of RAM, suits a process that
owns the machine, not a worker running many tasks. A join or dedupe then reads the IDs in as many
passes as that limit needs (``rows_per_pass``), so its memory stays flat however many IDs there are.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from typing import Any

from airflow_provider_tagoffline.contract.memory import MemoryStrategy
from airflow_provider_tagoffline.errors import RunFailed, WarehouseOutOfMemory, first_line

LEAN_LIMIT = 32 << 20
LEAN_THREADS = 2
#: a join's working memory per thread when the connection's extra sets no memory_limit: 128 MiB
#: with two threads, where one statement joining 10M IDs took 1 GiB (bench/bench_duckdb_query_memory.py)
DEFAULT_LIMIT_PER_THREAD = 64 << 20
#: an extract that ran out of the default limit runs again with this, in one statement: the way
#: before the passes, at which 3 sources of 30M IDs with a dedupe passed (1.35 GB), where their
#: passes at 128 MiB ran out after a few (allocations grow with the tables, not only the pass)
FALLBACK_LIMIT = 1 << 30
#: what a pass's join or dedupe may use of the limit: all of it but PASS_RESERVE_PER_THREAD for
#: each thread's own blocks (at 24 MB with 2 threads a pass sized on the whole limit failed), at
#: PASS_BYTES_PER_VALUE for each value it holds (the IDs of every source and the outputs): 3 sources
#: and a dedupe, 16 values, 10M IDs at 128 MiB spilled 189 MB a pass (1.6 s) in 10 passes, 66 MB
#: (1.0 s) in 14, 28 MB (1.1 s: more scans) in 20 — this sizes them at 17
PASS_RESERVE_PER_THREAD = 8 << 20
#: each hash join or aggregate holds about this much per thread whatever its input: 3 sources and
#: a dedupe (4 of them) ran out at 48 MB with 2 threads and passed with 1, passed at 64 MB with 2
OPERATOR_MEMORY_PER_THREAD = 8 << 20
PASS_BYTES_PER_VALUE = 12
_SIZE_UNITS = {"b": 1, "bytes": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
               "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def size_bytes(text: str) -> int:
    """Bytes of a DuckDB size setting such as ``'30.5 MiB'``, ``'4GB'`` or ``'33554432B'``."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]*)\s*", text)
    unit = (match.group(2).lower() or "b") if match else ""
    if not match or unit not in _SIZE_UNITS:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def is_out_of_memory(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryException"  # duckdb's, without importing duckdb here


class DuckDBResources(MemoryStrategy):
    """Applies the per-statement settings to one read-only DuckDB warehouse connection: the DuckDB
    reader's memory strategy (``Reader.memory``)."""

    def __init__(self, conn: Any, conn_id: str, extra: dict[str, Any]):
        self.conn, self.conn_id = conn, conn_id
        settings = {**extra, **(extra.get("settings") or {})}
        # An unordered COPY streams instead of buffering rows to keep their order.
        conn.execute("SET preserve_insertion_order = false")
        # Build each hash join on the side the plan writes on the right (a lookup table, the next
        # source): the hash filter of a pass makes DuckDB guess the joined sources small and build
        # on them — 500k wide rows where a 6-row lookup would do, out of 128 MiB at 1M IDs.
        conn.execute("SET disabled_optimizers = 'build_side_probe_side'")
        self.spill_dir: str | None = None
        if "temp_directory" not in settings:
            # A spill folder of this run's own, removed at the end: the default sits next to the
            # database file, which a worker may not be allowed to write.
            self.spill_dir = tempfile.mkdtemp(prefix="tagoffline-duckdb-spill-")
            conn.execute("SET temp_directory = '" + self.spill_dir.replace("'", "''") + "'")
        limit, threads = conn.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchone()
        default = DEFAULT_LIMIT_PER_THREAD * int(threads)
        if "memory_limit" not in settings and size_bytes(limit) > default:
            conn.execute(f"SET memory_limit = '{default}B'")
            limit = f"{default}B"
        self.configured = self.current = (size_bytes(limit), int(threads))  # (memory_limit, threads)
        #: the limit is this engine's default, not the connection's: a statement may raise it
        self.defaulted = "memory_limit" not in settings
        self.fallen_back = False

    def use_lean(self, lean: bool, operators: int = 1) -> None:
        """Run the next statements lean (never above the connection's own settings), or with the
        connection's own memory_limit and as many of its threads as ``operators`` hash joins and
        aggregates leave room for."""
        limit, threads = self.configured
        wanted = (min(limit, LEAN_LIMIT), min(threads, LEAN_THREADS)) if lean else (limit, self.threads_for(operators))
        if wanted != self.current:
            self.conn.execute(f"SET memory_limit = '{wanted[0]}B'")
            self.conn.execute(f"SET threads = {wanted[1]}")
            self.current = wanted

    def threads_for(self, operators: int) -> int:
        """Threads for a statement running ``operators`` hash joins and aggregates: each thread of
        each holds OPERATOR_MEMORY_PER_THREAD, so a small limit runs it on fewer threads."""
        limit, threads = self.configured
        return max(1, min(threads, limit // (OPERATOR_MEMORY_PER_THREAD * max(operators, 1))))

    def rows_per_pass(self, values: int, operators: int = 1) -> int | None:
        """IDs one pass of a join or dedupe holding ``values`` values per ID may take within the
        connection's memory_limit; None: one statement (after ``fall_back_to_more_memory``)."""
        if self.fallen_back:
            return None
        limit, threads = self.configured[0], self.threads_for(operators)
        usable = max(limit - PASS_RESERVE_PER_THREAD * threads, limit // 4)
        return max(1, usable // (PASS_BYTES_PER_VALUE * max(values, 1)))

    def fall_back_to_more_memory(self) -> str | None:
        """After the extract ran out of the default limit (never one the connection set): the rest
        of the run gets FALLBACK_LIMIT and no passes, as before them. What changed, or None."""
        limit, threads = self.configured
        if not self.defaulted or self.fallen_back or limit >= FALLBACK_LIMIT:
            return None
        self.configured, self.fallen_back = (FALLBACK_LIMIT, threads), True
        return (f"the DuckDB warehouse {self.conn_id!r} ran out of its default {limit >> 20} MiB in the extract; "
                f"once more with {FALLBACK_LIMIT >> 20} MiB in one statement (memory_limit in its extra decides)")

    def may_retry_with_more_memory(self, exc: BaseException) -> bool:
        return is_out_of_memory(exc) and not self.at_full

    @property
    def at_full(self) -> bool:
        """Whether statements already run with all the connection allows."""
        return self.current == self.configured

    def out_of_memory(self, exc: BaseException, what: str) -> RunFailed:
        first = first_line(exc)
        return WarehouseOutOfMemory(
            f"the DuckDB warehouse {self.conn_id!r} ran out of memory in {what} ({first}); give it more with "
            f"memory_limit in the connection's extra, e.g. {{\"memory_limit\": \"4GB\"}}")

    def close(self) -> None:
        if self.spill_dir:
            shutil.rmtree(self.spill_dir, ignore_errors=True)
