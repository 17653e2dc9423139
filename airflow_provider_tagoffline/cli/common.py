"""Shared pieces of the ``tagoffline`` CLI: the acting user, output, error handling."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog import store
from airflow_provider_tagoffline.catalog.repository import Actor
from airflow_provider_tagoffline.cli.output import echo
from airflow_provider_tagoffline.errors import TagOfflineError

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def actor() -> Actor:
    """The CLI acts with admin rights as the OS user (or TAGOFFLINE_USER), like `airflow` CLI."""
    return Actor.system(os.environ.get("TAGOFFLINE_USER") or getpass.getuser())


@contextmanager
def session() -> Iterator[Session]:
    if not store.is_migrated():
        raise TagOfflineError(
            f"the catalog store at {_safe_url()} is not migrated; run `tagoffline db migrate` first"
        )
    with store.session_scope() as s:
        yield s


def _safe_url() -> str:
    from sqlalchemy.engine import make_url

    from airflow_provider_tagoffline import config

    return make_url(config.catalog_url()).render_as_string(hide_password=True)


def print_json(data: Any) -> None:
    echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def run_app(app: typer.Typer) -> None:
    """Run the CLI; user errors print one line and exit 1, never a traceback."""
    try:
        app(standalone_mode=False)
    except TagOfflineError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:  # click usage errors come through here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
