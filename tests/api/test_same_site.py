"""Same-site writes (api/same_site.py) against the real API server: a write authenticated by the UI's
``_token`` cookie alone — what a page of another site can make a browser send — is refused with 403
on every state-changing route, before anything runs; bearer clients and the web view still write.

The routes are walked from the FastAPI app itself, so a new route is covered without editing this file.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from late_data import wait_for

from tests.live import pg_connect

pytestmark = pytest.mark.airflow

EVIL = "https://evil.example"
SERVICE = "svc_same_site"
#: what a browser adds to a form POST or fetch from a page of another site
CROSS_SITE = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}


def state_changing_routes() -> list[tuple[str, str]]:
    """(method, path template) of every write of the plugin's app."""
    from fastapi.routing import APIRoute

    from airflow_provider_tagoffline.api.app import create_app
    from airflow_provider_tagoffline.api.same_site import STATE_CHANGING

    routes = [(method, route.path) for route in create_app().routes if isinstance(route, APIRoute)
              for method in sorted(route.methods & STATE_CHANGING)]
    assert len(routes) >= 20, routes
    return routes


def concrete(path: str) -> str:
    """``path`` with its parameters naming real objects, so that a request that got through would write."""
    values = {
        "name": SERVICE,
        "code": "risk" if path.startswith("/catalog/applications") else
                "gender_codes" if path.startswith("/catalog/lookups") else "user",
        "id_code": "mobile", "tag": "gender", "application": "crm", "entity": "user", "decision": "revoke",
    }
    if path.startswith("/catalog/target-grants"):  # a grant no service uses: a forged DELETE would remove it
        values.update(application="other", conn_id="crm_pg_alias")

    def fill(m: re.Match[str]) -> str:
        assert m.group(1) in values, f"no test value for path parameter {m.group(1)!r} of {path}"
        return values[m.group(1)]

    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", fill, path)


def snapshot(api_server: Any, admin: httpx.Client) -> dict[str, Any]:
    """Everything a forged write could change: catalog, services, grants, audit log, DAG files, target tables.
    Taken once no service is publishing or unpublishing: other modules' services share the stack, and their
    publishes end on their own (an order-dependent failure otherwise)."""
    services = wait_for(lambda: admin.get("/services", params={"page_size": 500}).json()["items"],
                        lambda items: not any(s["status"] in ("publishing", "unpublishing") for s in items),
                        300, "every service of the stack out of publishing / unpublishing")
    with pg_connect(api_server.pg_dbs["target"], autocommit=False) as conn:
        tables = sorted(r[0] for r in conn.execute("SELECT table_schema || '.' || table_name "
                                                   "FROM information_schema.tables WHERE table_schema <> "
                                                   "'information_schema' AND table_schema NOT LIKE 'pg_%'"))
    return {
        "catalog": admin.get("/catalog").json(),
        "grants": admin.get("/catalog/grants").json(),
        "services": sorted((s["name"], s["version"], s["status"]) for s in services),
        "audit": admin.get("/audit", params={"limit": 1000}).json(),
        "dag_files": sorted(p.name for p in (api_server.home / "dags" / "tag_offline").iterdir()),
        "target_tables": tables,
    }


@pytest.fixture(scope="module")
def existing_service(admin: httpx.Client, service_body: Any) -> str:
    r = admin.post("/services", json=service_body(SERVICE))
    assert r.status_code == 201, r.text
    return SERVICE


def cookie_client(api_server: Any, user: str, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=f"{api_server.base_url}/tag-offline", cookies={"_token": api_server.token(user)},
                        headers=headers or {}, timeout=60)


@pytest.mark.parametrize("headers", [
    pytest.param(CROSS_SITE, id="cross-site-form"),
    pytest.param({}, id="cookie-without-client-header"),
    pytest.param({**CROSS_SITE, "X-Tag-Offline-Client": "web-view"}, id="client-header-but-cross-site"),
    pytest.param({"Origin": EVIL, "X-Tag-Offline-Client": "web-view"}, id="client-header-but-foreign-origin"),
    pytest.param({"Origin": "null", "X-Tag-Offline-Client": "web-view"}, id="opaque-origin"),
])
def test_every_write_with_only_the_cookie_is_refused_and_writes_nothing(
        api_server: Any, admin: httpx.Client, existing_service: str, headers: dict[str, str]) -> None:
    before = snapshot(api_server, admin)
    assert (SERVICE, 1, "editing") in before["services"]
    with cookie_client(api_server, "admin", headers) as c:
        for method, template in state_changing_routes():
            path = concrete(template)
            r = c.request(method, path)  # no body: the routes with an optional body would run
            assert r.status_code == 403, (method, path, r.status_code, r.text)
            body = r.json()
            assert body["status"] == 403 and body["detail"][0]["field"] == "", body
            assert "refused" in body["detail"][0]["message"] or "X-Tag-Offline-Client" in body["detail"][0]["message"]
    assert snapshot(api_server, admin) == before


def test_a_forged_form_post_is_refused_before_its_body_is_read(api_server: Any, admin: httpx.Client,
                                                                existing_service: str) -> None:
    """The shape of the reported attack: an HTML form of another site posting to publish and create table."""
    before = snapshot(api_server, admin)
    with cookie_client(api_server, "admin", CROSS_SITE) as c:
        for path in (f"/services/{SERVICE}/publish", f"/services/{SERVICE}/ddl", "/catalog/apply"):
            r = c.post(path, content=b"x=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert r.status_code == 403, (path, r.text)
        r = c.post("/services", content=b'{"not json', headers={"Content-Type": "application/json"})
        assert r.status_code == 403, "refused before the body is parsed (not a 422)"
    assert snapshot(api_server, admin) == before


def test_reads_with_the_cookie_still_work(api_server: Any) -> None:
    with cookie_client(api_server, "carol", CROSS_SITE) as c:
        assert c.get("/services").status_code == 200
        assert c.get("/me").json()["username"] == "carol"


def test_bearer_writes_are_unaffected(api_server: Any, service_body: Any) -> None:
    # A bearer token cannot be attached by another site's page, so neither headers nor cookie matter.
    with httpx.Client(base_url=f"{api_server.base_url}/tag-offline", timeout=60,
                      headers={"Authorization": f"Bearer {api_server.token('alice')}", **CROSS_SITE},
                      cookies={"_token": api_server.token("alice")}) as c:
        r = c.post("/services", json=service_body("svc_same_site_bearer"))
        assert r.status_code == 201, r.text
        assert c.delete("/services/svc_same_site_bearer").status_code == 204


def test_the_web_view_writes_same_origin_with_its_header(api_server: Any, service_body: Any) -> None:
    same_origin = {"Origin": api_server.base_url, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors",
                   "X-Tag-Offline-Client": "web-view"}
    name = "svc_same_site_cookie"
    with cookie_client(api_server, "alice", same_origin) as c:
        r = c.post("/services", json=service_body(name))
        assert r.status_code == 201, r.text
        r = c.put(f"/services/{name}", json=service_body(name, description="edited in the web view", version=1))
        assert r.status_code == 200, r.text
        assert c.delete(f"/services/{name}").status_code == 204
    # A browser that sends neither Origin nor Sec-Fetch-Site (an old one) with the header: allowed.
    with cookie_client(api_server, "alice", {"X-Tag-Offline-Client": "web-view"}) as c:
        assert c.post("/services", json=service_body(name)).status_code == 201
        assert c.delete(f"/services/{name}").status_code == 204


def test_origin_is_compared_as_browsers_send_it() -> None:
    from airflow_provider_tagoffline.api.same_site import origin_of

    assert origin_of("http://127.0.0.1:8080/") == origin_of("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert origin_of("HTTPS://Airflow.Example.com:443/airflow") == "https://airflow.example.com"
    assert origin_of("http://airflow.example.com:80") == "http://airflow.example.com"
    assert origin_of("null") == "" and origin_of("http://[::1]:8080/x") == "http://[::1]:8080"
