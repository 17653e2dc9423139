"""``tagoffline db``: the catalog store's schema."""

from __future__ import annotations

import typer

from airflow_provider_tagoffline.cli.common import JsonOption, _safe_url, print_json
from airflow_provider_tagoffline.cli.lazy import store
from airflow_provider_tagoffline.cli.output import echo

app = typer.Typer(help="Manage the catalog store's schema.", no_args_is_help=True, rich_markup_mode=None)


@app.command("migrate")
def migrate(json_out: bool = JsonOption) -> None:
    """Create or upgrade the catalog store's tables to the newest revision."""
    before = store.current_revision() if store.get_engine() else None
    store.migrate()
    after = store.current_revision()
    if json_out:
        print_json({"store": _safe_url(), "from": before, "to": after})
    else:
        echo(f"catalog store {_safe_url()}: " + (f"upgraded {before or 'empty'} → {after}"
                                                       if before != after else f"already at {after}"))


@app.command("downgrade")
def downgrade(revision: str = typer.Argument("base", help="Target revision (base removes every table)."),
              yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation.")) -> None:
    """Downgrade the catalog store (``base`` drops every tag offline table)."""
    if not yes:
        typer.confirm(f"Downgrade {_safe_url()} to {revision}?", abort=True)
    store.downgrade(revision=revision)
    echo(f"catalog store {_safe_url()}: now at {store.current_revision() or 'base'}")


@app.command("check")
def check(json_out: bool = JsonOption) -> None:
    """Exit non-zero unless the store is at the newest revision."""
    ok = store.is_migrated()
    if json_out:
        print_json({"store": _safe_url(), "migrated": ok, "head": store.head_revision()})
    else:
        echo(f"catalog store {_safe_url()}: " + ("up to date" if ok else "needs `tagoffline db migrate`"))
    if not ok:
        raise typer.Exit(1)
