"""The data date a whole-table target holds, as every surface asks it (spec §4, docs/data-dates.md):
``held_data_date(spec)`` for the plugin's Run and backfill plan and the preview.

The target's own record first (``engine/held.py``: what the swap wrote with the table). A table written
before records existed has none: then Airflow's last event of the target's asset, where Airflow's
database is reachable (``held_in_airflow``), the one place that knew before. None: unknown.
"""

from __future__ import annotations

import datetime as dt
import logging

from airflow_provider_tagoffline.errors import first_line
from airflow_provider_tagoffline.runs import read_held
from airflow_provider_tagoffline.runspec import RunSpec

log = logging.getLogger(__name__)


def target_name(spec: RunSpec) -> str:
    """How refusals name a target: ``conn_id:schema.table``."""
    t = spec.target
    return f"{t.conn_id}:{t.schema_ + '.' if t.schema_ else ''}{t.table}"


def held_data_date(spec: RunSpec) -> dt.date | None:
    """The data date ``spec``'s whole-table target holds: its own record, else Airflow's (None: unknown)."""
    try:
        record = read_held(spec)
    except Exception as exc:  # the run itself reads it again before it writes anything
        log.info("cannot read which data date %s holds from the table: %s", target_name(spec), first_line(exc))
        record = None
    if record is not None:
        return record.data_date
    return held_in_airflow(spec)


def held_in_airflow(spec: RunSpec) -> dt.date | None:
    """What Airflow's last event of the target's asset says the table holds (tables written before they
    recorded it); None where it says nothing or Airflow's database cannot be reached."""
    from airflow_provider_tagoffline import airflow_bridge
    from airflow_provider_tagoffline.assets import target_asset_uri

    try:
        return airflow_bridge.target_data_date(target_asset_uri(spec))
    except Exception as exc:  # no Airflow database here (a CLI away from Airflow)
        log.info("cannot ask Airflow which data date %s holds: %s", target_name(spec), first_line(exc))
        return None
