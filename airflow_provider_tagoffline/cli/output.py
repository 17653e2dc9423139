"""Where the CLI writes: its own output to the real stdout, everything else to stderr.

Airflow's log handlers and libraries write to ``sys.stdout``; mixed into the CLI's output they
would break ``--json``. ``claimed_stdout()`` (around each run of the ``tagoffline`` entry point, before
anything imports Airflow) keeps the stdout for ``echo`` and points ``sys.stdout`` at stderr for
everyone else.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import typer

_stdout: TextIO | None = None


@contextmanager
def claimed_stdout() -> Iterator[None]:
    """For one CLI invocation: ``echo`` writes to the current stdout, ``sys.stdout`` is stderr."""
    global _stdout
    saved, _stdout, sys.stdout = sys.stdout, sys.stdout, sys.stderr
    try:
        yield
    finally:
        sys.stdout, _stdout = saved, None


def echo(message: str = "", nl: bool = True) -> None:
    """Print CLI output (stdout)."""
    typer.echo(message, nl=nl, file=_stdout or sys.stdout)
