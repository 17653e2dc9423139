"""A lock file beside an embedded database (SQLite, DuckDB), held for the whole run."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator

from airflow_provider_tagoffline.errors import RunFailed

DEFAULT_WAIT_SECONDS = 60.0


@contextlib.contextmanager
def file_lock(database_path: str, what: str, wait_seconds: float | None = None) -> Iterator[None]:
    path = database_path + ".tagoffline.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + (DEFAULT_WAIT_SECONDS if wait_seconds is None else wait_seconds)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RunFailed(f"another run is writing {what} (lock file {path} held)") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process dies
