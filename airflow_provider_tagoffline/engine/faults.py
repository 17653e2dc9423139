"""Crash points for the recovery tests: ``TAGOFFLINE_CRASH_AT=<phase>`` kills the run right there.

The run process sends itself SIGKILL, exactly what an OOM kill or a lost worker does, so the crash
tests exercise the real recovery path (spec §6). Unset in production; reading one variable is free.
"""

from __future__ import annotations

import os
import signal

ENV = "TAGOFFLINE_CRASH_AT"
#: the phases a test may crash at, in run order
PHASES = ("during_load", "after_load", "inside_swap", "after_swap")


def checkpoint(phase: str) -> None:
    if os.environ.get(ENV) == phase:
        os.kill(os.getpid(), signal.SIGKILL)
