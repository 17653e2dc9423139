"""Reading Spark SQL: the result fetched from the Thrift server a batch at a time.

PyHive's cursor asks the server for ``arraysize`` rows per Thrift fetch; setting it to the batch
size makes one round trip per batch, and nothing holds the whole result (the server keeps it).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from airflow_provider_tagoffline.engine.extract import Query
from airflow_provider_tagoffline.engine.warehouse import Reader
from airflow_provider_tagoffline.errors import RunFailed

# "Error running query: [CODE] org.apache.spark.sql.AnalysisException: [CODE] the message. SQLSTATE: ..."
_JAVA_EXCEPTION = re.compile(
    r"^(?:Error running query: )?(?:\[[A-Z_.]+\] )?(?:[a-z]+\.)+[A-Za-z]+(?:Exception|Error): ")


def server_message(exc: BaseException) -> str | None:
    """The Thrift server's own message of a PyHive error (whose text is the whole Thrift response,
    Java stack included), or None for any other error."""
    status = getattr(exc.args[0], "status", None) if exc.args else None
    message = getattr(status, "errorMessage", None)
    if not isinstance(message, str) or not message.strip():
        return None
    return _JAVA_EXCEPTION.sub("", message.strip().splitlines()[0])


class SparkReader(Reader):
    def stream(self, query: Query, batch_size: int) -> Iterator[list[tuple[Any, ...]]]:
        cur = self.conn.cursor()
        cur.arraysize = batch_size
        try:
            try:
                cur.execute(query.sql, query.params)
            except Exception as exc:
                raise self.explain(exc, "the extract query") or exc from None
            while batch := cur.fetchmany(batch_size):
                yield batch
        finally:
            with contextlib.suppress(Exception):
                cur.close()

    def explain(self, exc: BaseException, what: str) -> RunFailed | None:
        message = server_message(exc)
        if message is None:
            return None
        return RunFailed(f"{what} failed on the Spark SQL warehouse {self.conn_id!r}: {message}")

    def reset(self) -> None:
        """HiveServer2 has no transactions: nothing to roll back after a failed statement."""
