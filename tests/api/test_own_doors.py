"""The plugin's own doors (issue 20, findings 1, 2, 4 and 5), each reproduced as written against the real
API server with the plugin loaded and live PostgreSQL, and now refused: ``mallory`` administers the
rival application ``other`` (granted crm_pg's public schema, shared with crm); ``alice`` administers
``crm``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import pg_connect

pytestmark = pytest.mark.airflow

MIB = 1024 * 1024


def fields(r: httpx.Response) -> dict[str, str]:
    return {d["field"]: d["message"] for d in r.json()["detail"]}


def held_by(table: str, holder: str, conn_id: str = "crm_pg") -> str:
    return (f"table 'public.{table}' on connection '{conn_id}' is the target of service '{holder}' (application crm); "
            f"a table belongs to one service")


def target_tables(pg_dbs: dict[str, str]) -> set[str]:
    with pg_connect(pg_dbs["target"]) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}


@pytest.fixture(scope="module")
def rival(service_body: Any) -> Any:
    """A service (or draft) of mallory's application on crm_pg's public schema."""
    def make(name: str, table: str, conn_id: str = "crm_pg", **changes: Any) -> dict[str, Any]:
        return service_body(name, owner="mallory", application="other",
                            target={"conn_id": conn_id, "table": table, "load": "overwrite"}, **changes)
    return make


# ---- finding 1: a target table taken by editing an older service --------------------------------------------

def test_an_older_service_edited_onto_a_younger_ones_table_is_refused(alice: Any, mallory: Any, rival: Any,
                                                                      service_body: Any) -> None:
    assert mallory.post("/services", json=rival("m_old", "m_old_tags")).status_code == 201  # older
    body = service_body("svc_a4", target={"conn_id": "crm_pg", "table": "a4_tags", "load": "overwrite"})
    assert alice.post("/services", json=body).status_code == 201
    r = mallory.put("/services/m_old", json=rival("m_old", "a4_tags", version=1))
    assert r.status_code == 422, r.text
    assert fields(r) == {"target.table": held_by("a4_tags", "svc_a4")}
    # alice's own service keeps saving and publishing; mallory's stays where it was
    assert alice.put("/services/svc_a4", json={**body, "description": "mine", "version": 1}).status_code == 200
    r = alice.post("/services/svc_a4/publish")
    assert r.status_code == 202, r.text
    # a second connection id of the same database is the same place
    r = mallory.put("/services/m_old", json=rival("m_old", "a4_tags", conn_id="crm_pg_alias", version=1))
    assert r.status_code == 422 and fields(r) == {"target.table": (
        "table 'public.a4_tags' on connection 'crm_pg_alias' (the database of connection 'crm_pg') is the target of "
        "service 'svc_a4' (application crm); a table belongs to one service")}
    assert mallory.get("/services/m_old").json()["target"]["table"] == "m_old_tags"
    r = mallory.post("/services/m_old/publish")
    assert r.status_code == 202, r.text  # publishing its own table, not alice's


def test_the_update_audit_says_what_changed(alice: Any, carol: Any, service_body: Any) -> None:
    """Finding 5: an update's audit entry records before -> after of each changed field."""
    body = service_body("svc_audited", target={"conn_id": "crm_pg", "table": "audited_a", "load": "overwrite"})
    assert alice.post("/services", json=body).status_code == 201
    edit = {**body, "description": "moved", "version": 1,
            "target": {"conn_id": "crm_pg", "table": "audited_b", "load": "overwrite"}}
    assert alice.put("/services/svc_audited", json=edit).status_code == 200
    [update] = [e for e in carol.get("/services/svc_audited/audit").json() if e["action"] == "update"]
    assert update["actor"] == "alice" and update["detail"] == {"version": 2, "changes": {
        "description": {"before": "tags for the CRM", "after": "moved"},
        "target.table": {"before": "audited_a", "after": "audited_b"}}}


# ---- finding 2: a draft named after another application's service ------------------------------------------

def test_a_draft_named_after_another_applications_service_learns_and_touches_nothing(
        alice: Any, mallory: Any, rival: Any, service_body: Any, pg_dbs: dict[str, str]) -> None:
    body = service_body("svc_a5", target={"conn_id": "crm_pg", "table": "a5_tags", "load": "overwrite"})
    assert alice.post("/services", json=body).status_code == 201  # its table is not created yet
    before = target_tables(pg_dbs)
    refused = {"name": "a service named 'svc_a5' already exists", "target.table": held_by("a5_tags", "svc_a5")}
    # the preview would have shown alice's column types, row count and changed/unchanged counts
    r = mallory.post("/services/preview", json={"service": rival("svc_a5", "a5_tags"), "data_date": "2026-01-02"})
    assert r.status_code == 422 and fields(r) == refused, r.text
    for leak in ("rows", "changes", "columns", "target_exists"):
        assert leak not in r.json()
    # one-click create would have created alice's table with mallory's column types
    r = mallory.post("/helpers/ddl/execute", json={"service": rival("svc_a5", "a5_tags")})
    assert r.status_code == 422 and fields(r) == refused, r.text
    r = mallory.post("/helpers/ddl/preview", json={"service": rival("svc_a5", "a5_tags")})
    assert r.status_code == 422 and fields(r) == refused
    # named after alice's service but aiming elsewhere: still a new service, whose name is taken
    r = mallory.post("/helpers/ddl/execute", json={"service": rival("svc_a5", "m_a5_elsewhere")})
    assert r.status_code == 422 and fields(r) == {"name": "a service named 'svc_a5' already exists"}
    assert target_tables(pg_dbs) == before
    audit = alice.get("/services/svc_a5/audit").json()
    assert [(e["actor"], e["action"]) for e in audit] == [("alice", "create")]
    # alice's own draft of svc_a5 stands for her service, and creates her table
    r = alice.post("/helpers/ddl/execute", json={"service": body})
    assert r.status_code == 200, r.text
    assert "a5_tags" in target_tables(pg_dbs)
    assert [(e["actor"], e["action"]) for e in alice.get("/services/svc_a5/audit").json()] == [
        ("alice", "create_table"), ("alice", "create")]


# ---- finding 4: notifications through another team's mail login -------------------------------------------

def test_a_notification_connection_must_be_granted_to_the_application(alice: Any, mallory: Any, rival: Any,
                                                                       service_body: Any) -> None:
    notify = {"conn_id": "crm_smtp", "to": ["anyone@example.com"], "events": ["failure"]}
    r = mallory.post("/services", json=rival("m_notify", "m_notify_tags", notify=notify))
    assert r.status_code == 422, r.text
    assert fields(r) == {"notify.conn_id": "connection 'crm_smtp' is not granted to application 'other': a catalog "
                                           "admin grants connections to applications (target grants)"}
    assert mallory.post("/services", json=rival("m_notify", "m_notify_tags")).status_code == 201
    r = mallory.put("/services/m_notify", json=rival("m_notify", "m_notify_tags", notify=notify, version=1))
    assert r.status_code == 422 and set(fields(r)) == {"notify.conn_id"}
    # crm holds the grant: alice's service notifies through it
    r = alice.post("/services", json=service_body("svc_notify_ok", notify=notify))
    assert r.status_code == 201, r.text


# ---- finding 5: server paths, body size ----------------------------------------------------------------------

def test_server_paths_are_for_airflow_admins_only(admin: Any, alice: Any, carol: Any, service_body: Any,
                                                  api_server: Any) -> None:
    body = service_body("svc_paths", target={"conn_id": "crm_pg", "table": "paths_tags", "load": "overwrite"})
    assert alice.post("/services", json=body).status_code == 201
    r = alice.post("/services/svc_paths/publish")
    assert r.status_code == 202, r.text
    folder = str(api_server.home)
    assert r.json()["dag_file"] is None and folder not in r.text
    for who in (alice, carol):
        entries = who.get("/services/svc_paths/audit").json()
        assert folder not in json.dumps(entries)
        assert [e["detail"] for e in entries if e["action"] == "publish"] == [{"version": 1}]
        assert folder not in who.get("/audit", params={"object_key": "svc_paths"}).text
        assert folder not in who.get("/services/svc_paths").text
    [published] = [e for e in admin.get("/services/svc_paths/audit").json() if e["action"] == "publish"]
    assert Path(published["detail"]["dag_file"]).is_file()
    assert published["detail"]["dag_file"].startswith(folder)


@pytest.fixture
def big() -> Iterator[bytes]:
    """A 5 MB JSON body: a service whose description alone is 5 MB."""
    yield json.dumps({"name": "svc_big", "description": "x" * (5 * MIB)}).encode()


def test_bodies_over_one_mib_get_413_before_they_are_parsed(mallory: Any, big: bytes, api_server: Any) -> None:
    started = time.monotonic()
    r = mallory.post("/services", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["detail"][0]["message"] == ("the request body is larger than 1048576 bytes (1024 KiB), the most "
                                                "this API reads")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for i in range(0, len(big), 64 * 1024):
            yield big[i:i + 64 * 1024]

    r = mallory.post("/services", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    for route in ("/catalog/apply", "/services/preview", "/helpers/ddl/execute"):
        assert mallory.post(route, content=big, headers={"Content-Type": "application/json"}).status_code == 413
    # just under the limit: read and parsed as before (422 naming each missing field)
    near = json.dumps({"name": "svc_near", "description": "x" * (MIB - 200)}).encode()
    r = mallory.post("/services", content=near, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and fields(r)["application"] == "is required"
    assert time.monotonic() - started < 60
    assert "Traceback" not in api_server.log_tail()
