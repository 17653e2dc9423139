"""``tagoffline demo``: the embedded quickstart, no server needed.

Everything lives in one folder (default ``./tagoffline-demo``): the catalog store (SQLite), a
DuckDB warehouse with ~100k users, and the SQLite target. Connections are given to Airflow as
``AIRFLOW_CONN_*`` variables of this process only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from importlib import resources
from pathlib import Path

import typer

from airflow_provider_tagoffline.cli.output import echo


def _setup_environment(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'catalog.db'}"
    os.environ["AIRFLOW__TAG_OFFLINE__WAREHOUSE_CONN_ID"] = "tag_warehouse"
    warehouse = {"conn_type": "duckdb", "host": str(home / "warehouse.duckdb")}
    os.environ["AIRFLOW_CONN_TAG_WAREHOUSE"] = json.dumps(warehouse)
    os.environ["AIRFLOW_CONN_DEMO_TARGET"] = json.dumps({"conn_type": "sqlite", "host": str(home / "target.db")})


def demo(
    home: Path = typer.Option(Path("tagoffline-demo"), "--home", help="Folder for the demo's files."),
    users: int = typer.Option(100_000, "--users", min=1, help="Users in the demo warehouse."),
    date: str | None = typer.Option(None, "--date", help="Data date to export (default: yesterday)."),
    json_out: bool = typer.Option(False, "--json", help="Print the run report as JSON."),
) -> None:
    """Build a demo warehouse, apply the demo catalog and service, export one data date."""
    home = home.resolve()
    _setup_environment(home)
    from airflow_provider_tagoffline.catalog import store
    from airflow_provider_tagoffline.catalog.apply import apply_catalog
    from airflow_provider_tagoffline.cli.common import actor, print_json
    from airflow_provider_tagoffline.service import lifecycle
    from airflow_provider_tagoffline.yaml_io import load_yaml_text, parse_catalog

    examples = resources.files("airflow_provider_tagoffline") / "examples"
    data_date = dt.date.fromisoformat(date) if date else dt.date.today() - dt.timedelta(days=1)
    store.migrate()
    with store.session_scope() as s:
        plan = apply_catalog(s, actor(), parse_catalog(load_yaml_text((examples / "demo_catalog.yaml").read_text())))
        svc, outcome = lifecycle.apply_service(s, actor(), load_yaml_text((examples / "demo_service.yaml").read_text()))
        name = svc.name
    if not json_out:
        s_ = plan.summary()
        echo(f"demo folder: {home}")
        echo(f"catalog: created {s_['create']}, updated {s_['update']}, unchanged {s_['unchanged']}; "
                   f"service {name}: {outcome}")

    from airflow_provider_tagoffline.engine import demo as engine_demo

    report = engine_demo.run_demo(service_name=name, data_date=data_date, users=users,
                                  echo=(lambda _m: None) if json_out else echo)
    if json_out:
        print_json(report)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
