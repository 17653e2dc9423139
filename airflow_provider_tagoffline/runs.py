"""A run, a preview, the data date a target holds and a waiting run's poll, as their callers start
them (the operator, the CLI, the preview and held services, the triggerer): the run's connections
resolved once here (``connections.py``: which connection, family and dialect), then the engine, which
reads and writes through them and never resolves one itself (``tests/test_import_graph.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_tagoffline import connections
from airflow_provider_tagoffline.engine import preview as engine_preview
from airflow_provider_tagoffline.engine import runner
from airflow_provider_tagoffline.engine.preview import Preview
from airflow_provider_tagoffline.runspec import RunSpec

if TYPE_CHECKING:
    from airflow_provider_tagoffline.contract.connection import RunConnections
    from airflow_provider_tagoffline.engine.report import RunReport
    from airflow_provider_tagoffline.engine.targets.held import HeldRecord
    from airflow_provider_tagoffline.runspec import SourceSpec


def _spec(spec: RunSpec | dict[str, Any]) -> RunSpec:
    return spec if isinstance(spec, RunSpec) else RunSpec.model_validate(spec)


def resolve(spec: RunSpec, data_date: dt.date | str) -> RunConnections:
    """The connections of the run of ``spec`` for ``data_date``, resolved once. One that cannot be resolved
    fails the run as a failure inside it does: a RunFailed with a report (a bad date is refused first)."""
    runner.parse_date(data_date)
    try:
        return connections.resolve_run(spec)
    except Exception as exc:
        raise runner.failed_to_start(spec, data_date, exc) from exc


def run_export(spec: RunSpec | dict[str, Any], data_date: dt.date | str, *, where: RunConnections | None = None,
               **options: Any) -> RunReport:
    """``engine.runner.run`` of ``spec`` for ``data_date`` (its ``options``) through ``where``, else through
    the connections resolved here (``resolve``)."""
    spec = _spec(spec)
    return runner.run(spec, data_date, where if where is not None else resolve(spec, data_date), **options)


def preview(spec: RunSpec | dict[str, Any], data_date: dt.date, *, sample: int = engine_preview.DEFAULT_SAMPLE,
            allow_older: bool = False, held_elsewhere: Callable[[], dt.date | None] | None = None) -> Preview:
    """``engine.preview.preview`` of ``spec`` for ``data_date``, its connections resolved here (a failure
    to resolve them said as the preview's own)."""
    spec = _spec(spec)
    try:
        where = connections.resolve_run(spec)
    except Exception as exc:
        raise engine_preview.failure(exc) from exc
    return engine_preview.preview(spec, data_date, where, sample=sample, allow_older=allow_older,
                                  held_elsewhere=held_elsewhere)


def read_held(spec: RunSpec) -> HeldRecord | None:
    """``engine.held.read_held``: the record of the data date ``spec``'s whole-table target holds."""
    from airflow_provider_tagoffline.engine.held import read_held as read

    return read(spec, connections.resolve_target(spec.target.conn_id, spec.warehouse_conn_id))


def missing_sources(warehouse_conn_id: str, sources: list[SourceSpec], data_date: dt.date) -> list[str]:
    """``engine.readiness.missing_sources`` in the warehouse ``warehouse_conn_id``."""
    from airflow_provider_tagoffline.engine.readiness import missing_sources as missing

    return missing(connections.resolve_warehouse(warehouse_conn_id), sources, data_date)
