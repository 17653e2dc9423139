"""``SourcesReadyTrigger``: a run's wait for late source data, in Airflow's triggerer.

The export task defers on it when a source has no rows for the data date yet (spec §4): no worker
is held while it waits. Every ``poke_interval`` seconds it asks the warehouse the runner's own
question (``engine/readiness.py``), logging what is still missing into the task's log; it fires
``ready`` when nothing is, or ``timeout`` at the deadline (the task then fails with the reason,
without retries). A warehouse that cannot be read for a moment (a file locked by its writer, a
network blip) is looked at again at the next poke: the run waits for data, not for luck.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

CLASSPATH = "airflow_provider_tagoffline.operators.wait_trigger.SourcesReadyTrigger"


class SourcesReadyTrigger(BaseTrigger):
    """Fires ``{"status": "ready"}`` once every source holds ``data_date``, or ``{"status": "timeout",
    "missing": [...]}`` at ``deadline`` (ISO 8601 with offset).

    :param warehouse_conn_id: the warehouse connection
    :param sources: the run spec's sources (``SourceSpec`` as dicts)
    :param data_date: ``YYYY-MM-DD``
    :param deadline: when to give up
    :param poke_interval: seconds between two looks
    :param missing: what was missing when the run deferred (said until the first look)
    """

    def __init__(self, warehouse_conn_id: str, sources: list[dict[str, Any]], data_date: str, deadline: str,
                 poke_interval: float = 60.0, missing: list[str] | None = None) -> None:
        super().__init__()
        self.warehouse_conn_id = warehouse_conn_id
        self.sources = sources
        self.data_date = data_date
        self.deadline = deadline
        self.poke_interval = poke_interval
        self.missing = list(missing or [])

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CLASSPATH, {"warehouse_conn_id": self.warehouse_conn_id, "sources": self.sources,
                           "data_date": self.data_date, "deadline": self.deadline,
                           "poke_interval": self.poke_interval, "missing": self.missing}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from asgiref.sync import sync_to_async

        from airflow_provider_tagoffline.errors import first_line
        from airflow_provider_tagoffline.runs import missing_sources
        from airflow_provider_tagoffline.runspec import SourceSpec

        sources = [SourceSpec.model_validate(s) for s in self.sources]
        day = dt.date.fromisoformat(self.data_date)
        deadline = dt.datetime.fromisoformat(self.deadline)
        missing, problem = self.missing, ""
        said, said_at = "", 0.0  # the log says what is missing when it changes, else every 10 minutes
        while True:
            try:
                missing = await sync_to_async(missing_sources)(self.warehouse_conn_id, sources, day)
                problem = ""
            except Exception as exc:
                problem = first_line(exc)
                self.log.warning("cannot look at the warehouse now (looking again in %.0f s): %s",
                                 self.poke_interval, problem)
            if not missing and not problem:
                self.log.info("data date %s is there: every source has rows", self.data_date)
                yield TriggerEvent({"status": "ready"})
                return
            left = (deadline - dt.datetime.now(dt.UTC)).total_seconds()
            if left <= 0:
                yield TriggerEvent({"status": "timeout", "missing": missing, "problem": problem})
                return
            now = asyncio.get_running_loop().time()
            if missing and (", ".join(missing) != said or now - said_at >= 600):
                said, said_at = ", ".join(missing), now
                self.log.info("waiting for %s (gives up at %s)", said, deadline.strftime("%Y-%m-%d %H:%M:%S %Z"))
            await asyncio.sleep(min(self.poke_interval, left))
