"""Airflow's own UI, as an Airflow user drives a published service (chromium + Playwright, against the
session's real Airflow): the Trigger form's data-date picker and its defaults (T-1), the run report in
the task log, a waiting run and a failed run's reason as Airflow and the plugin show them, and the
web view's address inside Airflow (bookmark, reload, share, links to Airflow's pages).

Screenshots for docs/screenshots/: airflow-trigger-form, airflow-task-log, airflow-waiting-run,
instances-waiting, instances-failed-reason.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser import chromium, shot, signed_in_page
from late_data import (
    TABLES,
    add_devices,
    add_partition,
    device_service,
    finished,
    latest_interval_start,
    publish,
    remove,
    scores,
    target_scores,
    wait_for,
    yesterday,
)
from playwright.sync_api import Browser, Page, expect

OLD = dt.date(2026, 1, 2)
TRIGGERED = "ui_trigger"
WAITING = "ui_waiting"


# Its own browser, not the API conftest's: with that one, the first click on Airflow's Trigger button
# here waited for a navigation that never finished (3 runs of 3; the test passed with this fixture).
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def services(api_server: Any, admin: httpx.Client, alice: httpx.Client) -> Iterator[dict[str, dict[str, Any]]]:
    """A manual service whose source holds T-1 and 2026-01-02, and a recurring one whose partition never
    comes (its scheduled run waits 3 minutes)."""
    warehouse = api_server.home / "warehouse.duckdb"
    add_devices(admin, warehouse)
    for day in (OLD, yesterday()):
        add_partition(warehouse, TABLES["ui_score"], day)
    out = {TRIGGERED: publish(alice, device_service(TRIGGERED, "ui_score")),
           WAITING: publish(alice, device_service(WAITING, "ui_wait_score", schedule={
               "type": "recurring", "daily_at": "02:30", "wait_for_data": "3m"}))}
    yield out
    remove(alice, admin, list(out))


def airflow_page(browser: Browser, api_server: Any, user: str = "alice") -> Page:
    return signed_in_page(browser, api_server, user, locale="en-US", timezone_id="UTC",
                          viewport={"width": 1400, "height": 900})


def test_trigger_with_the_defaults_exports_t_minus_1_and_the_log_holds_the_report(
        browser: Browser, api_server: Any, alice: httpx.Client, services: dict[str, dict[str, Any]]) -> None:
    dag_id = services[TRIGGERED]["dag_id"]
    page = airflow_page(browser, api_server)
    page.goto(f"{api_server.base_url}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger").first.click()
    form = page.locator("[role=dialog][data-state=open]")
    # the data-date param is a date picker, empty by default; the whole-table target's allow_older a switch
    picker = form.locator("input[name=element_data_date]")
    expect(picker).to_have_attribute("type", "date")
    expect(picker).to_have_value("")
    expect(form.get_by_text("Data date", exact=True)).to_be_visible()
    expect(form.get_by_text("Empty: the day before the run's logical date in Asia/Shanghai (T-1)")).to_be_visible()
    expect(form.locator("input[name=element_allow_older]")).not_to_be_checked()
    # an optional switch: Airflow's form marks a field required (label data-required, a "*") unless null is allowed
    for param, title in (("allow_older", "Allow an older data date"), ("data_date", "Data date")):
        label = form.locator("[data-scope=field][data-part=root]").filter(
            has=page.locator(f"input[name=element_{param}]")).locator("label[data-part=label]")
        expect(label).to_have_text(title)
        assert label.get_attribute("data-required") is None, f"{title} is marked required"
    shot(page, "airflow-trigger-form", full_page=False)
    form.get_by_role("button", name="Trigger").click()
    expect(form).to_have_count(0)

    run = wait_for(lambda: alice.get(f"/services/{TRIGGERED}/instances").json()["items"],
                   lambda items: any(i["run_type"] == "manual" for i in items), 30, "the triggered run")[0]
    done = finished(alice, TRIGGERED, run["run_id"])
    t1 = yesterday()
    assert (done["state"], done["data_date"], done["rows_written"]) == ("success", t1.isoformat(), 2), done
    assert target_scores(api_server.home, f"t_{TRIGGERED}") == scores(t1)

    # the task log in Airflow's UI holds the run report, at INFO
    page.goto(done["log_url"])
    log = page.get_by_text(f"SUCCESS: {TRIGGERED} data date {t1} -> crm_sqlite:t_{TRIGGERED}")
    expect(log).to_be_visible(timeout=30_000)
    for said in ("rows read 2, written 2", f"sources: {TABLES['ui_score']} ds={t1.strftime('%Y%m%d')} 2 rows",
                 "gates passed: not empty", "phases: preflight"):
        expect(page.get_by_text(said)).to_be_visible()
    shot(page, "airflow-task-log", full_page=False)
    page.context.close()


def test_a_waiting_run_and_a_failed_runs_reason_in_airflow_and_in_the_plugin(
        browser: Browser, api_server: Any, alice: httpx.Client, services: dict[str, dict[str, Any]]) -> None:
    day = latest_interval_start("02:30")
    waiting_for = f"partition ds={day.strftime('%Y%m%d')} of table {TABLES['ui_wait_score']}"
    run = wait_for(lambda: alice.get(f"/services/{WAITING}/instances").json()["items"],
                   lambda items: bool(items) and items[0]["state"] == "deferred", 60, "the scheduled run waiting")[0]
    page = airflow_page(browser, api_server)
    # Airflow's task page: Deferred, and the log says what it waits for
    page.goto(run["log_url"])
    expect(page.get_by_text("Deferred").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text(f"waiting for {waiting_for}").first).to_be_visible()
    shot(page, "airflow-waiting-run", full_page=False)
    # the plugin's instances (in Airflow's UI): the state and the reason
    page.goto(f"{api_server.base_url}/plugin/tag-offline/tag-offline/ui/#/service/{WAITING}/instances")
    frame = page.frame_locator("iframe")
    row = frame.locator("#instances tbody tr").first
    expect(row.locator("[data-state]")).to_have_attribute("data-state", "deferred", timeout=30_000)
    expect(row.locator("td.reason")).to_contain_text(f"waiting for {waiting_for}")
    shot(page, "instances-waiting", full_page=False)

    # a failed run: Airflow's trigger with an older date than the whole table holds
    if not any(i["state"] == "success" and i["data_date"] == yesterday().isoformat()
               for i in alice.get(f"/services/{TRIGGERED}/instances").json()["items"]):
        r = alice.post(f"/services/{TRIGGERED}/run")
        assert finished(alice, TRIGGERED, r.json()["run_id"])["state"] == "success"
    with api_server.airflow("alice") as af:
        r = af.post(f"/dags/{services[TRIGGERED]['dag_id']}/dagRuns",
                    json={"logical_date": None, "conf": {"data_date": OLD.isoformat()}})
        assert r.status_code in (200, 201), r.text
    failed = finished(alice, TRIGGERED, r.json()["dag_run_id"])
    reason = (f"target crm_sqlite:t_{TRIGGERED} holds data date {yesterday()}; data date {OLD} is older and would "
              "roll it back: refused, the table is untouched (allow_older runs it anyway)")
    assert failed["error"] == reason and failed["state"] == "failed"
    page.goto(f"{api_server.base_url}/plugin/tag-offline/tag-offline/ui/#/service/{TRIGGERED}/instances")
    row = frame.locator(f"#instances tbody tr[data-run='{failed['run_id']}']")
    expect(row.locator("[data-state]")).to_have_attribute("data-state", "failed", timeout=30_000)
    expect(row.locator("td.reason")).to_have_text(reason)
    shot(page, "instances-failed-reason", full_page=False)
    page.context.close()


def test_the_web_view_address_is_in_airflows_address_bar(browser: Browser, api_server: Any,
                                                           services: dict[str, dict[str, Any]]) -> None:
    page = airflow_page(browser, api_server)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=api_server.base_url)
    page.goto(f"{api_server.base_url}/plugin/tag-offline")
    frame = page.frame_locator("iframe")
    frame.locator("#services a", has_text=TRIGGERED).click()
    expect(frame.get_by_role("heading", name=TRIGGERED)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/plugin/tag-offline/tag-offline/ui/#/service/{TRIGGERED}$"))
    frame.get_by_role("link", name="Instances ›").click()
    deep = f"{api_server.base_url}/plugin/tag-offline/tag-offline/ui/#/service/{TRIGGERED}/instances"
    expect(page).to_have_url(deep)
    # a reload (or the link, opened by someone else) comes back to the same page
    page.reload()
    expect(frame.get_by_role("heading", name=f"Instances of {TRIGGERED}")).to_be_visible(timeout=30_000)
    frame.locator("#copy-link").click()
    expect(frame.locator("#toast")).to_contain_text(f"Link copied: {deep}")
    other = airflow_page(browser, api_server, "carol")
    other.goto(deep)
    expect(other.frame_locator("iframe").get_by_role("heading", name=f"Instances of {TRIGGERED}")).to_be_visible(
        timeout=30_000)
    other.context.close()
    # a link to Airflow's own page (the task log) opens in Airflow, not blocked by the iframe's sandbox
    frame.locator("#instances a", has_text="Log").first.click()
    expect(page).to_have_url(re.compile(rf"/dags/{services[TRIGGERED]['dag_id']}/runs/.+/tasks/export"))
    page.go_back()
    expect(page).to_have_url(deep)
    page.context.close()
