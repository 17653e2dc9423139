"""``tagoffline``: the command line of tag offline services (spec §8)."""

from __future__ import annotations

import os

# Hooks log at INFO ("Opening DuckDB database ..."): quiet by default; an explicit setting wins.
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

import typer

from airflow_provider_tagoffline.cli import (
    catalog_cmd,
    db_cmd,
    demo_cmd,
    output,
    run_cmd,
    service_cmd,
)
from airflow_provider_tagoffline.cli.common import run_app

app = typer.Typer(
    name="tagoffline",
    help="Tag offline services: deliver warehouse entity tags into application databases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db_cmd.app, name="db")
app.add_typer(catalog_cmd.app, name="catalog")
app.add_typer(service_cmd.app, name="service")


run_cmd.register(app, service_cmd.app)
demo_cmd.register(app)


def main() -> None:
    # Airflow is imported only inside commands, so its log handlers bind to stderr here.
    with output.claimed_stdout():
        run_app(app)


if __name__ == "__main__":
    main()
