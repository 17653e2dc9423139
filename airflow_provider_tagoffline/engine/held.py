"""The data date a whole-table target holds, read from the target itself: what the plugin's Run and
backfill plan, and the CLI, compare with before they start anything (the run reads it again, under its
lock). One read-only connection, no lock; nothing is written."""

from __future__ import annotations

from airflow_provider_tagoffline.contract.connection import Resolved
from airflow_provider_tagoffline.engine.targets.held import HeldRecord
from airflow_provider_tagoffline.runspec import RunSpec


def read_held(spec: RunSpec, where: Resolved) -> HeldRecord | None:
    """The record of the data date ``spec``'s whole-table target ``where`` holds (None: the table records
    none, or does not exist). Raises the driver's error when the target cannot be read."""
    target = where.target(spec.target, where.open(read_only=True))
    try:
        target.run_statements(target.read_only_statements())
        return target.read_held() if target.exists(target.live) else None
    finally:
        target.close()
