"""Sample warehouse data: the demo's DuckDB warehouse, also used by tests and benchmarks.

Two tag tables of the entity ``user`` keyed by ``user_id``, with different partition formats (``ds``
yyyyMMdd and ``dt`` yyyy-MM-dd), a level dimension, and a table keyed by the other entity ID,
``mobile``, generated inside DuckDB so 1M users take seconds. About 1 in 10 users has no trade row,
so their trade tags are NULL (the join keeps them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow_provider_tagoffline.engine.extract import format_date

#: how many days ``tagoffline demo`` fills: the data date and the 13 days before it
DEMO_DAYS = 14
CITIES = ["Shanghai", "Beijing", "Shenzhen", "Hangzhou", "Chengdu", "Wuhan", "Xi'an"]
LEVELS = [("1", "Bronze"), ("2", "Silver"), ("3", "Gold"), ("4", "Platinum"), ("5", "钻石")]


def build_demo_warehouse(duck: Any, users: int, dates: list[dt.date]) -> None:
    """Create and fill the demo tables in an open DuckDB connection (replacing earlier ones)."""
    duck.execute("DROP TABLE IF EXISTS dws_user_profile_d")
    duck.execute("DROP TABLE IF EXISTS dws_user_trade_d")
    duck.execute("DROP TABLE IF EXISTS dim_level")
    duck.execute("DROP TABLE IF EXISTS dws_mobile_profile_d")
    duck.execute("CREATE TABLE dws_user_profile_d (user_id BIGINT, gender VARCHAR, level BIGINT, ds VARCHAR)")
    duck.execute("CREATE TABLE dws_user_trade_d (user_id BIGINT, gmv_30d DECIMAL(18,2), last_login TIMESTAMP, "
                 "dt VARCHAR)")
    duck.execute("CREATE TABLE dim_level (level_code VARCHAR, level_name VARCHAR)")
    duck.execute("CREATE TABLE dws_mobile_profile_d (mobile VARCHAR, city VARCHAR, ds VARCHAR)")
    duck.executemany("INSERT INTO dim_level VALUES (?, ?)", LEVELS)
    for n, d in enumerate(dates):
        # The data drifts a little from day to day, so consecutive exports differ.
        duck.execute(
            "INSERT INTO dws_user_profile_d SELECT i, CASE WHEN i % 50 = 0 THEN NULL "
            "ELSE ['M', 'F', 'U'][1 + ((i + ?) % 3)::INT] END, 1 + ((i * 7 + ?) % 5), ? FROM range(1, ? + 1) t(i)",
            [n, n, format_date(d, "yyyyMMdd"), users])
        duck.execute(
            "INSERT INTO dws_user_trade_d SELECT i, ((i * 37 + ?) % 100000) / 100.0, "
            "TIMESTAMP '2026-01-01 00:00:00' + INTERVAL (i % 86400) SECOND + INTERVAL (?) DAY, ? "
            "FROM range(1, ? + 1) t(i) WHERE i % 10 <> 0",
            [n, n, format_date(d, "yyyy-MM-dd"), users])
        duck.execute(
            "INSERT INTO dws_mobile_profile_d SELECT '13' || lpad(CAST(i AS VARCHAR), 9, '0'), "
            "? [1 + ((i + ?) % ?)::INT], ? FROM range(1, ? + 1) t(i)",
            [CITIES, n, len(CITIES), format_date(d, "yyyyMMdd"), users])


def demo_dates(data_date: dt.date) -> list[dt.date]:
    """The days the demo warehouse holds: ``DEMO_DAYS`` days ending at ``data_date``."""
    return [data_date - dt.timedelta(days=k) for k in range(DEMO_DAYS - 1, -1, -1)]
