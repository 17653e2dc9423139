"""``prefetch``: the reading thread ends with its consumer however the consumer stops, and takes
its source with it (a generator source's ``finally`` is where a warehouse statement ends)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from airflow_provider_tagoffline.engine.warehouse import prefetch


class Source:
    """A generator source that records how it ended and in which thread."""

    def __init__(self, chunks: int, fail_at: int | None = None):
        self.chunks, self.fail_at = chunks, fail_at
        self.closed_in: str | None = None
        self.produced = 0

    def __call__(self) -> Iterator[bytes]:
        try:
            for i in range(self.chunks):
                if i == self.fail_at:
                    raise ValueError("the warehouse failed")
                self.produced += 1
                yield b"x" * 10
        finally:
            self.closed_in = threading.current_thread().name


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tagoffline-prefetch"]


@pytest.mark.timeout(30)
def test_a_consumer_stopping_early_closes_the_source_in_its_thread_and_joins_it() -> None:
    source = Source(10_000)
    cancelled: list[bool] = []
    chunks = prefetch(source(), depth=2, cancel=lambda: cancelled.append(True))
    assert next(chunks) == b"x" * 10
    chunks.close()  # what the runner does when the target gave up
    assert source.closed_in == "tagoffline-prefetch"  # ended by the thread that ran it, before close returned
    assert source.produced < 10  # it stopped, not drained
    assert cancelled == [True] and not _prefetch_threads()


@pytest.mark.timeout(30)
def test_the_whole_stream_and_an_error_end_the_thread_without_a_cancel() -> None:
    source = Source(50)
    cancelled: list[bool] = []
    assert sum(1 for _ in prefetch(source(), depth=2, cancel=lambda: cancelled.append(True))) == 50
    assert source.closed_in == "tagoffline-prefetch" and cancelled == [] and not _prefetch_threads()
    failing = Source(50, fail_at=20)
    with pytest.raises(ValueError, match="the warehouse failed"):
        for _ in prefetch(failing(), depth=2, cancel=lambda: cancelled.append(True)):
            pass
    assert failing.closed_in == "tagoffline-prefetch" and cancelled == [] and not _prefetch_threads()
