"""How long a run waits for source data that is not there yet (spec §4): the service's
``schedule.wait_for_data``, for scheduled runs only.

A scheduled run fires when the day's partitions are usually there; when one is late, the run waits
for it (deferred in Airflow's triggerer, holding no worker) up to the service's wait, then fails with
the one-line reason instead of retrying blindly. A run someone started by hand (Airflow's Trigger,
the plugin's Run, a backfill, the CLI) does not wait: a missing partition fails it at once, so the
person sees why.
"""

from __future__ import annotations

import re

from airflow_provider_tagoffline.errors import ValidationFailed

DEFAULT_WAIT_SECONDS = 6 * 3600
#: a daily service waiting longer would still be waiting when the next day's run is due
MAX_WAIT_SECONDS = 24 * 3600
#: run types that wait (Airflow's); every other run waits 0
WAITING_RUN_TYPES = ("scheduled",)

_UNITS = {"h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_wait(value: object, field: str = "schedule.wait_for_data") -> int:
    """``"6h"``, ``"90m"``, ``"1h30m"``, ``"45s"``, ``"0"`` or a number of seconds → seconds, within
    0 and 24 hours; ValidationFailed naming ``field`` otherwise."""
    return parse_duration(value, field, maximum=MAX_WAIT_SECONDS)


def parse_duration(value: object, field: str, *, maximum: int) -> int:
    """A duration in the syntax of ``parse_wait`` (also ``target.wait_for_lock``) → seconds, within 0
    and ``maximum``; ValidationFailed naming ``field`` otherwise."""
    seconds: int | None = None
    if isinstance(value, bool):
        seconds = None
    elif isinstance(value, int):
        seconds = value
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text.isdigit():
            seconds = int(text)
        elif text and (m := _DURATION.match(text)):
            seconds = sum(int(n) * _UNITS[u] for n, u in zip(m.groups(), "hms", strict=True) if n)
    if seconds is None:
        raise ValidationFailed.one(field, f"{value!r} is not a duration such as 6h, 90m, 1h30m or 45s")
    if not 0 <= seconds <= maximum:
        raise ValidationFailed.one(field, f"{value!r} is outside 0 to {format_wait(maximum)} (the next day's run "
                                          "would be due)")
    return seconds


def format_wait(seconds: int) -> str:
    """Seconds for people: ``6h``, ``1h30m``, ``45s``, ``0s``."""
    if seconds <= 0:
        return "0s"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{n}{u}" for n, u in ((h, "h"), (m, "m"), (s, "s")) if n)


def wait_for_run(run_type: str, service_wait: int | None) -> int:
    """Seconds a run of ``run_type`` waits for missing sources: the service's wait (default 6h) for
    scheduled runs, 0 for any other."""
    if run_type not in WAITING_RUN_TYPES:
        return 0
    return DEFAULT_WAIT_SECONDS if service_wait is None else service_wait
