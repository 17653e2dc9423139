"""Shared pieces of the ``tagoffline`` CLI: the acting user, output, error handling."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from airflow_provider_tagoffline import config
from airflow_provider_tagoffline.cli.lazy import repository, store, yaml_io
from airflow_provider_tagoffline.cli.output import echo
from airflow_provider_tagoffline.errors import TagOfflineError, first_line

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_provider_tagoffline.catalog.repository import Actor

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")
AllowOlderOption = typer.Option(False, "--allow-older", help="Let a whole-table target go back to an older data "
                                "date than the one it holds (refused otherwise).")


def actor() -> Actor:
    """The CLI acts with admin rights as the OS user (or TAGOFFLINE_USER), like `airflow` CLI."""
    return repository.Actor.system(os.environ.get("TAGOFFLINE_USER") or getpass.getuser())


@contextmanager
def session() -> Iterator[Session]:
    if store.absent():
        raise TagOfflineError(no_store_message())
    if not store.is_migrated():
        raise TagOfflineError(
            f"the catalog store at {_safe_url()} is not migrated; run `tagoffline db migrate` first"
        )
    with store.session_scope() as s:
        yield s


def no_store_message() -> str:
    """Why a command finds no catalog: usually a shell not pointed at the one it means (a demo's)."""
    source = ("[tag_offline] sql_alchemy_conn" if config.is_set("sql_alchemy_conn") else
              f"the default in AIRFLOW_HOME={config.airflow_home()}, as {config.ENV_PREFIX}SQL_ALCHEMY_CONN is not set")
    return (f"no catalog store at {_safe_url()} ({source}); point this shell at yours: "
            f"export {config.ENV_PREFIX}SQL_ALCHEMY_CONN=... (and AIRFLOW_HOME=...; `tagoffline demo` prints both "
            "for its catalog), or create a new one here with `tagoffline db migrate`")


def _safe_url() -> str:
    return store.display_url()


def print_json(data: Any) -> None:
    echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def export_document(data: Any, json_out: bool, output: Path | None, what: str) -> None:
    """An export: ``data`` as YAML (or JSON), printed, or written to ``output`` saying so."""
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n" if json_out else yaml_io.dump_yaml(data)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        echo(f"{what} written to {output}")
    else:
        echo(text, nl=False)


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


#: set to 1 to see the traceback of an unexpected error (a bug report wants it)
DEBUG_ENV = "TAGOFFLINE_DEBUG"


def one_line(text: str) -> str:
    """``text`` on one line: its lines joined, blank ones dropped."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def unexpected_error_message(exc: BaseException) -> str:
    """One line about an error nobody planned for; never SQL or its parameters (SQLAlchemy's message
    carries both on the lines after the first, so only the driver's first line is kept)."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return f"database error ({type(exc.orig).__name__}): {first_line(exc.orig)}"
    if isinstance(exc, SQLAlchemyError):
        return f"database error ({type(exc).__name__}): {first_line(exc)}"
    if isinstance(exc, OSError) and exc.strerror:  # e.g. --output into a missing directory
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return f"unexpected {type(exc).__name__}: {first_line(exc)} (set {DEBUG_ENV}=1 to see the traceback)"


def run_app(app: typer.Typer) -> None:
    """Run the CLI: every error prints one line (``error: ...``) and exits 1; a traceback only for an
    unexpected error with TAGOFFLINE_DEBUG=1."""
    try:
        # Outside standalone mode click returns a typer.Exit's code instead of raising it.
        code = app(standalone_mode=False)
    except TagOfflineError as exc:
        typer.echo(f"error: {one_line(str(exc))}", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except typer.TyperException as exc:
        # Click's own errors (typer vendors click: these are not ``click.ClickException``): a usage error
        # prints click's usage, hint and message and exits 2, as every click CLI does in standalone mode.
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        if os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes"):
            raise
        typer.echo(f"error: {unexpected_error_message(exc)}", err=True)
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)
