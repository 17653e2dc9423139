"""The target interface (``base.Target``); each family's implementation is in ``dialects/<family>/target.py``."""

from __future__ import annotations

from typing import Any

from airflow_provider_tagoffline.dialects import family_of_kind
from airflow_provider_tagoffline.engine.targets.base import BACKUP_SUFFIX, STAGE_SUFFIX, Target
from airflow_provider_tagoffline.runspec import TargetSpec


def make_target(spec: TargetSpec, conn: Any, kind: str) -> Target:
    """The target object for a connection of family kind ``kind`` (``warehouse`` resolved by the caller)."""
    return family_of_kind(kind).make_target(spec, conn, kind)


__all__ = ["BACKUP_SUFFIX", "STAGE_SUFFIX", "Target", "make_target"]
