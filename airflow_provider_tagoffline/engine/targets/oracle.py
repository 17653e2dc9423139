"""Oracle (being written)."""

from __future__ import annotations

from airflow_provider_tagoffline.engine.targets.base import Target


class OracleTarget(Target):
    kinds = ("oracle",)
