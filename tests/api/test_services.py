"""``/services`` over HTTP: list with filters, create, get, update (optimistic concurrency), delete; who may
do what; validation errors with their fields; state conflicts; the audit log."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.airflow


def _fields(r) -> dict[str, str]:
    return {d["field"]: d["message"] for d in r.json()["detail"]}


def _set_status(api_server, name: str, status: str, ever_published: bool = True) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(api_server.catalog_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE tagoffline_service SET status = :s, ever_published = :e WHERE name = :n"),
                         {"s": status, "e": ever_published, "n": name})
    finally:
        engine.dispose()


def test_create_get_update_delete(alice, carol, service_body):
    r = alice.post("/services", json=service_body("svc_crud"))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "editing" and created["version"] == 1 and r.headers["ETag"] == '"1"'
    assert created["target_kind"] == "postgres" and created["dag_id"] == "tag_offline__svc_crud"
    assert set(created["actions"]) >= {"edit", "publish", "delete"}
    assert created["definition"]["target"]["table"] == "t_svc_crud"

    r = carol.get("/services/svc_crud")
    assert r.status_code == 200 and r.json()["actions"] == [], "a viewer reads but may do nothing"

    body = service_body("svc_crud", description="changed", version=1)
    r = alice.put("/services/svc_crud", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["description"] == "changed" and r.headers["ETag"] == '"2"'

    r = alice.delete("/services/svc_crud")
    assert r.status_code == 204
    assert alice.get("/services/svc_crud").status_code == 404


def test_second_edit_based_on_an_old_version_gets_409_and_nothing_is_lost(alice, bob, admin, service_body):
    assert alice.post("/services", json=service_body("svc_race", owner="bob")).status_code == 201
    v = bob.get("/services/svc_race").json()["version"]
    first = bob.put("/services/svc_race", json=service_body("svc_race", owner="bob", description="bob's", version=v))
    assert first.status_code == 200, first.text
    second = alice.put("/services/svc_race", json=service_body("svc_race", owner="bob", description="alice's",
                                                                version=v))
    assert second.status_code == 409
    assert "version" in second.json()["detail"][0]["message"]
    assert admin.get("/services/svc_race").json()["description"] == "bob's"
    # If-Match works as well as the body's version
    third = alice.put("/services/svc_race", json=service_body("svc_race", owner="bob", description="alice's"),
                      headers={"If-Match": '"2"'})
    assert third.status_code == 200 and third.json()["version"] == 3
    stale = alice.put("/services/svc_race", json=service_body("svc_race", owner="bob"), headers={"If-Match": '"2"'})
    assert stale.status_code == 409
    missing = alice.put("/services/svc_race", json=service_body("svc_race", owner="bob"))
    assert missing.status_code == 422 and "version" in _fields(missing)


def test_roles(alice, bob, carol, admin, service_body):
    # carol is in no application: 403 on create, edit and delete
    r = carol.post("/services", json=service_body("svc_roles_c", owner="carol"))
    assert r.status_code == 403, r.text
    assert "not an admin or member of application 'crm'" in r.json()["detail"][0]["message"]
    # bob (member) creates only services he owns
    assert bob.post("/services", json=service_body("svc_roles_x", owner="alice")).status_code == 403
    assert bob.post("/services", json=service_body("svc_roles_b", owner="bob")).status_code == 201
    # alice (application admin) creates for anyone, and manages bob's
    assert alice.post("/services", json=service_body("svc_roles_a", owner="alice")).status_code == 201
    # bob may not touch alice's service
    v = bob.get("/services/svc_roles_a").json()["version"]
    r = bob.put("/services/svc_roles_a", json=service_body("svc_roles_a", description="x", version=v))
    assert r.status_code == 403
    assert bob.delete("/services/svc_roles_a").status_code == 403
    assert bob.post("/services/svc_roles_a/publish").status_code == 403
    assert carol.delete("/services/svc_roles_b").status_code == 403
    assert carol.post("/services/svc_roles_b/run", json={}).status_code == 403
    # the application admin and the Airflow admin manage bob's service
    v = alice.get("/services/svc_roles_b").json()["version"]
    assert alice.put("/services/svc_roles_b",
                     json=service_body("svc_roles_b", owner="bob", description="by alice", version=v)
                     ).status_code == 200
    assert admin.delete("/services/svc_roles_b").status_code == 204
    assert bob.delete("/services/svc_roles_a").status_code == 403
    assert alice.delete("/services/svc_roles_a").status_code == 204


def test_validation_errors_name_their_fields(alice, service_body):
    body = service_body("bad name!", schedule={"type": "recurring", "daily_at": "25:00"},
                        mappings=[{"tag": "level", "value": "level"}, {"tag": "mobile_city", "value": "c"},
                                  {"tag": "nope", "value": "v"}])
    body["target"]["table"] = "x" * 70
    r = alice.post("/services", json=body)
    assert r.status_code == 422, r.text
    f = _fields(r)
    assert f["name"].startswith("must be 1–64 characters")
    assert "not a time of day" in f["schedule.daily_at"]
    assert "bytes" in f["target.table"]
    # test_catalog may have requested and rejected this grant already: either way it is refused.
    assert re.search(r"(is not granted to|grant to) application 'crm'", f["mappings[0].tag"])
    assert "keyed by 'mobile'" in f["mappings[1].tag"]
    assert "has no tag 'nope'" in f["mappings[2].tag"]
    assert r.json()["status"] == 422

    # shape errors: the same wording as the CLI (pydantic → field paths)
    r = alice.post("/services", json={"name": "x", "application": "crm", "target": {"table": 1}, "extra": 1})
    assert r.status_code == 422
    f = _fields(r)
    assert f["owner"] == "is required" and "target.table" in f
    assert f["extra"] == "is not a known field"
    # a missing connection or table comes back with the other rules, each beside its field
    r = alice.post("/services", json=service_body("svc_no_target", target={"conn_id": "", "table": ""}))
    assert r.status_code == 422
    f = _fields(r)
    assert f["target.conn_id"] == "choose the data source (an Airflow connection) to write into"
    assert f["target.table"] == "is required: the table the tags are written into"

    r = alice.post("/services", json=service_body("svc_unknown_conn", conn_id="no_such_conn"))
    assert r.status_code == 422 and "does not exist" in _fields(r)["target.conn_id"]

    r = alice.post("/services", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_immutable_fields_and_state_conflicts(alice, api_server, service_body):
    assert alice.post("/services", json=service_body("svc_state")).status_code == 201
    r = alice.put("/services/svc_state",
                  json=service_body("svc_state", schedule={"type": "recurring", "daily_at": "02:30"}, version=1))
    assert r.status_code == 422 and "cannot be changed" in _fields(r)["schedule.type"]
    r = alice.put("/services/svc_state", json=service_body("svc_renamed", version=1))
    assert r.status_code == 422 and "cannot be changed" in _fields(r)["name"]

    _set_status(api_server, "svc_state", "published")
    r = alice.delete("/services/svc_state")
    assert r.status_code == 409 and "cannot be deleted" in r.json()["detail"][0]["message"]
    assert "unpublish" in alice.get("/services/svc_state").json()["actions"]
    _set_status(api_server, "svc_state", "publishing")
    r = alice.put("/services/svc_state", json=service_body("svc_state", description="x", version=1))
    assert r.status_code == 422 and "publishing" in r.json()["detail"][0]["message"]
    assert alice.post("/services/svc_state/publish").status_code == 409
    _set_status(api_server, "svc_state", "offline")
    assert alice.delete("/services/svc_state").status_code == 204


def test_unknown_service_is_404(carol):
    for method, path in (("GET", "/services/nope"), ("DELETE", "/services/nope"), ("GET", "/services/nope/ddl"),
                         ("GET", "/services/nope/audit")):
        r = carol.request(method, path)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["detail"][0]["message"] == "service 'nope' does not exist"


def test_list_filters_paging_sorting(alice, bob, admin, service_body):
    for i in range(5):
        assert alice.post("/services", json=service_body(f"lst_a{i}", owner="alice")).status_code == 201
    for i in range(3):
        body = service_body(f"lst_b{i}", owner="bob", conn_id="crm_mysql",
                            schedule={"type": "recurring", "daily_at": "02:30"})
        assert bob.post("/services", json=body).status_code == 201
    r = bob.get("/services", params={"mine": True, "name": "lst_"})
    assert r.status_code == 200
    assert [i["name"] for i in r.json()["items"]] == ["lst_b0", "lst_b1", "lst_b2"]
    r = alice.get("/services", params={"name": "lst_", "target_kind": "mysql", "schedule_type": "recurring",
                                       "application": "crm", "entity": "user", "entity_id": "user_id",
                                       "status": "editing", "execution_status": "none"})
    assert r.json()["total"] == 3
    r = alice.get("/services", params={"name": "lst_", "page": 2, "page_size": 3, "sort": "name", "order": "desc"})
    page = r.json()
    assert page["total"] == 8 and page["page"] == 2 and [i["name"] for i in page["items"]] == ["lst_a4", "lst_a3",
                                                                                               "lst_a2"]
    row = page["items"][0]
    assert row["target"]["full_name"] == "t_lst_a4" and row["tags"] == ["gender", "gmv_30d"]
    r = alice.get("/services", params={"page_size": 0, "sort": "nonsense"})
    assert r.status_code == 422 and {"page_size", "sort"} <= set(_fields(r))
    r = alice.get("/services", params={"status": "bogus"})
    assert r.status_code == 422 and "status" in _fields(r)


def test_acting_user_lands_in_the_audit_log(alice, bob, carol, service_body):
    assert bob.post("/services", json=service_body("svc_audit", owner="bob")).status_code == 201
    assert alice.put("/services/svc_audit", json=service_body("svc_audit", owner="bob", description="a",
                                                              version=1)).status_code == 200
    assert bob.delete("/services/svc_audit").status_code == 204
    r = carol.get("/services/svc_audit/audit")
    assert r.status_code == 200
    assert [(e["actor"], e["action"]) for e in r.json()] == [("bob", "delete"), ("alice", "update"),
                                                             ("bob", "create")]
    r = carol.get("/audit", params={"user": "bob", "object_key": "svc_audit"})
    assert [e["action"] for e in r.json()] == ["delete", "create"]


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_and_infinity_are_refused_naming_the_field(alice, admin, service_body, bad):
    """Python's JSON parser reads NaN / Infinity; they must not reach the catalog store or a DAG file."""
    import json

    name = "svc_not_finite"
    body = json.dumps(service_body(name, gates={"max_change_ratio": 0.5, "max_null_ratio": {"gender": 0.1}}))
    bad_body = body.replace('"max_change_ratio": 0.5', f'"max_change_ratio": {bad}') \
        .replace('"gender": 0.1', f'"gender": {bad}')
    assert bad in bad_body and json.loads(bad_body)
    r = alice.post("/services", content=bad_body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert sorted(r.json()["detail"], key=lambda d: d["field"]) == [
        {"field": "gates.max_change_ratio", "message": "must be a finite number"},
        {"field": "gates.max_null_ratio.gender", "message": "must be a finite number"}]
    assert admin.get(f"/services/{name}").status_code == 404

    r = alice.post("/services", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    update = bad_body.replace('"owner": "alice"', '"owner": "alice", "version": 1')
    r = alice.put(f"/services/{name}", content=update, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and {d["field"] for d in r.json()["detail"]} == {
        "gates.max_change_ratio", "gates.max_null_ratio.gender"}, r.text
    assert admin.get(f"/services/{name}").json()["version"] == 1
    assert alice.delete(f"/services/{name}").status_code == 204


def test_the_partition_field_is_checked_like_any_target_column(alice, admin, service_body):
    name = "svc_long_partition"
    body = service_body(name, target={"conn_id": "crm_pg", "table": "t_long_partition", "load": "overwrite",
                                      "partition": {"field": "p" * 64}})
    r = alice.post("/services", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == [{"field": "target.partition.field",
                                   "message": "column '" + "p" * 64 + "' is 64 bytes long; postgres allows at "
                                              "most 63 bytes"}]
    body["target"]["partition"]["field"] = "p" * 300
    assert alice.post("/services", json=body).json()["detail"][0]["field"] == "target.partition.field"
    assert admin.get(f"/services/{name}").status_code == 404


def test_list_and_detail_say_what_the_caller_may_do_and_why_not(alice, bob, carol, api_server, service_body):
    """Each service carries its allowed `actions` and, for every other action, the refusal that action
    would get: per caller (the owner, the application admin, a viewer) and per state."""
    assert alice.post("/services", json=service_body("svc_why", owner="bob")).status_code == 201
    everything = {"edit", "publish", "unpublish", "run", "backfill", "delete"}

    def of(client, name="svc_why"):
        detail = client.get(f"/services/{name}").json()
        row = next(s for s in client.get("/services", params={"name": name}).json()["items"] if s["name"] == name)
        assert (row["actions"], row["refusals"]) == (detail["actions"], detail["refusals"]), "list = detail"
        assert set(detail["actions"]) | set(detail["refusals"]) == everything
        assert not set(detail["actions"]) & set(detail["refusals"])
        return detail

    for client in (alice, bob):  # editing, never published, manual
        d = of(client)
        assert d["actions"] == ["edit", "publish", "delete"]
        assert d["refusals"]["run"] == ("service 'svc_why' cannot run: the service is editing; only published "
                                        "services can run")
        assert d["refusals"]["backfill"] == ("service 'svc_why' cannot be backfilled: the service is manual: use run "
                                             "for one data date")
    d = of(carol)
    assert d["actions"] == []
    assert d["refusals"]["publish"] == ("user 'carol' may not publish service 'svc_why': only Airflow admins, admins "
                                        "of application 'crm' and the owner (a member of it) may")
    # the reason is what the action answers with
    r = carol.post("/services/svc_why/publish")
    assert r.status_code == 403 and r.json()["detail"][0]["message"] == d["refusals"]["publish"]

    _set_status(api_server, "svc_why", "published")
    d = of(bob)
    assert d["actions"] == ["edit", "publish", "unpublish", "run"]
    assert d["refusals"]["delete"] == ("service 'svc_why' cannot be deleted: the service is published; only offline, "
                                       "publish_failed or never-published services can be deleted")
    r = bob.delete("/services/svc_why")
    assert r.status_code == 409 and r.json()["detail"][0]["message"] == d["refusals"]["delete"]
    _set_status(api_server, "svc_why", "unpublishing")
    assert of(bob)["actions"] == [] and of(bob)["refusals"]["edit"] == (
        "service 'svc_why' cannot be edited: the service is unpublishing; wait until it has finished")
    _set_status(api_server, "svc_why", "offline")
    assert bob.delete("/services/svc_why").status_code == 204
