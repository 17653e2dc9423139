"""DuckDB as a target.

* Stage: the live table's own ``CREATE TABLE`` statement, renamed.
* Load: rows spooled to a temporary CSV file and read by DuckDB's vectorised CSV reader
  (``executemany`` is orders of magnitude slower in DuckDB).
* Swap: renames and drop in one transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from airflow_provider_tagoffline.engine.targets.base import LoadResult, Row, Target, rename_create_table, spooled
from airflow_provider_tagoffline.engine.targets.filelock import file_lock
from airflow_provider_tagoffline.engine.types import ColumnType, classify
from airflow_provider_tagoffline.errors import RunFailed

NULL_MARK = "\\N"


class _Result:
    """DuckDB's connection is its own cursor; closing that would close the connection."""

    def __init__(self, conn: Any):
        self.conn = conn

    def fetchone(self) -> Any:
        return self.conn.fetchone()

    def fetchall(self) -> Any:
        return self.conn.fetchall()

    def close(self) -> None:
        pass


class DuckDBTarget(Target):
    digest_alongside = False  # an engine in this process: its connection is its thread's
    digest_from_change_set = True  # the temporary change set has the live table's column types
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        # conn.cursor() in DuckDB opens a second connection with its own transaction, so BEGIN and
        # COMMIT must go through the connection itself.
        self.conn.execute(sql, params) if params is not None else self.conn.execute(sql)
        return _Result(self.conn)

    def prepare_for_ddl(self) -> None:
        # No file or network access for this connection's statements, whatever they say.
        self.run_statements(["SET enable_external_access = false"])

    def execute_one(self, sql: str) -> None:
        # DuckDB's execute() runs every statement of a string: count them with its own parser first.
        found = self.conn.extract_statements(sql)
        if len(found) != 1:
            raise RunFailed(f"refusing to run {len(found)} statements in one call")
        self.conn.execute(sql)

    @contextlib.contextmanager
    def lock(self, wait_seconds: float | None = None) -> Iterator[None]:
        path = self.scalar("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
        if not path:
            yield
            return
        with file_lock(path, self.display_name, wait_seconds):
            yield

    def _schema(self) -> str:
        return self.schema or self.scalar("SELECT current_schema()")

    def exists(self, table: str) -> bool:
        return self.scalar("SELECT COUNT(*) FROM duckdb_tables() WHERE database_name = current_database() "
                           "AND schema_name = ? AND table_name = ?", [self._schema(), table]) > 0

    def column_types(self, table: str) -> dict[str, ColumnType]:
        cur = self.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
                           "current_database() AND schema_name = ? AND table_name = ? ORDER BY column_index",
                           [self._schema(), table])
        return {name: classify(t) for name, t in cur.fetchall()}

    def table_comment(self, table: str) -> str | None:
        comment = self.scalar("SELECT comment FROM duckdb_tables() WHERE database_name = current_database() "
                              "AND schema_name = ? AND table_name = ?", [self._schema(), table])
        return str(comment) if comment else None

    def table_comment_sql(self, table: str, text: str) -> str:
        # The stage is made from the live table's CREATE TABLE, which holds no comment: this carries the
        # user's comment over too.
        return f"COMMENT ON TABLE {self.q(table)} IS {self.d.quote_literal(text)}"

    def temp_ref(self, name: str) -> str:
        return f"temp.{self.d.quote(name)}"  # the session's temporary catalog, never a table of the schema

    def row_hash_sql(self, alias: str, columns: list[str]) -> str:
        # DuckDB's own 64-bit hash of the values (UBIGINT; its SUM is a HUGEINT, no overflow): typed, order-
        # sensitive, NULL hashing unlike '' and 0. A new DuckDB may hash otherwise: the recorded digest then
        # differs and the next changes run swaps once, which is safe.
        return "hash(" + ", ".join(f"{alias}.{self.d.quote(c)}" for c in columns) + ")"

    def prepare_stage(self) -> None:
        create = self.scalar("SELECT sql FROM duckdb_tables() WHERE database_name = current_database() "
                             "AND schema_name = ? AND table_name = ?", [self._schema(), self.live])
        self.run_in_tx([rename_create_table(create, self.q(self.stage))])

    def load(self, columns: list[str], batches: Iterable[list[Row]]) -> LoadResult:
        with spooled(batches, ".csv", _csv_lines) as (path, rows):
            cols = ", ".join(self.d.quote(c) for c in columns)
            self.run_in_tx([f"INSERT INTO {self.load_ref} ({cols}) SELECT * FROM read_csv("
                            f"{self.d.quote_literal(path)}, header = false, all_varchar = true, "
                            f"nullstr = {self.d.quote_literal(NULL_MARK)}, quote = '\"', escape = '\"', "
                            f"allow_quoted_nulls = false, columns = {self._columns_struct(columns)})"])
            self.checkpoint("during_load")
        return LoadResult(rows=rows, method="CSV + read_csv")

    def _columns_struct(self, columns: list[str]) -> str:
        return "{" + ", ".join(f"{self.d.quote_literal(f'c{i}')}: 'VARCHAR'" for i in range(len(columns))) + "}"

    def swap(self) -> None:
        stmts = self.rename_sql(self.live, self.backup) + self.rename_sql(self.stage, self.live) \
            + self.drop_sql(self.backup)
        with self.transaction():
            self.run_statements(stmts[:1])
            self.checkpoint("inside_swap")
            self.run_statements(stmts[1:])


def _csv_lines(batch: list[Row]) -> str:
    # Every value quoted, NULL as the unquoted mark: the two can never be confused.
    return "".join(",".join(NULL_MARK if v is None else _quoted(v) for v in row) + "\n" for row in batch)


def _quoted(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif hasattr(value, "isoformat") and not isinstance(value, str):
        text = value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    else:
        text = str(value)
    return '"' + text.replace('"', '""') + '"'
