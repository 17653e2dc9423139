"""Readers of a live table while runs swap it: each session counts the table's rows over and over;
every answer is timed, failed reads and wrong counts are counted. Used by the lock-wait tests
(tests/engine/test_lock_waits.py) and the swap-availability bench (bench/bench_swap_availability.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class CountPollers:
    """``readers`` sessions (``connect(i)`` opens the i-th), each running ``SELECT count(*)`` of ``table``
    every ``every`` seconds until the ``with`` block ends. Entering returns once every reader has
    answered once. A failed read is counted (its first line kept in ``errors``) and its session opened
    again; a count other than ``expected`` is a wrong count; ``worst`` is the slowest answer, seconds."""

    def __init__(self, connect: Callable[[int], Any], readers: int, expected: int, every: float = 0.0,
                 table: str = "user_tags"):
        self.connect, self.expected, self.every, self.table = connect, expected, every, table
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.reads = self.failed = self.wrong = 0
        self.worst = 0.0
        self.errors: list[str] = []
        self.polling = threading.Barrier(readers + 1)
        self.threads = [threading.Thread(target=self._poll, args=(i,), daemon=True) for i in range(readers)]

    def __enter__(self) -> CountPollers:
        for th in self.threads:
            th.start()
        self.polling.wait(timeout=60)  # every reader answered once
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for th in self.threads:
            th.join(timeout=60)

    def _poll(self, i: int) -> None:
        conn = self.connect(i)
        first = True
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                cur = conn.cursor()
                cur.execute(f"SELECT count(*) FROM {self.table}")
                count = cur.fetchone()[0]
                cur.close()
                ok = True
            except Exception as exc:
                ok, count = False, None
                with self.lock:
                    self.errors.append(str(exc).splitlines()[0])
                try:
                    conn.close()
                except Exception:
                    pass
                conn = self.connect(i)
            took = time.monotonic() - start
            with self.lock:
                self.reads += 1
                self.worst = max(self.worst, took)
                self.failed += not ok
                self.wrong += ok and count != self.expected
            if first:
                self.polling.wait(timeout=60)
                first = False
            self.stop.wait(self.every)
        conn.close()
