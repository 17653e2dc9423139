"""The quickstart run of ``tagoffline demo``: build the DuckDB warehouse, create the target, export."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from airflow_provider_tagoffline.catalog import store
from airflow_provider_tagoffline.connections import resolve_target, resolve_warehouse
from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.demo.warehouse import build_demo_warehouse, demo_dates
from airflow_provider_tagoffline.runs import run_export
from airflow_provider_tagoffline.service import lifecycle


def run_demo(service_name: str, data_date: dt.date, users: int,
             echo: Callable[[str], None], *, by: str = "", allow_older: bool = False) -> dict[str, Any]:
    """Fill the demo warehouse for the 14 days up to D, create the target table if needed, export D (which
    the table then records, as every run does: a later run of an older date is refused)."""
    dates = demo_dates(data_date)
    duck = resolve_warehouse().open()
    try:
        build_demo_warehouse(duck, users, dates)
    finally:
        duck.close()
    echo(f"warehouse: {users} users in dws_user_profile_d, dws_user_trade_d and dws_mobile_profile_d for "
         f"{len(dates)} data dates, {dates[0].isoformat()} to {dates[-1].isoformat()}")

    with store.session_scope() as s:
        spec = lifecycle.freeze_service(s, service_name)
    where = resolve_target(spec.target.conn_id, spec.warehouse_conn_id)
    target = where.target(spec.target, where.open())
    try:
        if not target.exists(target.live):
            target.run_in_tx(create_table_sql(spec, where.dialect.kind))
            echo(f"target: created table {target.display_name} ({where.kind}, connection {spec.target.conn_id})")
    finally:
        target.close()
    run_id = f"tagoffline-demo__{dt.datetime.now(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    report = run_export(spec, data_date, echo=echo, run_id=run_id, by=by, allow_older=allow_older)
    return report.to_dict()
