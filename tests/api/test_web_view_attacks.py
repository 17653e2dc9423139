"""The web view attacked in a real browser (issue 20, the fresh attacker pass): Debian's chromium driven by
Playwright against the session's real Airflow with the plugin.

* **Stored markup**: every text a user or a catalog admin can save (names, descriptions, an application's
  user names, lookup codes and names, a source table, a schema, column names, an owner, a grant request's
  and a refusal's reasons, a notification address, an edited CREATE TABLE) holds markup that would fetch
  ``/xss-i/<field>`` if rendered and ``/xss-j/<field>`` if run. Every page of the web view, as the victim
  and as the attacker, and Airflow's own pages of the hostile service (list, details, code, trigger form,
  the failed run's log) are visited: no such request may leave the browser, and the texts show as text.
* **mallory in the web view** (admin of ``other``; alice owns crm's service): the edit form of alice's
  service, every action button forced on (publish, run, delete, preview), a draft named after alice's
  service previewed and its table created, introspection of a connection ``other`` is not granted.
* **Another origin** (a page on another port of this host: same site, so the ``_token`` cookie goes along):
  a form post, ``fetch`` with the web view's header (a CORS preflight), ``fetch`` without it, a beacon, a
  cross-origin read, and the web view in a frame of that page (clickjacking).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from browser import fill_new_service, signed_in_page
from late_data import instance, wait_for
from playwright.sync_api import Browser, Page, expect

from tests.live import free_port

pytestmark = pytest.mark.airflow

VICTIM = "wv_victim"  # alice's, in crm
HOSTILE = "wv_hostile"  # mallory's, in the hostile application
APP, ENTITY, LOOKUP = "xss_app", "xss_ent", "xss_codes"


def markup(field: str) -> str:
    """Text that asks for /xss-i/<field> if the page renders it as HTML, /xss-j/<field> if it runs it (short:
    column and schema names have 63 bytes on PostgreSQL)."""
    return f"<img src=/xss-i/{field} onerror=fetch('/xss-j/{field}')>"


#: each field that holds markup, and the text it holds
FIELDS = {f: markup(f) for f in (
    "app_name", "app_desc", "app_user", "lookup_name", "lookup_code", "lookup_value", "entity_name", "entity_desc",
    "id_name", "tag_name", "tag_desc", "src_table", "sc", "svc_desc", "owner", "cv", "cn",
    "request_reason", "reject_reason")}
#: an address the mail check lets through that would break out of an unquoted attribute
ODD_ADDRESS = "x'onmouseover='fetch`/xss-j/notify`'@example.com"


class Recorder:
    """Requests for /xss-* from any frame of a page, and dialogs a script opened."""

    def __init__(self) -> None:
        self.fired: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on("request", lambda r: self.fired.append(r.url) if "/xss-" in r.url else None)
        page.on("dialog", lambda d: (self.fired.append(f"dialog: {d.message}"), d.dismiss()))
        return page


@pytest.fixture(scope="module")
def hostile(api_server: Any, admin: httpx.Client, mallory: httpx.Client, service_body: Any) -> Iterator[dict[str, Any]]:
    """A hostile application of mallory's, its catalog written by an admin with markup in every text, and
    mallory's service in it, published and run once (it fails: its schema does not exist, and says so)."""
    f = FIELDS
    catalog = {
        "applications": [{"code": APP, "name": f["app_name"], "description": f["app_desc"],
                          "admins": ["mallory", f["app_user"]], "members": []}],
        "lookups": [{"code": LOOKUP, "name": f["lookup_name"], "values": {f["lookup_code"]: f["lookup_value"]}}],
        "entities": [{"code": ENTITY, "name": f["entity_name"], "description": f["entity_desc"],
                      "ids": [{"code": "xss_id", "name": f["id_name"], "type": "bigint"}],
                      "tags": [{"code": "xss_tag", "name": f["tag_name"], "description": f["tag_desc"],
                                "type": "string", "id": "xss_id", "lookup": LOOKUP,
                                "source": {"table": f["src_table"], "key": "k", "column": "v", "partition": "ds"}},
                               {"code": "xss_tag2", "name": "second", "type": "bigint", "id": "xss_id",
                                "source": {"table": "t", "key": "k", "column": "v"}}]}],
        "grants": [{"application": APP, "entity": ENTITY, "tags": ["xss_tag"]}],
        "target_grants": [{"application": APP, "conn_id": "crm_pg_alias", "schemas": [f["sc"]]},
                          {"application": APP, "conn_id": "crm_smtp"}],
    }
    r = admin.post("/catalog/apply", json=catalog)
    assert r.status_code == 200, r.text
    r = mallory.post("/catalog/grants", json={"application": APP, "entity": ENTITY, "tag": "xss_tag2",
                                              "reason": f["request_reason"]})
    assert r.status_code in (200, 201), r.text
    r = admin.post(f"/catalog/grants/{APP}/{ENTITY}/xss_tag2/reject", json={"reason": f["reject_reason"]})
    assert r.status_code == 200, r.text
    body = {"name": HOSTILE, "application": APP, "owner": f["owner"], "entity": ENTITY, "entity_id": "xss_id",
            "description": f["svc_desc"], "schedule": {"type": "manual"},
            "target": {"conn_id": "crm_pg_alias", "schema": f["sc"], "table": "xss_tags", "load": "overwrite"},
            "mappings": [{"tag": "xss_tag", "value": f["cv"], "codename": f["cn"]}],
            "notify": {"conn_id": "crm_smtp", "to": [ODD_ADDRESS], "events": ["failure"]}}
    r = mallory.post("/services", json=body)
    assert r.status_code == 201, r.text
    r = mallory.post(f"/services/{HOSTILE}/publish")
    assert r.status_code == 202, r.text
    wait_for(lambda: mallory.get(f"/services/{HOSTILE}").json(), lambda s: s["status"] == "published", 120,
             "the hostile service to be published")
    r = mallory.post(f"/services/{HOSTILE}/run", json={"data_date": "2026-01-02"})
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]
    # its error names the hostile schema; Airflow retries it later (a table may appear), the first try is enough
    run = wait_for(lambda: instance(mallory, HOSTILE, run_id), lambda i: i is not None and i["state"] in (
        "failed", "up_for_retry"), 180, "the hostile run's first try")
    assert "xss" in (run["error"] or ""), run
    yield {"run_id": run_id, "dag_id": mallory.get(f"/services/{HOSTILE}").json()["dag_id"]}
    mallory.post(f"/services/{HOSTILE}/unpublish")
    wait_for(lambda: mallory.delete(f"/services/{HOSTILE}").status_code, lambda s: s in (204, 404), 120,
             "the hostile service to be deleted")
    for conn_id in ("crm_pg_alias", "crm_smtp"):
        admin.delete(f"/catalog/target-grants/{APP}/{conn_id}")
    for tag in ("xss_tag", "xss_tag2"):
        admin.delete(f"/catalog/entities/{ENTITY}/tags/{tag}")
    admin.delete(f"/catalog/entities/{ENTITY}/ids/xss_id")
    admin.delete(f"/catalog/entities/{ENTITY}")
    admin.delete(f"/catalog/lookups/{LOOKUP}")
    admin.delete(f"/catalog/applications/{APP}")


@pytest.fixture(scope="module")
def victim(alice: httpx.Client, service_body: Any) -> Iterator[dict[str, Any]]:
    """alice's service of crm on the connection both applications may write, its table not created yet."""
    r = alice.post("/services", json=service_body(VICTIM, target={"conn_id": "crm_pg", "table": "wv_victim_tags",
                                                                  "load": "overwrite"}))
    assert r.status_code == 201, r.text
    yield r.json()
    alice.delete(f"/services/{VICTIM}")


def _settle(page: Page, text: str) -> None:
    """Wait until the page shows ``text`` (its data arrived and was drawn)."""
    expect(page.get_by_text(text, exact=False).first).to_be_visible(timeout=60_000)


def test_no_saved_text_is_rendered_as_markup_in_the_web_view_or_in_airflow(
        browser: Browser, api_server: Any, hostile: dict[str, Any]) -> None:
    rec = Recorder()
    base = f"{api_server.base_url}/tag-offline/ui/"
    visited = Counter[str]()
    for user in ("alice", "mallory", "admin"):
        page = rec.watch(signed_in_page(browser, api_server, user))
        page.goto(base + "#/")
        page.locator("#f-name").fill(HOSTILE)  # the list shows 20 a page; other modules' services share the stack
        _settle(page, HOSTILE)
        page.goto(base + f"#/service/{HOSTILE}")
        _settle(page, FIELDS["svc_desc"])  # the description shows as the text it is
        _settle(page, FIELDS["owner"])
        page.goto(base + f"#/service/{HOSTILE}/instances")
        expect(page.locator("#instances td[data-reason=error]").first).to_contain_text("xss_tags does not exist")
        page.goto(base + "#/catalog")
        _settle(page, FIELDS["tag_name"])
        _settle(page, FIELDS["reject_reason"])
        visited["web view pages"] += 4
        if user == "mallory":
            page.goto(base + f"#/edit/{HOSTILE}")
            expect(page.locator("#description")).to_have_value(FIELDS["svc_desc"])
            # the form's errors echo what was typed: a name, a table, an address, an edited statement
            page.fill("#table", FIELDS["cv"])  # typed at once: the form's lists may still be loading
            page.click("#save")
            expect(page.locator("input.invalid").first).to_be_visible(timeout=30_000)
            expect(page.locator("#table")).to_have_value(FIELDS["cv"])  # what was typed stays
            page.goto(base + "#/new")  # on mallory's own application and place: the edited statement is echoed
            fill_new_service(page, "wv_hostile_new", "other", "xss_new", schema="public")
            page.click("#create-table")
            expect(page.locator("#ddl-text")).to_be_visible(timeout=30_000)
            page.locator("#ddl-text").fill(f'CREATE TABLE "xss_new" ("{FIELDS["cv"]}" int); {markup("ddl")}')
            page.click("#ddl-execute")
            expect(page.locator("#ddl-error")).to_be_visible(timeout=30_000)
            visited["web view forms"] += 2
        page.context.close()

    # Airflow's own pages of the hostile DAG: its list, details and docs, code, trigger form, the failed log
    page = rec.watch(signed_in_page(browser, api_server, "alice", locale="en-US"))
    dag_id, run_id = hostile["dag_id"], hostile["run_id"]
    # its list searched by name (the list is paged: other modules' DAGs share the stack)
    for path in (f"/dags?name_pattern={HOSTILE}",
                 f"/dags/{dag_id}", f"/dags/{dag_id}/code", f"/dags/{dag_id}/details",
                 f"/dags/{dag_id}/runs/{run_id}/tasks/export"):
        page.goto(api_server.base_url + path)
        _settle(page, HOSTILE)
        visited["Airflow pages"] += 1
    page.goto(f"{api_server.base_url}/dags/{dag_id}/runs/{run_id}/tasks/export")
    _settle(page, "xss")  # the log's error line names the hostile schema
    page.goto(f"{api_server.base_url}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger").first.click()
    expect(page.locator("[role=dialog][data-state=open]").get_by_text("Data date", exact=True)).to_be_visible()
    visited["Airflow pages"] += 1
    page.context.close()
    assert rec.fired == [], rec.fired
    print(f"\nstored markup: {len(FIELDS) + 2} hostile texts, {dict(visited)}, nothing rendered or run")


# ---- mallory in the web view -------------------------------------------------------------------------------

def _refused(page: Page, where: str = "#toast .bad") -> str:
    """The text of the refusal the page shows: a red toast, or ``where``."""
    shown = page.locator(where).last
    expect(shown).to_be_visible(timeout=30_000)
    return shown.inner_text()


def test_mallory_reaches_nothing_of_alices_through_the_web_view(
        browser: Browser, api_server: Any, alice: httpx.Client, victim: dict[str, Any]) -> None:
    before = alice.get(f"/services/{VICTIM}").json()
    page = signed_in_page(browser, api_server, "mallory")
    base = f"{api_server.base_url}/tag-offline/ui/"
    tried: Counter[str] = Counter()

    # the edit form of alice's service, by its address: it loads (reading is open), saving is refused
    page.goto(base + f"#/edit/{VICTIM}")
    expect(page.locator("#description")).to_have_value(before["definition"]["description"])
    page.fill("#description", "mallory was here")
    page.click("#save")
    assert "may not" in _refused(page)
    tried["edit form"] += 1

    # every action button of alice's service, disabled for mallory, forced on and clicked
    for action in ("publish", "run", "preview", "delete"):
        page.goto(base + f"#/service/{VICTIM}")
        button = page.locator(f"button[data-action={action}]").first
        expect(button).to_be_disabled()
        button.evaluate("b => { b.disabled = false; b.click(); }")
        if action == "run":
            page.fill("#dlg-data_date", "2026-01-02")
            page.check("#dlg-allow_older")
            page.click("dialog [data-confirm=ok]")
        elif action == "delete":
            page.click("dialog [data-confirm=ok]")
        elif action == "preview":
            page.click("#pv-load")
        assert "may not" in _refused(page, "#preview-error" if action == "preview" else "#toast .bad"), action
        page.keyboard.press("Escape")
        tried["forced buttons"] += 1

    # a draft named after alice's service, on her table, with mallory's application: preview and create table
    page.goto(base + "#/new")
    fill_new_service(page, VICTIM, "other", "wv_victim_tags", schema="public")
    page.click("#preview-draft")
    page.click("#pv-load")
    said = _refused(page, "#preview-error")
    assert VICTIM in said and ("already exists" in said or "is the target of" in said), said
    page.keyboard.press("Escape")
    page.click("#create-table")
    said = _refused(page, "[data-error-for]:not(:empty)")
    assert "is the target of service" in said or "already exists" in said, said
    tried["draft after alice's service"] += 2

    # introspection of a connection mallory's application is not granted, from the page (its cookie and header)
    for path in ("/connections/crm_mysql/schemas", "/connections/crm_mysql/tables",
                 "/connections/crm_sqlite/tables/x/columns", "/connections/tag_warehouse/tables"):
        status = page.evaluate("""async (p) => (await fetch(API + p, {credentials: "same-origin",
            headers: {"X-Tag-Offline-Client": "web-view"}})).status""", path)
        assert status == 403, (path, status)
        tried["introspection"] += 1
    listed = page.evaluate("""async () => (await (await fetch(API + "/connections")).json()).map(c => c.conn_id)""")
    assert "crm_mysql" not in listed and "crm_smtp" not in listed, listed
    page.context.close()

    after = alice.get(f"/services/{VICTIM}").json()
    assert (after["version"], after["status"], after["definition"]) == (before["version"], before["status"],
                                                                       before["definition"])
    assert {e["actor"] for e in alice.get(f"/services/{VICTIM}/audit").json()} == {"alice"}
    assert alice.get(f"/services/{VICTIM}/instances").json()["items"] == []
    print(f"\nmallory in the web view: {sum(tried.values())} attempts, {dict(tried)}, all refused")


# ---- another origin ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def evil_site() -> Iterator[tuple[str, dict[str, str]]]:
    """A web server on another port of this host, serving the pages put in its dict (path -> HTML)."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0], "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()


def test_a_page_of_another_origin_cannot_write_read_or_frame_with_alices_cookie(
        browser: Browser, api_server: Any, alice: httpx.Client, victim: dict[str, Any],
        evil_site: tuple[str, dict[str, str]]) -> None:
    evil, pages = evil_site
    api = f"{api_server.base_url}/tag-offline"
    pages["/form.html"] = f"""<form id=f method=POST enctype=text/plain action="{api}/services/{VICTIM}/publish">
        <input name='{{"x":"' value='"}}'></form><script>document.getElementById("f").submit()</script>"""
    pages["/script.html"] = f"""<script>
      window.results = {{}};
      const api = {api!r};
      const tries = {{
        "fetch with the web view's header": () => fetch(api + "/services/{VICTIM}", {{method: "DELETE",
            credentials: "include", headers: {{"X-Tag-Offline-Client": "web-view"}}}}),
        "fetch json (preflight)": () => fetch(api + "/services/{VICTIM}/publish", {{method: "POST",
            credentials: "include", headers: {{"Content-Type": "application/json"}}, body: "{{}}"}}),
        "fetch no-cors": () => fetch(api + "/services/{VICTIM}/publish", {{method: "POST", mode: "no-cors",
            credentials: "include", body: "{{}}"}}),
        "read the list": () => fetch(api + "/services", {{credentials: "include"}}).then(r => r.json()),
        "read who I am": () => fetch(api + "/me", {{credentials: "include"}}).then(r => r.json()),
      }};
      window.done = Promise.all(Object.entries(tries).map(([k, f]) => f().then(
          r => {{ window.results[k] = "got " + (r.status ?? r.type ?? JSON.stringify(r).slice(0, 40)); }},
          e => {{ window.results[k] = "blocked: " + e.name; }})))
        .then(() => {{ window.results.beacon = navigator.sendBeacon(api + "/services/{VICTIM}/publish", "{{}}"); }});
    </script>"""
    pages["/frame.html"] = f"""<iframe id=f onload="this.dataset.loaded = 1" src="{api}/ui/#/service/{VICTIM}"
        width=1200 height=700></iframe>"""

    page = signed_in_page(browser, api_server, "alice")  # alice's cookie is in the browser
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if r.url.startswith(api) else None)
    page.goto(evil + "/form.html")
    page.wait_for_load_state()
    expect(page.locator("body")).to_contain_text("must come from the Tag Offline web view")
    page.goto(evil + "/script.html")
    page.wait_for_function("window.done !== undefined")
    page.evaluate("window.done")
    results = page.evaluate("window.results")
    for key in ("fetch with the web view's header", "fetch json (preflight)", "read the list", "read who I am"):
        assert results[key].startswith("blocked"), results  # no CORS: neither sent with its header nor read
    assert results["fetch no-cors"] == "got 0", results  # sent, refused (403), opaque: unreadable anyway

    # clickjacking: the web view will not show inside another origin's frame
    page.goto(evil + "/frame.html")
    page.wait_for_function("document.getElementById('f').dataset.loaded === '1'")
    [framed] = [f for f in page.frames if f != page.main_frame]
    assert framed.locator("#app").count() == 0, framed.url  # the page's static shell, there at load if shown
    r = alice.get("/ui/", follow_redirects=False)
    assert "frame-ancestors 'self'" in r.headers.get("content-security-policy", ""), r.headers
    assert r.headers.get("x-frame-options") == "SAMEORIGIN"
    page.context.close()

    after = alice.get(f"/services/{VICTIM}").json()
    assert (after["version"], after["status"]) == (victim["version"], "editing")
    assert {e["actor"] for e in alice.get(f"/services/{VICTIM}/audit").json()} == {"alice"}
    assert 403 in statuses and all(s in (403, 401) or s < 300 for s in statuses), statuses
    print(f"\nanother origin: 1 form post, {len(results)} scripted requests {results}, 1 frame: none got through")
