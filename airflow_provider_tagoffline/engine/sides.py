"""The two sides of a run, opened: the warehouse it reads and the target it writes, through the
connections its caller resolved (``RunConnections``). One way for a run and its preview alike; a
preview's target connection is read-only and runs its family's read-only statements first."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from airflow_provider_tagoffline.contract.connection import RunConnections
from airflow_provider_tagoffline.engine.targets.base import CsvFormat, Target
from airflow_provider_tagoffline.engine.warehouse import Warehouse
from airflow_provider_tagoffline.runspec import RunSpec


@contextlib.contextmanager
def opened(spec: RunSpec, where: RunConnections, *, read_only: bool = False) -> Iterator[tuple[Warehouse, Target]]:
    """The warehouse and the target of ``spec``, closed after. A target in the warehouse is one connection
    that reads and writes: the data never leaves the engine."""
    if where.target.in_warehouse:
        conn = where.target.open(read_only=read_only)
        warehouse = Warehouse(where.warehouse, conn=conn)
    else:
        warehouse = Warehouse(where.warehouse)
        try:
            conn = where.target.open(read_only=read_only)
        except BaseException:
            warehouse.close()
            raise
    target = where.target.target(spec.target, conn)
    try:
        if read_only:
            target.run_statements(target.read_only_statements())
        yield warehouse, target
    finally:
        target.close()
        warehouse.close()


def csv_between(warehouse: Warehouse, target: Target) -> CsvFormat | None:
    """The CSV format the rows travel in from ``warehouse`` to ``target`` (None: they do not travel as CSV —
    the warehouse exports none, or the target is inside it)."""
    return target.csv_format if warehouse.can_export_csv and not warehouse.is_the_target else None


def booleans_as_int(warehouse: Warehouse, target: Target) -> bool:
    """Whether the extract renders booleans as 0 / 1 on its way to ``target`` (its CSV reads no true / false):
    part of what a snapshot's rows are (``changes.signature``)."""
    csv = csv_between(warehouse, target)
    return csv is not None and csv.booleans_as_int
