"""A DuckDB warehouse's scratch place: a DuckDB file (the extra ``tagoffline_scratch``) ATTACHed
read-write on the reader's own connection, created when missing. It works while the warehouse file
itself is open read-only: the extract reads the warehouse, the snapshot's statements write the file.

A DuckDB file has one writing process at a time (a file lock), and the runs of services sharing a
scratch file are processes of their own: so the file is attached for each step and detached after it
(the lock held from ``pending_query`` through the stream to ``promote``), and a step finding it locked
waits for it."""

from __future__ import annotations

from typing import Any

from airflow_provider_tagoffline.contract.dialect import Dialect
from airflow_provider_tagoffline.engine.snapshot_sql import SnapshotSql

#: the name the scratch file is attached as on the reader's connection
SCRATCH_CATALOG = "tagoffline_scratch"


class DuckDBSnapshotSql(SnapshotSql):
    place_is = "the path of a DuckDB file"

    @classmethod
    def place_problem(cls, dialect: Dialect, place: Any) -> str | None:
        problem = super().place_problem(dialect, place)
        if problem is None and (place.strip() == ":memory:" or place.startswith("md:") or "\x00" in place):
            # an in-memory scratch would be gone after the run: no later run could trust it
            return f"is not {cls.place_is}"
        return problem

    def qualified(self, table: str) -> str:
        return f"{self.quote(SCRATCH_CATALOG)}.main.{self.quote(table)}"

    def enter_place_sql(self) -> list[str]:
        return [self._attach_sql("READ_WRITE")]

    def look_into_place_sql(self) -> list[str]:
        # READ_ONLY: a missing file is not created, and a run holding the file makes this fail at once (busy)
        return [self._attach_sql("READ_ONLY")]

    def _attach_sql(self, mode: str) -> str:
        path = self.d.escape_for_params(self.d.quote_literal(self.place))
        return f"ATTACH IF NOT EXISTS {path} AS {self.quote(SCRATCH_CATALOG)} ({mode})"

    def leave_place_sql(self) -> list[str]:
        return [f"DETACH DATABASE IF EXISTS {self.quote(SCRATCH_CATALOG)}"]

    def is_busy(self, exc: BaseException) -> bool:
        # IOException: Could not set lock on file "...": Conflicting lock is held in ... (PID n)
        return "could not set lock" in str(exc).lower()
