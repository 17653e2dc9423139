"""Spark SQL as a warehouse, for real: the Spark Thrift Server (pyspark, local mode) read through
Airflow's HiveServer2Hook, with Hive-format tables partitioned by the data date.

The exact-content export of run_data.py's warehouse — two sources with different partition
formats, an inline and a table lookup, a duplicated ID, every awkward value — into live PostgreSQL
and MariaDB targets.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_tagoffline.connections import resolve_warehouse
from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runs import run_export
from tests.run_data import EXPECTED_D, D, LiveTarget, fill_spark_warehouse, make_spec, target_content

pytestmark = [pytest.mark.postgres, pytest.mark.mysql, pytest.mark.slow]


@pytest.fixture(scope="module")
def spark_database(spark_server: Any) -> Iterator[str]:
    """run_data's warehouse in a Spark database of its own; yields the connection's JSON."""
    name = f"tot_{uuid.uuid4().hex[:10]}"
    conn = spark_server.connect()
    try:
        fill_spark_warehouse(conn, name)
    finally:
        conn.close()
    yield json.dumps({**json.loads(spark_server.conn_json), "schema": name})
    conn = spark_server.connect()
    try:
        cur = conn.cursor()
        cur.execute(f"DROP DATABASE IF EXISTS {name} CASCADE")
    finally:
        conn.close()


@pytest.fixture
def spark_wh(spark_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_TOT_SPARK", spark_database)
    return "tot_spark"


def _expected(got: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # Spark has no physical row order: which of user 3's two rows wins is the engine's pick.
    first_of_3 = (3, "U", "Unknown", 3, "Gold", "first row of 3") + EXPECTED_D[2][6:]
    return [first_of_3 if r[0] == 3 and got[2][5] == "first row of 3" else r for r in EXPECTED_D]


def test_a_hiveserver2_connection_is_the_spark_family(spark_wh: str) -> None:
    where = resolve_warehouse(spark_wh)
    assert (where.family.name, where.kind, where.dialect.quote("a`b")) == ("spark", "spark", "`a``b`")


@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_exact_content_from_spark_into_each_target(spark_wh: str, live_target: LiveTarget) -> None:
    spec = make_spec(live_target.kind, live_target.conn_id, warehouse_conn_id=spark_wh)
    live_target.execute(*create_table_sql(spec, live_target.kind))
    report = run_export(spec, D, batch_size=3)  # several Thrift fetches, never the whole result
    got = target_content(live_target)
    assert got == _expected(got)
    assert report.rows_read == report.rows_written == len(EXPECTED_D)
    assert report.duplicates_replaced == 1
    assert not [n for n in live_target.tables() if "_dpfx_" in n]


@pytest.mark.parametrize("live_target", ["postgres"], indirect=True)
def test_a_missing_partition_and_a_missing_table_are_one_clear_line(spark_wh: str, live_target: LiveTarget) -> None:
    spec = make_spec(live_target.kind, live_target.conn_id, warehouse_conn_id=spark_wh)
    live_target.execute(*create_table_sql(spec, live_target.kind))
    with pytest.raises(RunFailed, match=r"no rows for data date 2001-01-01 in profile partition ds=20010101"):
        run_export(spec, dt.date(2001, 1, 1))
    broken = make_spec(live_target.kind, live_target.conn_id, warehouse_conn_id=spark_wh).model_dump(by_alias=True)
    broken["sources"][0]["table"] = "no_such_table"
    with pytest.raises(RunFailed) as info:
        run_export(broken, D)
    message = str(info.value)
    assert "no_such_table" in message and "TABLE_OR_VIEW_NOT_FOUND" in message
    assert "\n" not in message and "org.apache" not in message and len(message) < 600
    assert target_content(live_target) == []
