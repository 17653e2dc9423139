"""The embedded DuckDB warehouse under a memory limit: lean statements stay lean, the source check
does not need memory in proportion to the IDs, the connection's own limit is obeyed, and running
out of it is a clear error naming the setting to raise."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tagoffline.connections import resolve_warehouse
from airflow_provider_tagoffline.dialects.duckdb.resources import size_bytes
from airflow_provider_tagoffline.engine.extract import Query, build_extract_query
from airflow_provider_tagoffline.engine.targets.base import CsvFormat
from airflow_provider_tagoffline.engine.warehouse import Warehouse
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runspec import RunSpec, SourceSpec

D = dt.date(2026, 11, 23)
IDS = 3_000_000  # a GROUP BY over this many IDs fails with Out of Memory at 16 MB (measured)


def _build_warehouse(path: str, ids: int, orders_sql: str) -> str:
    """``profile`` holding IDs 1..ids for D, and ``orders`` made by ``orders_sql`` from it."""
    import duckdb

    con = duckdb.connect(path)
    con.execute("CREATE TABLE profile AS SELECT i AS user_id, 'city_' || (i % 100) AS city, '20261123' AS ds "
                "FROM range(1, $n + 1) t(i)", {"n": ids})
    con.execute(f"CREATE TABLE orders AS {orders_sql}")
    con.close()
    return path


@pytest.fixture(scope="module")
def big_warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    # a second source holding 90% of the IDs, and one ID three times
    return _build_warehouse(str(tmp_path_factory.mktemp("bigwh") / "wh.duckdb"), IDS,
                            "SELECT user_id, user_id % 50 AS orders_30d, ds FROM profile WHERE user_id % 10 <> 0 "
                            "UNION ALL SELECT 7, 1, '20261123' UNION ALL SELECT 7, 2, '20261123'")


def _run_into_postgres(pg_target_db: str, monkeypatch: pytest.MonkeyPatch, warehouse: str,
                       extra: dict[str, object], echo: Any = None) -> tuple[Any, Any]:
    """Run the two-source spec from ``warehouse`` (its connection's ``extra``) into a new
    ``user_tags`` table of PostgreSQL database ``pg_target_db``: the report and the target."""
    from airflow_provider_tagoffline.runs import run_export
    from tests.run_data import _postgres_target

    target = _postgres_target(pg_target_db)
    conn = target.connect()
    conn.execute("CREATE TABLE user_tags (user_id bigint PRIMARY KEY, city text, orders_30d bigint)")
    conn.commit()
    conn.close()
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", target.conn_json)
    monkeypatch.setenv("AIRFLOW_CONN_BIG_WH", json.dumps({"conn_type": "duckdb", "host": warehouse, "extra": extra}))
    return run_export(_target_spec(), D, echo=echo), target


def _target_spec() -> RunSpec:
    data = _spec(2).model_dump(by_alias=True)
    data["target"]["conn_id"] = "tot_target"
    return RunSpec.model_validate(data)


def _connect(monkeypatch: pytest.MonkeyPatch, path: str, **extra: object) -> Warehouse:
    monkeypatch.setenv("AIRFLOW_CONN_BIG_WH", json.dumps({"conn_type": "duckdb", "host": path, "extra": extra}))
    return Warehouse(resolve_warehouse("big_wh"))


def _spec(sources: int) -> RunSpec:
    part = {"column": "ds", "format": "yyyyMMdd"}
    tags = [{"code": "city", "name": "City", "type": "string", "source": 0, "column": "city"},
            {"code": "orders_30d", "name": "Orders", "type": "bigint", "source": 1, "column": "orders_30d"}]
    return RunSpec.model_validate({
        "service": {"name": "mem", "slug": "mem", "application": "crm", "owner": "alice", "version": 1},
        "entity_key": {"entity": "user", "code": "user_id", "name": "User ID", "type": "bigint"},
        "warehouse_conn_id": "big_wh",
        "sources": [{"table": t, "key": "user_id", "partition": part} for t in ("profile", "orders")[:sources]],
        "tags": tags[:sources],
        "outputs": [{"column": t["code"], "tag": t["code"], "content": "value", "type": t["type"]}
                    for t in tags[:sources]],
        "target": {"conn_id": "t", "kind": "postgres", "table": "user_tags", "key_column": "user_id"},
        "gates": {}, "schedule": {"type": "manual", "timezone": "UTC"},
    })


def test_size_bytes_reads_duckdb_settings() -> None:
    assert size_bytes("30.5 MiB") == int(30.5 * (1 << 20))
    assert size_bytes("4GB") == 4_000_000_000
    assert size_bytes("33554432B") == 33554432
    with pytest.raises(ValueError, match="not a size"):
        size_bytes("lots")


def test_the_memory_strategy_is_the_duckdb_readers_own_and_a_no_op_elsewhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine asks ``Warehouse.memory``; only DuckDB's reader supplies one that changes anything."""
    import duckdb

    from airflow_provider_tagoffline.contract.memory import NO_MEMORY_STRATEGY
    from airflow_provider_tagoffline.dialects.duckdb.resources import DuckDBResources

    duck = str(tmp_path / "w.duckdb")
    duckdb.connect(duck).close()
    wh = _connect(monkeypatch, duck, threads=2)  # a default limit below the fallback on any machine
    try:
        assert isinstance(wh.memory, DuckDBResources)
        lean = wh.memory.rows_per_pass(3, 1)
        assert lean is not None and lean > 0  # a join of 3 values per ID goes in passes
        assert wh.memory.fall_back_to_more_memory() is not None  # the default limit: one more try at more
        assert wh.memory.rows_per_pass(3, 1) is None  # then one statement
        assert wh.memory.fall_back_to_more_memory() is None  # and nothing more to give
    finally:
        wh.close()
    monkeypatch.setenv("AIRFLOW_CONN_LITE_WH", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "w.db")}))
    lite = Warehouse(resolve_warehouse("lite_wh"))
    try:
        assert lite.memory is NO_MEMORY_STRATEGY
        assert lite.memory.rows_per_pass(3, 1) is None and lite.memory.fall_back_to_more_memory() is None
        assert not lite.memory.may_retry_with_more_memory(MemoryError())
        tries: list[int] = []

        def out_of_memory() -> None:
            tries.append(1)
            raise MemoryError()

        with pytest.raises(MemoryError):
            lite.memory.lean_first(out_of_memory)
        assert len(tries) == 1  # no second try where nothing chose a lean limit
    finally:
        lite.close()


def test_source_check_counts_rows_and_duplicates_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    path = str(tmp_path / "small.duckdb")
    con = duckdb.connect(path)
    con.execute("CREATE TABLE s AS SELECT * FROM (VALUES (1, 'D'), (1, 'D'), (1, 'D'), (2, 'D'), (NULL, 'D'), "
                "(3, 'D'), (3, 'D'), (4, 'other day')) v(user_id, ds)")
    con.close()
    wh = _connect(monkeypatch, path)
    try:
        # no memory_limit in the extra: 1 GiB for joins, not DuckDB's default of 80% of RAM
        assert size_bytes(wh.fetchone(Query("SELECT current_setting('memory_limit')"))[0]) <= 1 << 30
        check = wh.check_source(SourceSpec(table="s", key="user_id"), D)
    finally:
        wh.close()
    assert (check.rows, check.duplicates) == (8 - 1, 3)  # NULL IDs are not rows; 1 twice more, 3 once more


def test_check_and_scan_of_millions_of_ids_under_a_16mb_limit(big_warehouse: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # 16 threads, as on a bigger worker: each pins its own blocks, so lean statements use two.
    wh = _connect(monkeypatch, big_warehouse, memory_limit="16MB", threads=16)
    try:
        spec = _spec(1)
        check = wh.check_source(spec.sources[0], D)
        assert (check.rows, check.duplicates) == (IDS, 0)
        query = build_extract_query(spec, wh.dialect, D)
        assert query.scan_only
        lines = sum(chunk.count(b"\n") for chunk in wh.csv_chunks(query, CsvFormat()))
        assert lines == IDS
        # the connection's 16 MB were never raised
        limit, threads = wh.fetchone(Query("SELECT current_setting('memory_limit'), current_setting('threads')"))
        assert size_bytes(limit) <= 16 * 1000**2 and threads == 2
    finally:
        wh.close()


def test_joins_beyond_the_connection_limit_fail_clearly(big_warehouse: str, monkeypatch: pytest.MonkeyPatch) -> None:
    wh = _connect(monkeypatch, big_warehouse, memory_limit="4MB")
    try:
        query = build_extract_query(_spec(2), wh.dialect, D)
        assert not query.scan_only
        with pytest.raises(RunFailed) as err:
            for _ in wh.csv_chunks(query, CsvFormat()):
                pass
    finally:
        wh.close()
    message = str(err.value)
    assert "DuckDB warehouse 'big_wh' ran out of memory in the extract query" in message
    assert 'memory_limit in the connection\'s extra, e.g. {"memory_limit": "4GB"}' in message


def test_joins_get_the_connection_limit_not_the_lean_one(big_warehouse: str, monkeypatch: pytest.MonkeyPatch) -> None:
    wh = _connect(monkeypatch, big_warehouse, memory_limit="1GB", threads=3)
    try:
        spec = _spec(2)
        checks = [wh.check_source(src, D) for src in spec.sources]
        assert [(c.rows, c.duplicates) for c in checks] == [(IDS, 0), (IDS - IDS // 10 + 2, 2)]
        query = build_extract_query(spec, wh.dialect, D, frozenset({1}))
        lines = sum(chunk.count(b"\n") for chunk in wh.csv_chunks(query, CsvFormat()))
        assert lines == IDS
        limit, threads = wh.fetchone(Query("SELECT current_setting('memory_limit'), current_setting('threads')"))
        assert size_bytes(limit) > 900 * 1000**2 and threads == 3  # the join ran with the connection's own
    finally:
        wh.close()


@pytest.mark.timeout(60)
def test_a_copy_failing_before_it_opens_the_pipe_ends_the_reader(big_warehouse: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The other side of the OOM test above, where DuckDB fails after opening the pipe.
    wh = _connect(monkeypatch, big_warehouse)
    try:
        with pytest.raises(Exception, match="no_such_column"):
            for _ in wh.csv_chunks(Query("SELECT no_such_column FROM profile", scan_only=True), CsvFormat()):
                pass
    finally:
        wh.close()


@pytest.mark.postgres
def test_a_run_joins_millions_of_ids_in_passes_within_the_connection_limit(
        big_warehouse: str, pg_target_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # 16 MB: the run reads the IDs in passes small enough for the limit (on one thread: a join
    # holds some memory per thread whatever its input) and exports every one of them.
    report, target = _run_into_postgres(pg_target_db, monkeypatch, big_warehouse,
                                        {"memory_limit": "16MB", "threads": 2})
    # the biggest source's 3M rows of D; 16 MB less one thread's 8 MiB reserve leave 7.6 MB:
    # / (12 bytes x 4 values: 2 keys, 2 outputs) = 157k IDs a pass
    assert report.extract_passes == 20
    assert report.rows_written == IDS and report.duplicates_replaced == 2
    rows = target.rows("SELECT count(*), count(orders_30d), count(DISTINCT city) FROM user_tags")
    assert rows == [(IDS, IDS - IDS // 10, 100)]
    assert target.rows("SELECT orders_30d FROM user_tags WHERE user_id IN (7, 10) ORDER BY user_id") == [(2,), (None,)]
    # The preview reads the extract in the same passes: every ID once, nothing changed since the run.
    from airflow_provider_tagoffline.runs import preview

    seen = preview(_target_spec(), D, sample=0)
    assert seen.rows == IDS and seen.changes is not None
    assert (seen.changes.added, seen.changes.removed, seen.changes.changed) == (0, 0, 0)


@pytest.mark.postgres
def test_an_extract_out_of_the_default_limit_runs_again_with_the_fallback(
        tmp_path: Path, pg_target_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A default too small for the join (8 MiB here, and the keys of two types, so no passes either;
    # at 30M IDs in 3 sources the 128 MiB of 2 cores ran out after a few passes): the run drops its
    # stage and loads again at 1 GiB in one statement, as before the passes. A limit the connection
    # sets is never raised (the test above).
    from airflow_provider_tagoffline.dialects.duckdb import resources

    ids = 1_000_000
    path = _build_warehouse(str(tmp_path / "wh.duckdb"), ids,
                            "SELECT user_id::INTEGER AS user_id, user_id % 50 AS orders_30d, ds FROM profile")
    monkeypatch.setattr(resources, "DEFAULT_LIMIT_PER_THREAD", 8 << 20)
    said: list[str] = []
    report, target = _run_into_postgres(pg_target_db, monkeypatch, path, {"threads": 1}, echo=said.append)
    assert any("ran out of its default 8 MiB in the extract; once more with 1024 MiB in one statement" in s
               for s in said), said
    assert report.extract_passes == 1 and report.rows_written == ids
    assert target.rows("SELECT count(*), count(orders_30d) FROM user_tags") == [(ids, ids)]
