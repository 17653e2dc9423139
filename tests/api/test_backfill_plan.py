"""The plugin's backfill plan is Airflow's plan (issue 21): for a range ending yesterday, before and after
the service's daily time, the plan (REST, CLI, web view) names the runs Airflow's own dry run names, the
backfill creates exactly those runs, the dates left out are named with why and what to do instead, and
the whole-table target ends at the date the plan said.

The clock is fixed by choosing the schedule, not by waiting for an hour: each service's timezone is
one where it is now about noon, and its daily time two hours after ("before": yesterday's data
interval has not ended) or two hours before now ("after": it has). Session stack of tests/api.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from browser import chromium, signed_in_page
from late_data import add_devices, add_partition, publish, remove, scores, target_scores, wait_for, write_warehouse
from playwright.sync_api import expect
from test_publishing import tagoffline

BEFORE, AFTER = "bf_before_daily_time", "bf_after_daily_time"
#: each service's own tag (named as the service) of late_data's device entity -> its source table
SOURCES = {BEFORE: "dws_device_bf_before_d", AFTER: "dws_device_bf_after_d"}


def zone_at_noon(now: dt.datetime) -> str:
    """A fixed-offset IANA zone where it is now between 11:30 and 12:30, so now ± 2 h is the same local day."""
    hours = now.hour + now.minute / 60
    offset = min(range(-12, 15), key=lambda o: abs((hours + o) % 24 - 12))
    # POSIX sign convention: Etc/GMT-8 is UTC+8
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


@pytest.fixture(scope="module")
def setup(api_server: Any, admin: httpx.Client, alice: httpx.Client) -> Iterator[dict[str, Any]]:
    """Two recurring whole-table services, each with partitions for the last four days, published; each
    one's first scheduled run (catchup off: the latest interval that has ended) is over."""
    now = dt.datetime.now(dt.UTC)
    tz = zone_at_noon(now)
    local = now.astimezone(ZoneInfo(tz))
    yesterday = local.date() - dt.timedelta(days=1)
    warehouse = api_server.home / "warehouse.duckdb"
    add_devices(admin, warehouse)  # the device entity; these services' own tags and tables beside its others
    r = admin.post("/catalog/apply", json={
        "entities": [{"code": "device", "name": "Device", "ids": [{"code": "device_id", "name": "Device ID",
                                                                   "type": "bigint"}],
                      "tags": [{"code": tag, "name": f"Score from {table}", "type": "bigint", "id": "device_id",
                                "source": {"table": table, "key": "device_id", "column": "score", "partition": "ds"}}
                               for tag, table in SOURCES.items()]}],
        "grants": [{"application": "crm", "entity": "device", "tags": list(SOURCES)}]})
    assert r.status_code == 200, r.text
    write_warehouse(warehouse, [(f"CREATE TABLE IF NOT EXISTS {t} (device_id BIGINT, score BIGINT, ds VARCHAR)", [])
                                for t in SOURCES.values()])
    for table in SOURCES.values():
        for back in range(4):
            add_partition(warehouse, table, yesterday - dt.timedelta(days=back))
    daily = {BEFORE: (local + dt.timedelta(hours=2)).strftime("%H:%M"),
             AFTER: (local - dt.timedelta(hours=2)).strftime("%H:%M")}
    published = {name: publish(alice, {
        "name": name, "application": "crm", "owner": "alice", "entity": "device", "entity_id": "device_id",
        "schedule": {"type": "recurring", "daily_at": daily[name], "timezone": tz},
        "target": {"conn_id": "crm_sqlite", "table": f"t_{name}", "load": "overwrite"},
        "mappings": [{"tag": name, "value": "score"}]}) for name in SOURCES}
    for name in SOURCES:
        runs = wait_runs_over(api_server, published[name]["dag_id"], 1)
        assert [r["run_type"] for r in runs] == ["scheduled"], runs
    yield {"tz": tz, "yesterday": yesterday, "daily": daily, "services": published}
    for name in SOURCES:
        wait_backfills_done(api_server, published[name]["dag_id"])
    for name in SOURCES:
        alice.post(f"/services/{name}/unpublish")
        assert alice.delete(f"/services/{name}").status_code in (204, 404)
        assert admin.delete(f"/catalog/entities/device/tags/{name}").status_code in (204, 404)
    remove(alice, admin, [])  # late_data's tags and the device entity, as its other users leave it


def wait_runs_over(api_server: Any, dag_id: str, count: int) -> list[dict[str, Any]]:
    """The DAG's runs once there are ``count`` and Airflow says each is over (the run, not only its task:
    a run still ``running`` is in flight for a backfill)."""
    with api_server.airflow("admin") as af:
        return wait_for(lambda: af.get(f"/dags/{dag_id}/dagRuns").json()["dag_runs"],
                        lambda runs: len(runs) == count and all(r["state"] in ("success", "failed") for r in runs),
                        180, f"{count} run(s) of {dag_id} over")


def wait_backfills_done(api_server: Any, dag_id: str) -> None:
    """Airflow marks a backfill complete a moment after its runs; one backfill per DAG at a time."""
    with api_server.airflow("admin") as af:
        wait_for(lambda: af.get("/backfills", params={"dag_id": dag_id}).json()["backfills"],
                 lambda bs: all(b["completed_at"] is not None for b in bs), 180, f"backfills of {dag_id}")


def airflows_dry_run(api_server: Any, dag_id: str, tz: str, start: dt.date, end: dt.date) -> list[str]:
    """Airflow's own answer (``POST /api/v2/backfills/dry_run``, as its backfill dialog asks), as data dates."""
    zone = ZoneInfo(tz)
    with api_server.airflow("admin") as af:
        r = af.post("/backfills/dry_run", json={
            "dag_id": dag_id, "from_date": dt.datetime.combine(start, dt.time(0, 0), zone).isoformat(),
            "to_date": dt.datetime.combine(end, dt.time(23, 59, 59), zone).isoformat(),
            "reprocess_behavior": "completed", "max_active_runs": 1})
    assert r.status_code == 200, r.text
    return [dt.datetime.fromisoformat(b["logical_date"]).astimezone(zone).date().isoformat()
            for b in r.json()["backfills"]]


def backfill_and_compare(api_server: Any, alice: httpx.Client, name: str, start: dt.date, end: dt.date,
                         tz: str) -> dict[str, Any]:
    """Plan (REST and CLI) == Airflow's dry run == the runs the backfill creates == the runs that ran;
    the whole table ends where the plan said. Returns the plan."""
    dag_id = alice.get(f"/services/{name}").json()["dag_id"]
    plan = alice.get(f"/services/{name}/backfill/plan", params={"start": str(start), "end": str(end)}).json()
    assert plan["data_dates"] == airflows_dry_run(api_server, dag_id, tz, start, end), plan
    assert plan["runs"] == len(plan["data_dates"])
    assert sorted(plan["data_dates"] + [s["data_date"] for s in plan["skipped"]]) == [
        str(start + dt.timedelta(days=k)) for k in range((end - start).days + 1)]  # every date accounted for
    cli = tagoffline(api_server, "service", "backfill", name, "--start", str(start), "--end", str(end), "--dry-run",
                     "--json")
    assert cli.returncode == 0 and json.loads(cli.stdout) == plan, cli.stderr

    r = alice.post(f"/services/{name}/backfill", json={"start": str(start), "end": str(end), "allow_older": True})
    assert r.status_code == 202, r.text
    outcome = r.json()
    assert (outcome["data_dates"], outcome["skipped"], outcome["warning"]) == (
        plan["data_dates"], plan["skipped"], plan["warning"])
    assert len(outcome["run_ids"]) == plan["runs"]
    ran = wait_for(lambda: [i for i in alice.get(f"/services/{name}/instances").json()["items"]
                            if i["run_id"] in outcome["run_ids"]],
                   lambda items: len(items) == plan["runs"] and all(i["state"] in ("success", "failed")
                                                                    for i in items), 240, f"the backfill of {name}")
    assert sorted((i["data_date"], i["run_type"], i["state"]) for i in ran) == [
        (d, "backfill", "success") for d in plan["data_dates"]], ran
    assert target_scores(api_server.home, f"t_{name}") == scores(dt.date.fromisoformat(plan["ends_at"]))
    wait_backfills_done(api_server, dag_id)
    return plan


def test_after_the_daily_time_yesterday_is_run_and_the_table_ends_there(
        api_server: Any, alice: httpx.Client, setup: dict[str, Any]) -> None:
    y, tz = setup["yesterday"], setup["tz"]
    plan = backfill_and_compare(api_server, alice, AFTER, y - dt.timedelta(days=2), y, tz)
    assert plan["data_dates"] == [str(y - dt.timedelta(days=k)) for k in (2, 1, 0)] and plan["skipped"] == []
    # the first scheduled run exported yesterday: going back to y-2 first is said beforehand
    assert (plan["holds"], plan["ends_at"], plan["needs_allow_older"]) == (str(y), str(y), True)


def test_before_the_daily_time_yesterday_is_named_with_what_to_do(
        api_server: Any, alice: httpx.Client, setup: dict[str, Any]) -> None:
    y, tz, daily = setup["yesterday"], setup["tz"], setup["daily"][BEFORE]
    # the first scheduled run exported the day before yesterday; yesterday's interval ends today at the daily time
    ends = f"{y + dt.timedelta(days=1)} {daily} {tz}"
    plan = backfill_and_compare(api_server, alice, BEFORE, y - dt.timedelta(days=2), y, tz)
    assert plan["data_dates"] == [str(y - dt.timedelta(days=2)), str(y - dt.timedelta(days=1))]
    assert plan["skipped"] == [{"data_date": str(y), "reason": (
        f"its data interval has not ended yet (it ends at {ends}), so Airflow cannot backfill it: the scheduled "
        f"run at that time exports it, or trigger a run with data date {y} now (Airflow's Trigger form)")}]
    held = y - dt.timedelta(days=1)
    assert (plan["holds"], plan["ends_at"], plan["needs_allow_older"]) == (str(held), str(held), True)
    assert plan["warning"] == (
        f"target crm_sqlite:t_{BEFORE} is a whole table: the backfill replaces it with data dates "
        f"{y - dt.timedelta(days=2)} to {held}, oldest first, and leaves it holding {held}; it holds {held} now, "
        "and the earlier dates roll it back until the last run")

    # yesterday alone: no run to create, and the refusal says why instead of Airflow's bare 409
    only = alice.get(f"/services/{BEFORE}/backfill/plan", params={"start": str(y), "end": str(y)}).json()
    assert (only["runs"], only["data_dates"], only["ends_at"], only["warning"]) == (0, [], None, None)
    assert only["skipped"] == plan["skipped"]
    r = alice.post(f"/services/{BEFORE}/backfill", json={"start": str(y), "end": str(y)})
    assert r.status_code == 409, r.text
    assert r.json()["detail"][0]["message"] == (
        f"backfill of {BEFORE!r}: Airflow has no run to create for data dates {y} to {y}: {y}: "
        + plan["skipped"][0]["reason"])

    # the web view's dialog opens on yesterday (T-1) and says the same before anything starts
    with chromium() as browser:
        page = signed_in_page(browser, api_server, "alice")
        page.goto(f"{api_server.base_url}/tag-offline/ui/#/service/{BEFORE}")
        page.click("button[data-action=backfill]")
        note = page.locator("#dlg-note")
        expect(note.locator("[data-runs]")).to_have_text(" 0 run(s), oldest first.")
        expect(note.locator(f"li[data-skipped='{y}']")).to_have_text(
            f"{y} not run: {plan['skipped'][0]['reason']}.")
        page.context.close()


def test_a_run_in_flight_is_named_not_silently_left_out(api_server: Any, alice: httpx.Client,
                                                         setup: dict[str, Any]) -> None:
    """A date whose run is still going when the plan is asked: Airflow's dry run leaves it to that run,
    and so does the plan, saying so."""
    y, tz = setup["yesterday"], setup["tz"]
    dag_id = setup["services"][AFTER]["dag_id"]
    wait_backfills_done(api_server, dag_id)
    with api_server.airflow("admin") as af:  # hold the DAG's runs queued: the backfill's first run stays in flight
        assert af.patch(f"/dags/{dag_id}", params={"update_mask": "is_paused"},
                        json={"is_paused": True}).status_code == 200
    try:
        day = y - dt.timedelta(days=3)
        r = alice.post(f"/services/{AFTER}/backfill", json={"start": str(day), "end": str(day), "allow_older": True})
        assert r.status_code == 202, r.text
        [run_id] = r.json()["run_ids"]
        plan = alice.get(f"/services/{AFTER}/backfill/plan", params={"start": str(day), "end": str(y)}).json()
        assert plan["data_dates"] == airflows_dry_run(api_server, dag_id, tz, day, y)
        assert plan["data_dates"] == [str(day + dt.timedelta(days=k)) for k in (1, 2, 3)]
        [skipped] = plan["skipped"]
        assert skipped["data_date"] == str(day) and skipped["reason"].startswith(f"its run {run_id} is queued: "
                                                                                  "Airflow leaves the date to that run")
    finally:
        with api_server.airflow("admin") as af:
            af.patch(f"/dags/{dag_id}", params={"update_mask": "is_paused"}, json={"is_paused": False})
    items = wait_for(lambda: alice.get(f"/services/{AFTER}/instances").json()["items"],
                     lambda items: any(i["run_id"] == run_id and i["state"] in ("success", "failed") for i in items),
                     180, "the held run")
    # newest first: the run that ran last is on top, though its data date (and logical date) is the oldest
    assert items[0]["run_id"] == run_id and items[0]["data_date"] == str(day), items
    assert [i["start"] for i in items] == sorted((i["start"] for i in items), reverse=True), items
