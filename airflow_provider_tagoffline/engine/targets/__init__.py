"""Target families behind one interface (``base.Target``); one module each, registered by kind."""

from __future__ import annotations

from typing import Any

from airflow_provider_tagoffline.dialects import get_dialect
from airflow_provider_tagoffline.engine.targets.base import BACKUP_SUFFIX, STAGE_SUFFIX, Target
from airflow_provider_tagoffline.runspec import TargetSpec

_REGISTRY: dict[str, type[Target]] = {}


def _load() -> None:
    from airflow_provider_tagoffline.dialects.duckdb.target import DuckDBTarget
    from airflow_provider_tagoffline.dialects.mysql.target import MySQLTarget
    from airflow_provider_tagoffline.dialects.oracle.target import OracleTarget
    from airflow_provider_tagoffline.dialects.postgres.target import PostgresTarget
    from airflow_provider_tagoffline.dialects.sqlite.target import SQLiteTarget

    for cls in (PostgresTarget, MySQLTarget, OracleTarget, SQLiteTarget, DuckDBTarget):
        for kind in cls.kinds:
            _REGISTRY[kind] = cls


def make_target(spec: TargetSpec, conn: Any, kind: str) -> Target:
    """The target object for a connection of dialect ``kind`` (``warehouse`` resolved by the caller)."""
    if not _REGISTRY:
        _load()
    return _REGISTRY[kind](spec, conn, get_dialect(kind))


__all__ = ["BACKUP_SUFFIX", "STAGE_SUFFIX", "Target", "make_target"]
