"""Authentication through Airflow's auth manager: every endpoint, no token → 401; bearer token and the
UI's ``_token`` cookie both work; the auth manager decides who is an Airflow admin."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = pytest.mark.airflow


def _operations(spec: dict) -> list[tuple[str, str]]:
    ops = []
    for path, methods in spec["paths"].items():
        for method in methods:
            concrete = re.sub(r"\{decision\}", "approve", path)
            concrete = re.sub(r"\{[^}]+\}", "x", concrete)
            ops.append((method.upper(), concrete))
    return ops


def test_openapi_document_is_served_and_covers_the_resources(anon):
    r = anon.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["info"]["title"] == "Tag Offline Services"
    paths = set(spec["paths"])
    for p in ("/services", "/services/{name}", "/services/{name}/publish", "/services/{name}/unpublish",
              "/services/{name}/run", "/services/{name}/backfill", "/services/{name}/instances",
              "/services/{name}/ddl", "/catalog/applications/{code}", "/catalog/entities/{code}/tags/{tag}",
              "/catalog/entities/{code}/ids/{id_code}", "/catalog/lookups/{code}", "/catalog/grants",
              "/catalog/grants/{application}/{entity}/{tag}/{decision}", "/connections",
              "/connections/{conn_id}/schemas", "/connections/{conn_id}/tables",
              "/connections/{conn_id}/tables/{table}/columns", "/helpers/same-name-mapping",
              "/helpers/ddl/preview", "/helpers/ddl/execute"):
        assert p in paths, p


def test_every_endpoint_needs_a_token(anon):
    ops = _operations(anon.get("/openapi.json").json())
    assert len(ops) > 40
    for method, path in ops:
        r = anon.request(method, path, json={} if method in ("POST", "PUT") else None)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.json() == {"detail": [{"field": "", "message": "Not authenticated"}], "status": 401}


def test_a_forged_token_is_refused(api_server):
    with httpx.Client(base_url=f"{api_server.base_url}/tag-offline",
                      headers={"Authorization": "Bearer not.a.jwt"}) as c:
        r = c.get("/services")
    assert r.status_code in (401, 403)
    assert r.json()["detail"][0]["message"]


def test_the_ui_cookie_authenticates(api_server):
    with httpx.Client(base_url=f"{api_server.base_url}/tag-offline",
                      cookies={"_token": api_server.token("carol")}) as c:
        r = c.get("/me")
    assert r.status_code == 200
    assert r.json()["username"] == "carol"


def test_auth_manager_decides_who_is_admin(admin, alice, bob, carol):
    me = {name: c.get("/me").json() for name, c in
          (("admin", admin), ("alice", alice), ("bob", bob), ("carol", carol))}
    assert me["admin"]["is_admin"] is True
    assert [m["is_admin"] for m in (me["alice"], me["bob"], me["carol"])] == [False, False, False]
    assert me["alice"]["admin_of"] == ["crm"] and me["bob"]["member_of"] == ["crm"]
    assert me["carol"]["can_create_services"] is False and me["bob"]["can_create_services"] is True
    # what the web view offers comes from service/permissions.py through /me
    assert [m["can_administer_catalog"] for m in me.values()] == [True, False, False, False]
    assert me["alice"]["applications"] == me["bob"]["applications"] == ["crm"] and me["carol"]["applications"] == []
    assert "crm" in me["admin"]["applications"] and "other" in me["admin"]["applications"]
