"""A PostgreSQL-family warehouse's scratch place: a schema (the extra ``tagoffline_scratch``), made by
the run when missing.

Its tables are LOGGED on purpose: a server crash empties an UNLOGGED table while the state row still
says what it holds, and the next run would trust an empty snapshot.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_tagoffline.contract.dialect import Dialect
from airflow_provider_tagoffline.engine.snapshot_sql import KEY, SnapshotSql

#: the working memory of the diff and the promotion: the diff's FULL JOIN of 5M rows with a 10-column
#: compare took 5.2 s at 1GB and 8.7 s at the default 4MB, where the planner splits the hash into
#: batches (PostgreSQL 15); the promotion's DELETE joins the pending keys alike
DIFF_WORK_MEM = "1GB"
#: dead row versions (a share of the snapshot's rows) past which autovacuum tidies it: a day of 1% changes
AUTOVACUUM_SCALE_FACTOR = "0.005"
#: the promotion's planner cost of a random page: the snapshot was just read whole by the diff, so its pages
#: are cached, and at the default 4 the planner scans all 5M rows for 55,000 pending keys (2.2-2.7 s) where
#: the key index takes 0.6-0.7 s (measured on PostgreSQL 15); a large pending set still gets the scan
PROMOTE_RANDOM_PAGE_COST = "1.1"


class PostgresSnapshotSql(SnapshotSql):
    place_is = "a schema name"

    @classmethod
    def place_problem(cls, dialect: Dialect, place: Any) -> str | None:
        problem = super().place_problem(dialect, place)
        if problem is None:
            problem = dialect.identifier_problem(place)
            return None if problem is None else f"is not a schema name: it {problem}"
        return problem

    def qualified(self, table: str) -> str:
        return f"{self.quote(self.place)}.{self.quote(table)}"

    def prepare_place_sql(self) -> list[str]:
        return [f"CREATE SCHEMA IF NOT EXISTS {self.quote(self.place)}"]

    def analyze_sql(self, table: str) -> list[str]:
        # before autovacuum gets to it the planner guesses the new table's rows from its size
        return [f"ANALYZE {table}"]

    def key_index_sql(self, table: str) -> list[str]:
        # named by the server (a unique name beside the current snapshot's index, renamed with its table):
        # 1.4 s for 5M keys, once per rebuild; the sample then looks up 10,000 keys in 25 ms instead of 0.4 s
        return [f"CREATE INDEX ON {table} ({self.quote(KEY)})"]

    def storage_sql(self) -> str:
        # Each promotion leaves a dead row version per changed ID, on about as many pages; the next diff's scan
        # would prune them itself, logging each page whole after a checkpoint (400 MB of WAL at 5M rows, 1%
        # changed). Autovacuum is asked to tidy the snapshot after each day's promotion, in the background:
        # a VACUUM inside the run cost its promotion 1.5-3.5 s.
        return f" WITH (autovacuum_vacuum_scale_factor = {AUTOVACUUM_SCALE_FACTOR})"

    def work_settings_sql(self) -> list[str]:
        return [f"SET LOCAL work_mem = '{DIFF_WORK_MEM}'"]

    def promote_settings_sql(self) -> list[str]:
        return [*self.work_settings_sql(), f"SET LOCAL random_page_cost = {PROMOTE_RANDOM_PAGE_COST}"]
