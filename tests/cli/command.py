"""The ``tagoffline`` command as a user runs it: a subprocess of this environment's entry point; and
the environment of commands run after ``tagoffline demo``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "tagoffline"


def tagoffline(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``tagoffline ARGS`` with this process's environment plus ``env``."""
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, **(env or {})})


def demo_env(home: Path) -> dict[str, str]:
    """The connections and store `tagoffline demo --home HOME` uses, for commands run after it."""
    return {
        "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'catalog.db'}",
        "AIRFLOW__TAG_OFFLINE__WAREHOUSE_CONN_ID": "tag_warehouse",
        "AIRFLOW_CONN_TAG_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(home / "warehouse.duckdb")}),
        "AIRFLOW_CONN_DEMO_TARGET": json.dumps({"conn_type": "sqlite", "host": str(home / "target.db")}),
    }
