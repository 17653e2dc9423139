"""The CLI's quiet default: Airflow logs at WARNING in the ``tagoffline`` process only.

Hooks log at INFO ("Opening DuckDB database ..."), which would bury the CLI's own output, so the CLI
sets ``AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING`` before Airflow is imported (an explicit setting
wins). Processes the CLI starts (``airflow standalone`` of ``demo --serve``, ``airflow db migrate``)
must not inherit it: their task logs hold the run report at INFO. They get ``child_env()``.
"""

from __future__ import annotations

import os

LEVEL_VAR = "AIRFLOW__LOGGING__LOGGING_LEVEL"
_quieted_here = False


def quiet_this_process() -> None:
    """Log Airflow at WARNING in this process, unless the user chose a level."""
    global _quieted_here
    if LEVEL_VAR not in os.environ:
        os.environ[LEVEL_VAR] = "WARNING"
        _quieted_here = True


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a process the CLI starts: this one's, without the CLI's own quiet default."""
    env = dict(os.environ)
    if _quieted_here:
        env.pop(LEVEL_VAR, None)
    env.update(extra)
    return env
