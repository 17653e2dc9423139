"""Bench: a Spark SQL warehouse (the Spark Thrift Server of pyspark, local mode) into PostgreSQL.

    .venv/bin/python -m bench.bench_spark [USERS] [ROUNDS]   (default 1,000,000 users x 10 tags, 3 rounds)

The warehouse is a Hive-format table partitioned by ``ds`` (bench/common.py's 10 tags). Reference:
the Thrift server's own fetch of the very query the engine pushes down — PyHive executing it and
fetching every row in batches of 20,000, loading nothing. Ours: one ``run_export`` (preflight,
extract, load by COPY into an indexed PostgreSQL table, gates, swap) in a fresh process, as a worker
runs it. Rounds are interleaved; figures are medians. Also printed: the server's start-up time
and memory. The last line is the ratio median_reference_seconds / median_our_seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import time

from bench.common import DAY, TAGS, run_export_subprocess, spec_dict, targets, tmpdir
from tests.spark_server import start_server

#: the tags of bench/common.py as Spark SQL expressions over ``id``
SPARK_EXPR = {
    "gender": "element_at(array('M', 'F', 'U'), CAST(1 + id % 3 AS INT))",
    "level": "1 + (id * 7) % 5",
    "city": "concat('city_', id % 1000)",
    "gmv_30d": "CAST(((id * 37) % 1000000) / 100.0 AS DECIMAL(18,2))",
    "orders_30d": "(id * 13) % 200",
    "score": "CAST((id % 10007) / 7.0 AS DOUBLE)",
    "vip": "id % 7 = 0",
    "birthday": "date_add(DATE '1970-01-01', CAST(id % 15000 AS INT))",
    "last_login": "timestamp_seconds(1767225600 + id % 86400)",
    "nickname": "concat('user ', id, ' 用户')",
}
SPARK_TYPES = {"string": "STRING", "bigint": "BIGINT", "decimal(18,2)": "DECIMAL(18,2)", "double": "DOUBLE",
               "boolean": "BOOLEAN", "date": "DATE", "datetime": "TIMESTAMP"}


def build_spark_warehouse(server: object, database: str, users: int) -> None:
    conn = server.connect()  # type: ignore[attr-defined]
    cur = conn.cursor()
    cols = ", ".join(f"{c} {SPARK_TYPES[t]}" for c, t, _, _ in TAGS)
    cur.execute(f"CREATE DATABASE {database}")
    cur.execute(f"CREATE TABLE {database}.dws_user_tags_d (user_id BIGINT, {cols}) PARTITIONED BY (ds STRING) "
                "STORED AS PARQUET")
    exprs = ", ".join(SPARK_EXPR[c] for c, _, _, _ in TAGS)
    cur.execute(f"INSERT OVERWRITE TABLE {database}.dws_user_tags_d PARTITION (ds = '20261123') "
                f"SELECT id, {exprs} FROM range(1, {users} + 1)")
    conn.close()


def thrift_fetch_reference(server: object, database: str, spec: dict) -> tuple[float, int]:
    """The pushed-down query of ``spec``, fetched from the Thrift server and dropped."""
    from airflow_provider_tagoffline.dialects import family_of_connection
    from airflow_provider_tagoffline.engine.extract import build_extract_query
    from airflow_provider_tagoffline.runspec import RunSpec

    dialect = family_of_connection("hiveserver2").dialect_for("spark")  # type: ignore[union-attr]
    query = build_extract_query(RunSpec.model_validate(spec), dialect, dt.date.fromisoformat(DAY), frozenset())
    conn = server.connect()  # type: ignore[attr-defined]
    cur = conn.cursor()
    cur.execute(f"USE {database}")
    cur.arraysize = 20_000
    rows = 0
    t = time.perf_counter()
    cur.execute(query.sql, query.params)
    while batch := cur.fetchmany(20_000):
        rows += len(batch)
    elapsed = time.perf_counter() - t
    conn.close()
    return elapsed, rows


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    server = start_server(tmpdir() / "spark")
    try:
        print(f"Spark Thrift Server: up in {server.started_in:.1f} s, {server.rss_mb():.0f} MB")
        database = "bench_spark"
        t, _ = time.perf_counter(), build_spark_warehouse(server, database, users)
        print(f"warehouse: {users:,} users x {len(TAGS)} tags in {time.perf_counter() - t:.1f} s; "
              f"server {server.rss_mb():.0f} MB")
        spark_json = json.dumps({**json.loads(server.conn_json), "schema": database})
        refs, ours, peaks = [], [], []
        with targets(mysql=False) as target:
            spec = spec_dict("bench_pg", "postgres", "wh")
            env = {"AIRFLOW_CONN_WH": spark_json, **target.env}
            for n in range(rounds):
                ref, rows = thrift_fetch_reference(server, database, spec)
                run = run_export_subprocess(spec, env)
                assert rows == run.report["rows_written"] == users, (rows, run.report)
                refs.append(ref)
                ours.append(run.seconds)
                peaks.append(run.peak_rss)
                print(f"round {n + 1}: Thrift fetch {ref:.2f} s ({rows / ref:,.0f} rows/s); export {run.seconds:.2f} s "
                      f"(extract_load {run.report['phases']['extract_load']:.2f} s, load by "
                      f"{run.report['load_method']}), peak RSS {run.peak_rss / 2**20:.0f} MB")
        ref, our = statistics.median(refs), statistics.median(ours)
        print(f"server after the rounds: {server.rss_mb():.0f} MB")
        print(f"median: Thrift fetch of the pushed-down query {ref:.2f} s, export into PostgreSQL {our:.2f} s, "
              f"peak RSS {statistics.median(peaks) / 2**20:.0f} MB")
        print(f"ratio (Thrift fetch / export): {ref / our:.2f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
