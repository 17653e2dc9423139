"""The web view in a real browser: Debian's chromium driven by Playwright, against the real Airflow
(API server + scheduler + dag-processor) with the plugin.

A person creates a service through the form (Chinese name, tag picker, one-click create table,
same-name mapping), publishes it and watches it become published, runs it for a date, sees the
instance succeed, unpublishes and deletes it; a form with bad input shows each error beside its
field. Screenshots of the list, the form and the instances pages go to docs/screenshots/ (or
$TAGOFFLINE_SCREENSHOTS).
"""

from __future__ import annotations

import re
import time
from typing import Any

from browser import SCREENSHOTS, fill_new_service, shot, signed_in_page
from playwright.sync_api import Browser, expect

NAME = "网页_客户标签"


def listed(page: Any, name: str) -> Any:
    """The list's row of service ``name``, searched by name: other tests' services share the stack, and the
    list shows 20 a page."""
    page.locator("#f-name").fill(name)
    return page.locator(f"#services tr[data-service='{name}']")


def test_unsigned_visitors_go_to_airflows_login(browser: Browser, api_server: Any) -> None:
    page = browser.new_page()
    page.goto(f"{api_server.base_url}/tag-offline/ui/")
    assert "/auth/login" in page.url or "/login" in page.url
    page.close()


def test_the_view_is_in_airflows_navigation(browser: Browser, api_server: Any) -> None:
    with api_server.airflow("carol") as af:
        views = [v for p in af.get("/plugins").json()["plugins"] for v in p["external_views"]]
    view = next(v for v in views if v["name"] == "Tag Offline")
    assert view["href"] == "/tag-offline/ui/" and view["url_route"] == "tag-offline" and view["destination"] == "nav"
    page = signed_in_page(browser, api_server, "carol")
    page.goto(f"{api_server.base_url}/plugin/tag-offline")  # the Airflow UI shows it in an iframe
    frame = page.frame_locator("iframe")
    expect(frame.get_by_role("heading", name="Tag offline services")).to_be_visible(timeout=30_000)
    # the whole label shows under the icon (Airflow cuts what is wider than the entry, with an ellipsis)
    label = page.locator("[aria-label='Tag Offline'] div", has_text="Tag Offline").last
    expect(label).to_have_text("Tag Offline")
    assert label.evaluate("e => e.scrollWidth <= e.clientWidth"), "the navigation label is cut"
    page.context.close()


def test_a_service_from_form_to_instance_and_back(browser: Browser, api_server: Any, alice: Any) -> None:
    page = signed_in_page(browser, api_server, "alice")
    page.goto(f"{api_server.base_url}/tag-offline/ui/")
    expect(page.get_by_role("heading", name="Tag offline services")).to_be_visible()
    # the target kinds to filter by are the server's (its registry of database families)
    kinds = [k["kind"] for k in alice.get("/kinds").json()]
    expect(page.locator("#f-target_kind option")).to_have_text(["Target kind: all", *kinds])

    page.click("#new-service")
    expect(page.get_by_role("heading", name="New tag offline service")).to_be_visible()
    fill_new_service(page, NAME, "crm", "web_user_tags", manual=True, tags=("gender", "gmv_30d"))
    expect(page.locator("[data-counter-for=name]")).to_have_text(f"{len(NAME)}/64")
    page.fill("#description", "网页创建的服务 created in the browser")
    # the tag picker offers the tags keyed by user_id; "level" has no grant for crm
    expect(page.locator("#tag-picker input[data-tag=level]")).to_be_disabled()
    codename = page.locator("#mapping tr[data-mapping=gender] input[data-column=codename]")
    expect(codename).to_have_value("gender_codename")

    # one-click create table: the generated DDL, editable, checked, rendered again, executed on the target
    page.click("#create-table")
    ddl = page.locator("#ddl-text")
    expect(ddl).to_have_value(re.compile(r"^CREATE TABLE \"web_user_tags\""))
    generated = ddl.input_value()
    ddl.fill(generated + "\nDROP TABLE victim;")
    page.click("#ddl-execute")
    expect(page.locator("#ddl-error")).to_contain_text("DROP TABLE is not allowed")
    ddl.fill(generated.replace('"gender" text,', '"gender" text,\n  "note" varchar(200),', 1))
    page.click("#ddl-execute")
    expect(page.locator("#ddl-done")).to_contain_text("web_user_tags")
    expect(page.locator("#ddl-done")).to_contain_text("note")

    # purge, then same-name mapping finds the columns just created
    page.click("#purge")
    expect(page.locator("#mapping tr[data-mapping]")).to_have_count(0)
    page.click("#same-name")
    expect(page.locator("#mapping tr[data-mapping]")).to_have_count(2)
    expect(page.locator("#mapping tr[data-mapping=gender] input[data-column=value]")).to_have_value("gender")
    shot(page, "form")

    page.click("#save-publish")
    expect(page.locator("#status")).to_have_attribute("data-status", "published", timeout=45_000)

    # run for a chosen data date, then watch the instance succeed
    page.click("button[data-action=run]")
    page.fill("#dlg-data_date", "2026-01-02")
    page.click("dialog [data-confirm=ok]")
    expect(page.locator("#toast")).to_contain_text("2026-01-02")
    page.goto(f"{api_server.base_url}/tag-offline/ui/#/service/{NAME}/instances")
    expect(page.locator("#instances [data-state]").first).to_have_attribute("data-state", "success", timeout=120_000)
    expect(page.locator("#instances td[data-rows]").first).to_have_text("3")
    expect(page.locator("#instances tbody tr").first).to_contain_text("2026-01-02")
    shot(page, "instances")

    page.goto(f"{api_server.base_url}/tag-offline/ui/#/")
    row = listed(page, NAME)
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "published")
    expect(row.locator("button[data-action=delete]")).to_be_disabled()
    # the tooltip is the API's reason, the refusal a DELETE would get
    refusal = alice.get(f"/services/{NAME}").json()["refusals"]["delete"]
    assert "only offline, publish_failed or never-published services can be deleted" in refusal
    expect(row.locator("button[data-action=delete]")).to_have_attribute("title", refusal)
    assert "crm_pg (postgres)" in (row.locator("td.target").get_attribute("title") or "")
    shot(page, "list")

    row.locator("button[data-action=unpublish]").click()
    page.click("dialog [data-confirm=ok]")
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "offline")
    row.locator("button[data-action=delete]").click()
    page.click("dialog [data-confirm=ok]")
    expect(page.locator(f"#services tr[data-service='{NAME}']")).to_have_count(0)
    assert alice.get(f"/services/{NAME}").status_code == 404
    page.context.close()


def test_buttons_show_the_apis_reasons(browser: Browser, api_server: Any, alice: Any, carol: Any,
                                      service_body: Any) -> None:
    """The web view restates no rule: a button is enabled when the API lists the action for this caller,
    and a disabled one's tooltip is the API's reason, for a viewer and for the owner alike."""
    name = "web_why_not"
    assert alice.post("/services", json=service_body(name, conn_id="crm_sqlite")).status_code == 201
    for user, client in (("carol", carol), ("alice", alice)):
        expected = client.get(f"/services/{name}").json()
        page = signed_in_page(browser, api_server, user)
        page.goto(f"{api_server.base_url}/tag-offline/ui/#/")
        row = listed(page, name)
        expect(row.locator("button[data-action=publish]")).to_have_count(1)
        for action in ("edit", "publish", "unpublish", "run", "delete"):
            button = row.locator(f"button[data-action={action}]")
            if action in expected["actions"]:
                expect(button).to_be_enabled()
            else:
                expect(button).to_be_disabled()
                expect(button).to_have_attribute("title", expected["refusals"][action])
        expect(row.locator("button[data-action=instances]")).to_be_enabled()  # reading is everyone's
        if user == "carol":
            assert expected["actions"] == []
            assert row.locator("button[data-action=publish]").get_attribute("title") == (
                f"user 'carol' may not publish service '{name}': only Airflow admins, admins of application 'crm' "
                "and the owner (a member of it) may")
        else:
            assert expected["refusals"]["unpublish"].endswith("only published or unpublish_failed services can be "
                                                              "unpublished")
        page.context.close()
    assert alice.delete(f"/services/{name}").status_code == 204


def test_bad_input_shows_each_error_beside_its_field(browser: Browser, api_server: Any, alice: Any) -> None:
    page = signed_in_page(browser, api_server, "alice")
    page.goto(f"{api_server.base_url}/tag-offline/ui/#/new")
    page.fill("#name", "bad name!")
    page.fill("#owner", "alice")
    page.select_option("#conn_id", "crm_pg")
    page.fill("#table", "bad table!; drop")  # quoted it would be harmless, but nobody means it
    page.check("#schedule_recurring")
    page.fill("#daily_at", "")
    page.fill("#wait_for_lock", "a while")
    page.click("#save")
    expect(page.locator("[data-error-for=name]")).to_contain_text(re.compile("letters|Chinese|name"))
    expect(page.locator("[data-error-for='target.wait_for_lock']")).to_have_text(
        "'a while' is not a duration such as 6h, 90m, 1h30m or 45s")
    expect(page.locator("#wait_for_lock")).to_have_class(re.compile("invalid"))
    expect(page.locator("#name")).to_have_class(re.compile("invalid"))
    expect(page.locator("[data-error-for='target.table']")).to_have_text(
        "'bad table!; drop' is not a valid table name: use letters, digits and _, starting with a letter or _ "
        "(e.g. user_tags)")
    expect(page.locator("[data-error-for=mappings]")).to_have_text("map at least one tag")
    expect(page.locator("[data-error-for='schedule.daily_at']")).to_contain_text("required for a recurring service")
    shot(page, "form-errors")
    assert alice.get("/services", params={"name": "bad"}).json()["total"] == 0  # nothing saved
    page.context.close()


def test_at_1400_px_in_airflow_the_actions_fit_and_the_toast_covers_no_button(
        browser: Browser, api_server: Any, alice: Any, service_body: Any) -> None:
    """Airflow's window 1400 px wide (its navigation beside the web view's frame): every action of the
    list is in view without scrolling, and the "saved" message leaves the detail page's buttons clear."""
    name = "客户标签_宽度检查_with_a_long_name"
    body = service_body(name, target={"conn_id": "crm_pg", "table": "t_user_tags_for_the_crm_with_a_long_name",
                                      "load": "overwrite"})
    assert alice.post("/services", json=body).status_code == 201
    page = signed_in_page(browser, api_server, "alice", viewport={"width": 1400, "height": 900})
    page.goto(f"{api_server.base_url}/plugin/tag-offline")
    frame = page.frame_locator("iframe")
    row = listed(frame, name)
    expect(row.locator("button[data-action]")).to_have_count(7)
    view = page.locator("iframe").bounding_box()
    assert view is not None
    shot(page, "list-in-airflow-1400", full_page=False)
    for button in row.locator("button[data-action]").all():
        box = button.bounding_box()
        assert box is not None and box["x"] >= view["x"] and box["x"] + box["width"] <= view["x"] + view["width"], (
            button.get_attribute("data-action"), box, view)

    # save from the form: the detail page's buttons are clickable while "saved" shows
    row.locator("button[data-action=edit]").click()
    frame.locator("#description").fill("saved at 1400 px")
    frame.locator("#save").click()
    toast = frame.locator("#toast div", has_text=f"{name} saved (version 2)")
    expect(toast).to_be_visible()
    shown = toast.bounding_box()
    assert shown is not None
    buttons = frame.locator("button[data-action]")
    expect(buttons).to_have_count(7)
    for button in buttons.all():
        box = button.bounding_box()
        assert box is not None
        apart = (box["x"] + box["width"] <= shown["x"] or shown["x"] + shown["width"] <= box["x"]
                 or box["y"] + box["height"] <= shown["y"] or shown["y"] + shown["height"] <= box["y"])
        assert apart, (button.get_attribute("data-action"), box, shown)
    frame.locator("button[data-action=publish]").click(trial=True)  # nothing in its way (trial: not clicked)
    page.context.close()
    assert alice.delete(f"/services/{name}").status_code == 204


def test_catalog_browse_request_and_approve_a_grant(browser: Browser, api_server: Any, admin: Any) -> None:
    member = signed_in_page(browser, api_server, "bob")
    member.goto(f"{api_server.base_url}/tag-offline/ui/#/catalog")
    tag_row = member.locator(".card[data-entity=user] tr[data-tag=level]")
    expect(tag_row).to_contain_text("bigint")
    expect(tag_row).to_contain_text("dws_user_profile_d.level by user_id, partition ds")
    expect(member.locator(".card[data-entity=user] tr[data-tag=gender]")).to_contain_text("gender_codes")
    member.select_option("#grant-application", "crm")
    member.select_option("#grant-entity", "user")
    member.select_option("#grant-tag", "level")
    member.fill("#grant-reason", "levels for the CRM")
    member.click("#grant-request")
    grant = member.locator("#grants tr[data-grant='crm:user.level']")
    expect(grant).to_contain_text("requested")
    expect(member.locator("button[data-decision]")).to_have_count(0)  # members do not decide
    shot(member, "catalog")
    member.context.close()

    boss = signed_in_page(browser, api_server, "admin")
    boss.goto(f"{api_server.base_url}/tag-offline/ui/#/catalog")
    boss.locator("#grants tr[data-grant='crm:user.level'] button[data-decision=approve]").click()
    expect(boss.locator("#grants tr[data-grant='crm:user.level']")).to_contain_text("approved")
    # the form's tag picker now offers the tag to crm
    boss.goto(f"{api_server.base_url}/tag-offline/ui/#/new")
    boss.select_option("#application", "crm")
    expect(boss.locator("#tag-picker input[data-tag=level]")).to_be_enabled()
    # a revoke says why: the reason is the grant's, shown in its row
    boss.goto(f"{api_server.base_url}/tag-offline/ui/#/catalog")
    boss.locator("#grants tr[data-grant='crm:user.level'] button[data-decision=revoke]").click()
    boss.fill("#dlg-reason", "levels move to the risk engine")
    boss.click("dialog [data-confirm=ok]")
    row = boss.locator("#grants tr[data-grant='crm:user.level']")
    expect(row).to_contain_text("revoked")
    expect(row.locator("td.reason")).to_have_text("levels move to the risk engine")
    boss.context.close()


def test_edit_keeps_immutable_fields_read_only(browser: Browser, api_server: Any, alice: Any,
                                              service_body: Any) -> None:
    assert alice.post("/services", json=service_body("web_edit_me", conn_id="crm_sqlite")).status_code == 201
    page = signed_in_page(browser, api_server, "alice")
    page.goto(f"{api_server.base_url}/tag-offline/ui/#/service/web_edit_me")
    # The form shows before its lists have loaded: a table typed meanwhile must stay when they come (the
    # saved table was written over it; a quick user or test saved something else than what was typed).
    held: list[Any] = []
    page.route("**/tables*", lambda route: held.append(route))
    page.click("button[data-action=edit]")
    page.fill("#table", "typed_while_loading")
    page.wait_for_function("() => true")  # let the held request reach the route
    assert held, "the form did not ask for the connection's tables"
    with page.expect_response("**/tables*"):
        for route in held:
            route.continue_()
    page.unroute("**/tables*")
    page.wait_for_function("() => new Promise((done) => setTimeout(() => done(true), 100))")
    expect(page.locator("#table")).to_have_value("typed_while_loading")
    page.fill("#table", "t_web_edit_me")  # the saved table again: only the description is edited below
    expect(page.locator("#name")).to_have_attribute("readonly", "")
    for field in ("#schedule_manual", "#schedule_recurring", "#entity", "#application"):
        expect(page.locator(field)).to_be_disabled()
    # the load mode may change (docs/changes-mode.md): a changes run starts from whatever the table holds
    assert page.locator("#load option").all_inner_texts() == ["Overwrite (atomic swap)",
                                                              "Changes only (one transaction)"]
    expect(page.locator("#load")).to_be_enabled()
    # only connections of the same target kind are offered
    assert page.locator("#conn_id option").all_inner_texts() == ["Choose a data source", "crm_sqlite (sqlite)"]
    page.fill("#description", "edited in the browser")
    page.click("#save")
    expect(page.locator("#status")).to_have_attribute("data-status", "editing")
    assert alice.get("/services/web_edit_me").json()["definition"]["description"] == "edited in the browser"
    assert alice.get("/services/web_edit_me").json()["version"] == 2
    page.context.close()


def test_backfill_dialog_creates_one_run_per_data_date(browser: Browser, api_server: Any, alice: Any,
                                                       service_body: Any) -> None:
    name = "web_backfill"
    body = service_body(name, schedule={"type": "recurring", "daily_at": "02:30", "timezone": "Asia/Shanghai"},
                        target={"conn_id": "crm_sqlite", "table": "web_backfill_tags", "load": "overwrite"})
    assert alice.post("/services", json=body).status_code == 201
    assert alice.post(f"/services/{name}/ddl", json={}).status_code == 200
    assert alice.post(f"/services/{name}/publish").status_code == 202
    page = signed_in_page(browser, api_server, "alice")
    page.goto(f"{api_server.base_url}/tag-offline/ui/#/service/{name}")
    expect(page.locator("#status")).to_have_attribute("data-status", "published", timeout=45_000)
    expect(page.locator("button[data-action=run]")).to_have_count(0)  # recurring: backfill instead
    page.click("button[data-action=backfill]")
    # T-1 in the service's timezone by default, as the API computes it
    t1 = alice.get(f"/services/{name}").json()["default_data_date"]
    expect(page.locator("#dlg-start")).to_have_value(t1)
    expect(page.locator("#dlg-end")).to_have_value(t1)
    page.fill("#dlg-start", "2026-01-01")
    page.fill("#dlg-end", "2026-01-02")
    page.locator("#dlg-end").dispatch_event("change")
    # before it starts: what the whole-table target will end at
    expect(page.locator("#dlg-note")).to_contain_text(
        "target crm_sqlite:web_backfill_tags is a whole table: the backfill replaces it with data dates 2026-01-01 to "
        "2026-01-02, oldest first, and leaves it holding 2026-01-02")
    page.click("dialog [data-confirm=ok]")
    # the plan again (Airflow's dry run), then the backfill: seconds on a busy machine
    expect(page.locator("#toast")).to_contain_text("2 run(s) for data dates 2026-01-01 to 2026-01-02", timeout=30_000)
    page.goto(f"{api_server.base_url}/tag-offline/ui/#/service/{name}/instances")
    for day in ("2026-01-01", "2026-01-02"):
        row = page.locator("#instances tbody tr", has_text=day).filter(has_text="backfill")
        expect(row.locator("[data-state]")).to_have_attribute("data-state", "success", timeout=120_000)

    # going back before the data date the table holds: said beforehand, refused unless allowed
    # (Airflow runs one backfill of a DAG at a time, and marks one complete a moment after its runs)
    dag_id = alice.get(f"/services/{name}").json()["dag_id"]
    with api_server.airflow("alice") as af:
        deadline = time.monotonic() + 60
        while any(b["completed_at"] is None for b in af.get("/backfills", params={"dag_id": dag_id}).json()[
                "backfills"]):
            assert time.monotonic() < deadline, "Airflow did not mark the backfill complete"
            time.sleep(1)
    page.goto(f"{api_server.base_url}/tag-offline/ui/#/service/{name}")
    page.click("button[data-action=backfill]")
    page.fill("#dlg-start", "2026-01-01")
    page.fill("#dlg-end", "2026-01-01")
    page.locator("#dlg-end").dispatch_event("change")
    expect(page.locator("#dlg-note")).to_contain_text("leaves it holding 2026-01-01, older than the 2026-01-02 it "
                                                      "holds now. Check “Allow an older data date” to run it.")
    page.click("dialog [data-confirm=ok]")
    expect(page.locator("#toast")).to_contain_text("holds data date 2026-01-02; data date 2026-01-01 is older",
                                                   timeout=30_000)
    page.click("button[data-action=backfill]")
    page.fill("#dlg-start", "2026-01-01")
    page.fill("#dlg-end", "2026-01-01")
    page.check("#dlg-allow_older")
    page.click("dialog [data-confirm=ok]")
    expect(page.locator("#toast")).to_contain_text("1 run(s) for data date 2026-01-01, oldest first", timeout=30_000)
    page.context.close()
    # Unpublishing refuses while a task runs (Airflow's delete_dag): let that last backfill end first.
    with api_server.airflow("alice") as af:
        deadline = time.monotonic() + 120
        while not (backfills := af.get("/backfills", params={"dag_id": dag_id}).json()["backfills"]) or any(
                b["completed_at"] is None for b in backfills):
            assert time.monotonic() < deadline, "Airflow did not mark the backfill complete"
            time.sleep(1)
    assert alice.post(f"/services/{name}/unpublish").json()["status"] == "offline"


def test_catalog_target_grants_and_the_forms_data_sources(browser: Browser, api_server: Any, alice: Any,
                                                          service_body: Any) -> None:
    assert alice.post("/services", json=service_body("web_tg_sqlite", conn_id="crm_sqlite")).status_code == 201
    boss = signed_in_page(browser, api_server, "admin")
    boss.goto(f"{api_server.base_url}/tag-offline/ui/#/catalog")
    grants = boss.locator("#target-grants")
    expect(grants.locator("tr[data-target-grant='crm:crm_pg'] td.schemas")).to_have_text("crm, public")
    expect(grants.locator("tr[data-target-grant='crm:crm_mysql'] td.schemas")).to_have_text("every schema")
    # an admin grants a data source to an application
    boss.select_option("#target-grant-application", "risk")
    boss.select_option("#target-grant-conn", "crm_sqlite")
    boss.click("#target-grant-add")
    granted = grants.locator("tr[data-target-grant='risk:crm_sqlite']")
    expect(granted).to_contain_text("every schema")
    expect(granted).to_contain_text("admin")
    boss.select_option("#target-grant-application", "risk")
    boss.select_option("#target-grant-conn", "crm_pg")
    boss.fill("#target-grant-schemas", "risk, public")
    boss.click("#target-grant-add")
    expect(grants.locator("tr[data-target-grant='risk:crm_pg'] td.schemas")).to_have_text("public, risk")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    boss.locator("#target-grants-card").screenshot(path=str(SCREENSHOTS / "target-grants.png"))
    # withdrawing a grant its application's services use is refused, naming them
    grants.locator("tr[data-target-grant='crm:crm_sqlite'] button[data-withdraw]").click()
    expect(boss.locator("#toast")).to_contain_text("is still the target of services of application 'crm'")
    expect(boss.locator("#toast")).to_contain_text("web_tg_sqlite")
    expect(grants.locator("tr[data-target-grant='crm:crm_sqlite']")).to_have_count(1)
    for key in ("risk:crm_sqlite", "risk:crm_pg"):
        grants.locator(f"tr[data-target-grant='{key}'] button[data-withdraw]").click()
        expect(grants.locator(f"tr[data-target-grant='{key}']")).to_have_count(0)

    # the form offers the data sources granted to the chosen application, and their granted schemas
    boss.goto(f"{api_server.base_url}/tag-offline/ui/#/new")
    boss.select_option("#application", "other")
    expect(boss.locator("#conn_id option")).to_have_text(["Choose a data source", "crm_pg (postgres)",
                                                          "crm_pg_alias (postgres)"])
    boss.select_option("#conn_id", "crm_pg")
    expect(boss.locator("#schema option")).to_have_text(["(default schema)", "public"])
    boss.select_option("#application", "crm")
    expect(boss.locator("#conn_id option")).to_have_text(["Choose a data source", "crm_gp (greenplum)",
                                                          "crm_mysql (mysql)", "crm_pg (postgres)",
                                                          "crm_sqlite (sqlite)", "tag_warehouse (warehouse)"])
    boss.context.close()

    # members read the grants; only admins have the controls
    member = signed_in_page(browser, api_server, "bob")
    member.goto(f"{api_server.base_url}/tag-offline/ui/#/catalog")
    expect(member.locator("#target-grants tr[data-target-grant='other:crm_pg_alias']")).to_contain_text("every schema")
    expect(member.locator("#target-grant-add")).to_have_count(0)
    expect(member.locator("#target-grants button[data-withdraw]")).to_have_count(0)
    member.context.close()
