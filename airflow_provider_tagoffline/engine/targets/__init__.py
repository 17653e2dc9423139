"""The target interface (``base.Target``); each family's implementation is in ``dialects/<family>/target.py``,
made by the family (``Resolved.target``)."""

from __future__ import annotations

from airflow_provider_tagoffline.engine.targets.base import BACKUP_SUFFIX, STAGE_SUFFIX, Target

__all__ = ["BACKUP_SUFFIX", "STAGE_SUFFIX", "Target"]
