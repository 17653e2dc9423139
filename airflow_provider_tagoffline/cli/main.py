"""``tagoffline``: the command line of tag offline services (spec §8)."""

from __future__ import annotations

import typer

from airflow_provider_tagoffline.cli import catalog_cmd, db_cmd, service_cmd
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


def _register_optional() -> None:
    # Commands whose modules arrive with later issues register themselves here.
    import importlib

    for module in ("run_cmd", "demo_cmd"):
        try:
            mod = importlib.import_module(f"airflow_provider_tagoffline.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"airflow_provider_tagoffline.cli.{module}":
                raise
            continue
        mod.register(app)


_register_optional()


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
