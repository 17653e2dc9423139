"""How a warehouse engine's memory is sized per statement: a strategy a family's ``Reader`` supplies
(``Reader.memory``) when its engine runs inside the task's process and shares its memory (DuckDB:
``dialects/duckdb/resources.py``). Every other warehouse is a server that sizes its own statements:
it keeps ``NO_MEMORY_STRATEGY``, which changes nothing, and the runner's paths that ask the strategy
(passes over the IDs, one more try with more memory) are never taken for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class MemoryStrategy:
    """The default: the connection as it is, one statement, no second try."""

    def use_lean(self, lean: bool, operators: int = 1) -> None:
        """The next statements need little memory (a scan), or all the connection allows for
        ``operators`` hash joins and aggregates."""

    def rows_per_pass(self, values: int, operators: int = 1) -> int | None:
        """How many IDs one pass of a join or dedupe holding ``values`` values per ID may take,
        when the engine bounds that memory by passes; None: no passes."""
        return None

    def fall_back_to_more_memory(self) -> str | None:
        """After the extract ran out of a memory limit this strategy chose: raise it for one more
        try. What changed (for the log), or None: no more to give."""
        return None

    def may_retry_with_more_memory(self, exc: BaseException) -> bool:
        """Whether ``exc`` ran out of a lean limit, so the statement may run again with more."""
        return False

    def lean_first(self, statement: Callable[[], T]) -> T:
        """``statement()`` run lean (a check or a scan); once more with all the connection allows when
        it ran out of the lean limit."""
        try:
            self.use_lean(True)
            return statement()
        except Exception as exc:
            if not self.may_retry_with_more_memory(exc):
                raise
            self.use_lean(False)
            return statement()


#: the strategy of a warehouse that sizes its own statements (a server)
NO_MEMORY_STRATEGY = MemoryStrategy()
