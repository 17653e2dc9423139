"""A service's notifications through the REST API and the web form (the stack's ``crm_smtp``
connection): checked at save with each error on its field, stored, shown on the details page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser import SCREENSHOTS, fill_new_service, signed_in_page
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.airflow

NOTIFY = {"conn_id": "crm_smtp", "to": ["ops@example.com", "数据@example.cn"], "events": ["gate_failure", "success"]}


def _fields(r: Any) -> dict[str, str]:
    return {d["field"]: d["message"] for d in r.json()["detail"]}


def test_rest_checks_and_keeps_notify(alice: Any, service_body: Any) -> None:
    bad = alice.post("/services", json=service_body("通知_rest_bad", notify={
        "conn_id": "not_a_target", "to": ["ops@example.com", "ops@example.com\r\nBcc: x@evil.com"],
        "events": ["failure", "retry"]}))
    assert bad.status_code == 422
    assert _fields(bad) == {
        "notify.conn_id": "connection 'not_a_target' is a 'http' connection; notifications go through an SMTP "
                          "connection (type smtp)",
        "notify.to[1]": "'ops@example.com\\r\\nBcc: x@evil.com' is not an email address",
        "notify.events[1]": "'retry' is not one of failure, gate_failure, success"}
    assert alice.get("/services/通知_rest_bad").status_code == 404  # nothing written
    created = alice.post("/services", json=service_body("通知_rest", notify=NOTIFY))
    assert created.status_code == 201, created.text
    got = alice.get("/services/通知_rest").json()
    assert got["definition"]["notify"] == NOTIFY
    assert "smtp-pw-never-shown" not in str(got)
    # the OpenAPI schema documents it
    schema = alice.get("/openapi.json").json()["components"]["schemas"]
    assert set(schema["NotifyDef"]["properties"]) == {"conn_id", "to", "events"}
    assert alice.delete("/services/通知_rest").status_code in (200, 204)


def test_the_form_sets_notify_and_shows_its_errors(browser: Browser, api_server: Any, alice: Any) -> None:
    name = "网页_通知"
    page = signed_in_page(browser, api_server, "alice")
    page.goto(f"{api_server.base_url}/tag-offline/ui/#/new")
    fill_new_service(page, name, "crm", "web_notify_tags", owner="alice", manual=True)
    # the failures are ticked by default
    expect(page.locator("#notify_on_failure")).to_be_checked()
    expect(page.locator("#notify_on_gate_failure")).to_be_checked()
    expect(page.locator("#notify_on_success")).not_to_be_checked()
    page.fill("#notify_conn", "crm_sqlite")
    page.fill("#notify_to", "ops@example.com, not-an-address")
    page.click("#save")
    expect(page.locator("[data-error-for='notify.to']")).to_have_text("'not-an-address' is not an email address")
    expect(page.locator("[data-error-for='notify.conn_id']")).to_contain_text("notifications go through an SMTP")
    expect(page.locator("#notify_conn")).to_have_class(re.compile("invalid"))
    expect(page.locator("#notify_to")).to_have_class(re.compile("invalid"))
    assert alice.get(f"/services/{name}").status_code == 404  # nothing saved
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#notifications").screenshot(path=str(SCREENSHOTS / "form-notifications.png"))
    page.fill("#notify_conn", "crm_smtp")
    page.fill("#notify_to", "ops@example.com, 数据@example.cn")
    page.uncheck("#notify_on_failure")
    page.check("#notify_on_success")
    page.click("#save")
    expect(page.locator("#status")).to_have_attribute("data-status", "editing")
    notifications = page.locator("dt:text-is('Notifications') + dd")
    expect(notifications).to_have_text(
        "quality gate failed, run succeeded → ops@example.com, 数据@example.cn (connection crm_smtp)")
    assert alice.get(f"/services/{name}").json()["definition"]["notify"] == NOTIFY
    # editing keeps it; emptying connection and recipients removes it
    page.goto(f"{api_server.base_url}/tag-offline/ui/#/edit/{name}")
    expect(page.locator("#notify_to")).to_have_value("ops@example.com, 数据@example.cn")
    expect(page.locator("#notify_on_success")).to_be_checked()
    page.fill("#notify_conn", "")
    page.fill("#notify_to", "")
    page.click("#save")
    expect(notifications).to_have_text("none")
    assert alice.get(f"/services/{name}").json()["definition"].get("notify") is None
    assert alice.delete(f"/services/{name}").status_code in (200, 204)
    page.context.close()
