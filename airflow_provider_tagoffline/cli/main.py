"""``tagoffline``: the command line of tag offline services (spec §8)."""

from __future__ import annotations

from airflow_provider_tagoffline.cli import quiet

# Before Airflow is imported; this process only (cli/quiet.py).
quiet.quiet_this_process()

import typer  # noqa: E402

from airflow_provider_tagoffline.cli import (  # noqa: E402
    catalog_cmd,
    db_cmd,
    demo_cmd,
    output,
    run_cmd,
    service_cmd,
)
from airflow_provider_tagoffline.cli.common import run_app  # noqa: E402

app = typer.Typer(
    name="tagoffline",
    help="Tag offline services: deliver warehouse entity tags into application databases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's plain help: typer's rich tables label every flag "<bool>"
    rich_markup_mode=None,
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
