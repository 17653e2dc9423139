"""Issue 21's demo bug through the session's real Airflow (its scheduler): a table exported in-process for
T-1, then the service published with its daily time still ahead today, so the scheduler's first run is of
T-2. Airflow holds no event of the table; the table's own record refuses that run, which is skipped (a
later date is already there), and the table keeps T-1."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from late_data import TABLES, add_devices, add_partition, device_service, remove, scores, target_scores, wait_for

BIN = Path(sys.executable).parent


def later_today() -> tuple[str, str, dt.date]:
    """(a timezone, a daily time 90 minutes ahead of now there, today there): one of two zones 8 hours
    apart always has one before midnight, whatever the hour the test runs at."""
    for tz in ("Asia/Shanghai", "UTC"):
        now = dt.datetime.now(ZoneInfo(tz))
        if now.hour <= 21:
            return tz, (now + dt.timedelta(minutes=90)).strftime("%H:%M"), now.date()
    raise AssertionError("unreachable: the two zones are 8 hours apart")


def test_the_first_scheduled_run_of_an_older_day_is_skipped_and_the_table_kept(
        api_server: Any, admin: httpx.Client, alice: httpx.Client) -> None:
    warehouse = api_server.home / "warehouse.duckdb"
    add_devices(admin, warehouse)
    name, table = "dev_held", "t_dev_held"
    tz, daily_at, today = later_today()
    t1, t2 = today - dt.timedelta(days=1), today - dt.timedelta(days=2)
    for day in (t1, t2):
        add_partition(warehouse, TABLES["score"], day)
    try:
        body = device_service(name, "score", schedule={"type": "recurring", "daily_at": daily_at, "timezone": tz})
        assert alice.post("/services", json=body).status_code == 201
        assert alice.post(f"/services/{name}/ddl", json={}).status_code == 200
        # in-process, before Airflow knows the service (as `tagoffline demo` exports): T-1
        proc = subprocess.run([str(BIN / "tagoffline"), "run", name], capture_output=True, text=True, timeout=300,
                              env={**api_server.env, "TAGOFFLINE_USER": "alice"})
        assert proc.returncode == 0 and f"SUCCESS: {name} data date {t1}" in proc.stdout, proc.stderr
        assert target_scores(api_server.home, table) == scores(t1)

        assert alice.post(f"/services/{name}/publish").status_code == 202
        wait_for(lambda: alice.get(f"/services/{name}").json(), lambda s: s["status"] == "published", 180,
                 f"{name} published")
        run = wait_for(lambda: next((i for i in alice.get(f"/services/{name}/instances").json()["items"]
                                     if i["run_type"] == "scheduled"), None),
                       lambda i: i is not None and i["state"] in ("success", "failed", "skipped"), 180,
                       f"the scheduled run of {name}")
        said = (f"target crm_sqlite:{table} holds data date {t1}; data date {t2} is older and would roll it back: "
                "refused, the table is untouched (allow_older runs it anyway)")
        assert (run["data_date"], run["state"], run["error"]) == (t2.isoformat(), "skipped", said), run
        assert target_scores(api_server.home, table) == scores(t1)
    finally:
        remove(alice, admin, [name])
