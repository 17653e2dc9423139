"""Where the CLI writes: its own output to the real stdout, everything else to stderr.

Airflow's log handlers and libraries write to ``sys.stdout``; mixed into the CLI's output they
would break ``--json``. ``claim_stdout()`` (called first thing by the ``tagoffline`` entry point)
keeps the process's stdout for ``echo`` and points ``sys.stdout`` at stderr for everyone else.
"""

from __future__ import annotations

import sys
from typing import TextIO

import typer

_stdout: TextIO | None = None


def claim_stdout() -> None:
    global _stdout
    if _stdout is None:
        _stdout, sys.stdout = sys.stdout, sys.stderr


def echo(message: str = "", nl: bool = True) -> None:
    """Print CLI output (stdout)."""
    typer.echo(message, nl=nl, file=_stdout or sys.stdout)
