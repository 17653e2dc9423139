"""Which data date a run exports, and whether it may (spec §4): one home for every path.

Airflow's Trigger button, its REST API (with or without ``conf``), its backfills, the schedule, the
plugin's Run and Backfill, and the CLI all ask ``data_date_for_run``; the operator asks it again
when the run starts, so a date shown before a run is the date the run exports.

* A backfill run exports the start of its data interval, which is its logical date
  (``rendering/factory.py``'s timetable): each run of the range its own date, whatever the conf says
  (Airflow's backfill form sends the same params to every run).
* Otherwise a date the caller chose (``conf`` / the DAG's ``data_date`` param, ``--date``) wins.
* A scheduled run exports the start of its data interval too: the run fired on day D+1 at HH:MM
  exports D.
* Any other run (Airflow's Trigger, REST, the plugin's Run, the CLI) exports T-1: the day before its
  logical date, or before the moment it was triggered when it has none, in the service's timezone.

A whole-table target holds one data date, recorded with the table by each run's swap; a run of an
older one would roll it back, so it is refused, naming both dates, unless the caller allows it
(``older_refusal``): a scheduled run so refused is skipped, any other fails (``skips_when_older``).
A backfill says beforehand what such a table will end at (``backfill_outlook``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from airflow_provider_tagoffline.errors import ValidationFailed

#: runs whose data date is their data interval's start (the others are "run now": T-1)
INTERVAL_RUN_TYPES = ("scheduled", "backfill")
#: the DAG params (Airflow's trigger form) and ``conf`` keys a run reads
DATA_DATE_PARAM = "data_date"
ALLOW_OLDER_PARAM = "allow_older"


def parse_data_date(value: object, field: str = DATA_DATE_PARAM) -> dt.date:
    """``YYYY-MM-DD`` as a date; ValidationFailed naming ``field`` otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationFailed.one(field, f"{value!r} is not a date YYYY-MM-DD")


def today(timezone: str, now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(timezone)).date()


def yesterday(timezone: str, now: dt.datetime | None = None) -> dt.date:
    """T-1 in ``timezone``: the default data date of a run started now."""
    return today(timezone, now) - dt.timedelta(days=1)


def data_date_for_run(run_type: str, logical_date: dt.datetime | None, requested: object, timezone: str,
                      *, run_after: dt.datetime | None = None) -> dt.date:
    """The data date D a DAG run exports.

    :param run_type: Airflow's run type (``manual``, ``scheduled``, ``backfill``, ...)
    :param logical_date: the run's logical date (None for a manual run triggered without one)
    :param requested: the ``data_date`` the caller chose (conf or the trigger form's param), or None / "";
        a backfill run ignores it
    :param timezone: the service's timezone
    :param run_after: when the run was due (Airflow's ``run_after``), for a run with no logical date
    """
    if run_type == "backfill" and logical_date is not None:
        return logical_date.astimezone(ZoneInfo(timezone)).date()
    if requested not in (None, ""):
        return parse_data_date(requested)
    if run_type in INTERVAL_RUN_TYPES and logical_date is not None:
        return logical_date.astimezone(ZoneInfo(timezone)).date()
    return yesterday(timezone, logical_date or run_after)


def older_refusal(target: str, data_date: dt.date, held: dt.date | None, allow_older: bool) -> str | None:
    """Why a run of ``data_date`` may not replace whole-table ``target`` holding ``held``, or None."""
    if held is None or allow_older or data_date >= held:
        return None
    return (f"target {target} holds data date {held.isoformat()}; data date {data_date.isoformat()} is older "
            f"and would roll it back: refused, the table is untouched (allow_older runs it anyway)")


def skips_when_older(run_type: str) -> bool:
    """Whether a run of ``run_type`` refused over an older data date is skipped rather than failed: a
    scheduled run is (a later date is already there, by a manual run or a catch-up: nothing is left for it
    to do, as Airflow's LatestOnlyOperator skips superseded runs); a date someone chose fails, so they see it."""
    return run_type == "scheduled"


def backfill_outlook(target: str, start: dt.date, end: dt.date, held: dt.date | None) -> str:
    """What a backfill of [start, end] leaves in whole-table ``target`` (holding ``held``), said before it
    starts: every run replaces the whole table, oldest first, so it ends at ``end``."""
    dates = f"data date {start}" if start == end else f"data dates {start} to {end}"
    said = f"target {target} is a whole table: the backfill replaces it with {dates}, oldest first, and leaves it " \
           f"holding {end}"
    if held is None:
        return said
    if end < held:
        return f"{said}, older than the {held} it holds now"
    if start < held:
        return f"{said}; it holds {held} now, and the earlier dates roll it back until the last run"
    return f"{said}; it holds {held} now"


def backfill_needs_allow_older(start: dt.date, held: dt.date | None) -> bool:
    """Whether some run of a backfill starting at ``start`` is older than what the table holds."""
    return held is not None and start < held
