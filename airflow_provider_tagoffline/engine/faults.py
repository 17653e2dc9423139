"""Fault points for the recovery tests: a run killed, or held, at one phase.

* ``TAGOFFLINE_CRASH_AT=<phase>``: the run process sends itself SIGKILL right there, exactly what an
  OOM kill or a lost worker does, so the crash tests exercise the real recovery path (spec §6).
* ``TAGOFFLINE_FAIL_AT=<phase>:<file>``: while ``<file>`` exists, the run removes it and raises
  right there, once: a target giving up in the middle of a load (``mid_stream``: after the first
  chunk of a streamed load), so a test can check what the run does with the abandoned stream.
* ``TAGOFFLINE_PAUSE_AT=<phase>:<file>``: the run writes its pid into ``<file>`` and waits there until
  the file is removed, so a test can kill something else at that moment (a Celery worker in the
  middle of an export; the run's target or warehouse connection; the target server).

Unset in production; reading two variables is free.
"""

from __future__ import annotations

import os
import signal
import time

ENV = "TAGOFFLINE_CRASH_AT"
PAUSE_ENV = "TAGOFFLINE_PAUSE_AT"
FAIL_ENV = "TAGOFFLINE_FAIL_AT"
#: the phases a test may crash at, in run order
PHASES = ("during_load", "after_load", "inside_swap", "after_swap")
#: the phases of a ``changes`` run that diffs in the warehouse (engine/changes.py): the change set written
#: there, sent into the target's temporary table, applied, committed (its snapshot not yet promoted)
CHANGES_PHASES = ("after_diff", "during_load", "after_load", "inside_swap", "after_swap")
#: every checkpoint, in run order:
#: ``recovery`` a crashed run's old copy (``_dpfx_tmp``) renamed back or dropped, its stage not yet;
#: ``extract`` the first rows or CSV chunk read from the warehouse, not yet given to the target
#: (its bulk load is open); ``after_diff`` a ``changes`` run's change set written in the warehouse, not
#: yet sent; ``mid_stream`` and ``during_load`` the first chunk written (on MySQL
#: ``during_load`` is after the LOAD DATA statement); ``index`` inside the index build (PostgreSQL:
#: the first index built, the transaction open); ``after_load`` the stage complete, before the gates;
#: ``gates`` the stage counted, the gates not decided; ``before_swap`` a whole table's stage holding the record
#: of D, not yet swapped (nor a ``changes`` run's diff begun); ``inside_swap`` between the swap's first
#: statement and the rest (a ``changes`` run: inside its transaction); ``after_swap`` the swap (or the
#: changes) committed, the lock still held, a ``changes`` run's snapshot not yet promoted
CHECKPOINTS = ("recovery", "extract", "after_diff", "mid_stream", "during_load", "index", "after_load", "gates",
               "before_swap", "inside_swap", "after_swap")
#: the longest a paused run waits for its test (then it goes on)
PAUSE_SECONDS = 600


def checkpoint(phase: str) -> None:
    if os.environ.get(ENV) == phase:
        os.kill(os.getpid(), signal.SIGKILL)
    fail = os.environ.get(FAIL_ENV)
    if fail and fail.partition(":")[0] == phase:
        try:
            os.remove(fail.partition(":")[2])
        except FileNotFoundError:
            pass
        else:
            raise RuntimeError(f"fault injected at {phase} ({FAIL_ENV})")
    pause = os.environ.get(PAUSE_ENV)
    if pause and pause.partition(":")[0] == phase:
        marker = pause.partition(":")[2]
        with open(marker + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(marker + ".tmp", marker)
        deadline = time.monotonic() + PAUSE_SECONDS
        while os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
