"""Whether a run's sources hold data date D yet: the condition a waiting run polls.

It is the runner's own preflight rule (a source with no rows for D refuses the run), asked alone:
a run that found a partition missing waits until this says nothing is missing, then runs again.
"""

from __future__ import annotations

import datetime as dt

from airflow_provider_tagoffline.contract.connection import Resolved
from airflow_provider_tagoffline.engine.warehouse import SourceCheck, Warehouse
from airflow_provider_tagoffline.runspec import SourceSpec


def waiting_for(check: SourceCheck) -> str:
    """What a source with no rows for D lacks, as a waiting run says it."""
    if check.partition:
        return f"partition {check.partition} of table {check.table}"
    return f"rows of table {check.table}"


def missing_sources(where: Resolved, sources: list[SourceSpec], data_date: dt.date) -> list[str]:
    """What is still missing for ``data_date`` in the warehouse ``where`` (``waiting_for`` of each source
    with no rows); empty when a run can go. Errors reading the warehouse are raised (RunFailed naming the table)."""
    warehouse = Warehouse(where)
    try:
        return [waiting_for(c) for c in (warehouse.check_source(src, data_date) for src in sources) if c.rows == 0]
    finally:
        warehouse.close()
