"""``/catalog`` over HTTP: Airflow admins manage applications, entities, IDs, tags, lookups; grants are
requested by application users and decided by admins; guarded deletes answer 409."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.airflow


def _msg(r) -> str:
    return r.json()["detail"][0]["message"]


def test_everyone_reads_the_catalog(carol):
    assert {a["code"] for a in carol.get("/catalog/applications").json()} >= {"crm", "risk"}
    user = carol.get("/catalog/entities/user").json()
    assert [i["code"] for i in user["ids"]] == ["user_id", "mobile"]
    assert {t["code"] for t in user["tags"]} >= {"gender", "gmv_30d", "level", "mobile_city"}
    tag = carol.get("/catalog/entities/user/tags/gender").json()
    assert tag["lookup"] == "gender_codes" and tag["source"]["format"] == "yyyyMMdd" and tag["id"] == "user_id"
    assert len(carol.get("/catalog/entities/user/tags").json()) >= 4
    assert carol.get("/catalog/lookups/gender_codes").json()["values"] == {"M": "Male", "F": "Female"}
    assert carol.get("/catalog/lookups").status_code == 200
    exported = carol.get("/catalog").json()
    assert {"applications", "lookups", "entities", "grants"} <= set(exported)
    assert carol.get("/catalog/applications/nope").status_code == 404
    assert carol.get("/catalog/entities/user/tags/nope").status_code == 404


def test_admin_manages_the_catalog(admin):
    r = admin.put("/catalog/applications/mkt", json={"code": "mkt", "name": "Marketing", "admins": ["carol"]})
    assert r.status_code == 200, r.text
    assert r.json()["admins"] == ["carol"]
    r = admin.put("/catalog/applications/mkt", json={"code": "mkt", "name": "Marketing 2", "members": ["bob"]})
    assert r.json()["name"] == "Marketing 2" and r.json()["admins"] == [] and r.json()["members"] == ["bob"]

    r = admin.put("/catalog/lookups/level_codes", json={"code": "level_codes", "table": "dim_level",
                                                        "code_column": "c", "name_column": "n"})
    assert r.status_code == 200 and r.json()["kind"] == "table"

    r = admin.put("/catalog/entities/shop", json={"code": "shop", "name": "Shop",
                                                  "ids": [{"code": "shop_id", "name": "Shop", "type": "bigint"}]})
    assert r.status_code == 200, r.text
    r = admin.put("/catalog/entities/shop/ids/shop_code", json={"code": "shop_code", "name": "Code",
                                                                 "type": "string"})
    assert r.status_code == 200 and r.json()["type"] == "string"
    r = admin.put("/catalog/entities/shop/tags/gmv", json={
        "code": "gmv", "name": "GMV", "type": "double", "id": "shop_id", "lookup": None,
        "source": {"table": "dws_shop", "key": "shop_id", "column": "gmv"}})
    assert r.status_code == 200, r.text
    assert [t["code"] for t in admin.get("/catalog/entities/shop").json()["tags"]] == ["gmv"]
    assert [i["code"] for i in admin.get("/catalog/entities/shop").json()["ids"]] == ["shop_id", "shop_code"]

    # guarded deletes: 409 naming what still uses the object
    r = admin.delete("/catalog/entities/shop")
    assert r.status_code == 409 and "tag gmv" in _msg(r)
    r = admin.delete("/catalog/entities/shop/ids/shop_id")
    assert r.status_code == 409 and "still keys tags: gmv" in _msg(r)
    r = admin.delete("/catalog/lookups/gender_codes")
    assert r.status_code == 409 and "user.gender" in _msg(r)
    assert admin.delete("/catalog/entities/shop/tags/gmv").status_code == 204
    assert admin.delete("/catalog/entities/shop/ids/shop_code").status_code == 204
    assert admin.delete("/catalog/entities/shop/ids/shop_id").status_code == 204
    assert admin.delete("/catalog/entities/shop").status_code == 204
    assert admin.delete("/catalog/lookups/level_codes").status_code == 204
    assert admin.delete("/catalog/applications/mkt").status_code == 204
    assert admin.get("/catalog/applications/mkt").status_code == 404

    # dry-run apply writes nothing
    r = admin.post("/catalog/apply", params={"dry_run": True},
                   json={"applications": [{"code": "dry", "name": "Dry"}]})
    assert r.status_code == 200 and r.json()["items"][0]["action"] == "create" and r.json()["dry_run"]
    assert admin.get("/catalog/applications/dry").status_code == 404


def test_application_with_services_cannot_be_deleted(admin, alice, service_body):
    assert alice.post("/services", json=service_body("svc_guard")).status_code == 201
    r = admin.delete("/catalog/applications/crm")
    # five of its services by name and how many more (other modules' services of crm count too)
    names = {s["name"] for s in admin.get("/services", params={"application": "crm", "page_size": 500}).json()["items"]}
    assert r.status_code == 409 and _msg(r).startswith("application 'crm' still has services: ")
    listed, _, more = _msg(r).split(": ", 1)[1].partition(" and ")
    assert set(listed.split(", ")) <= names and len(listed.split(", ")) == min(5, len(names))
    assert more == (f"{len(names) - 5} more" if len(names) > 5 else "")
    r = admin.delete("/catalog/entities/user/tags/gender")
    assert r.status_code == 409 and "is used by services" in _msg(r)
    assert alice.delete("/services/svc_guard").status_code == 204


def test_catalog_writes_are_for_admins_only(alice, bob, carol):
    app = {"code": "crm", "name": "Hijacked", "admins": ["carol"]}
    for client in (alice, bob, carol):
        r = client.put("/catalog/applications/crm", json=app)
        assert r.status_code == 403 and _msg(r) == "only Airflow admins may manage applications"
        assert client.delete("/catalog/lookups/gender_codes").status_code == 403
        assert client.delete("/catalog/entities/user/tags/level").status_code == 403
        assert client.post("/catalog/apply", json={}).status_code == 403
        assert client.put("/catalog/entities/user/ids/x",
                          json={"code": "x", "name": "X", "type": "string"}).status_code == 403
    assert carol.get("/catalog/applications/crm").json()["name"] == "CRM"


def test_catalog_validation_errors(admin):
    r = admin.put("/catalog/applications/crm", json={"code": "other", "name": "CRM"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "code"
    r = admin.put("/catalog/lookups/bad", json={"code": "bad", "values": {"a": "b"}, "table": "t"})
    assert r.status_code == 422 and "either values" in _msg(r)
    r = admin.put("/catalog/entities/user/tags/Bad", json={
        "code": "Bad", "name": "x", "type": "varchar", "id": "user_id",
        "source": {"table": "t", "key": "k", "column": "c"}})
    assert r.status_code == 422
    fields = {d["field"] for d in r.json()["detail"]}
    assert {"code", "type"} <= fields
    r = admin.put("/catalog/entities/user/tags/newtag", json={
        "code": "newtag", "name": "x", "type": "string", "id": "no_such_id",
        "source": {"table": "t", "key": "k", "column": "c"}})
    assert r.status_code == 422 and "has no entity ID 'no_such_id'" in _msg(r)


def test_grant_request_approve_reject_revoke(admin, alice, bob, carol):
    r = bob.post("/catalog/grants", json={"application": "crm", "entity": "user", "tag": "level",
                                          "reason": "need it"})
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "requested" and r.json()["requested_by"] == "bob"
    again = alice.post("/catalog/grants", json={"application": "crm", "entity": "user", "tag": "level"})
    assert again.status_code == 409
    assert carol.post("/catalog/grants", json={"application": "crm", "entity": "user", "tag": "level"}
                      ).status_code == 403
    assert alice.post("/catalog/grants/crm/user/level/approve").status_code == 403, "application admins do not decide"

    requested = admin.get("/catalog/grants", params={"application": "crm", "state": "requested"}).json()
    assert [(g["tag"], g["state"]) for g in requested] == [("level", "requested")]

    r = admin.post("/catalog/grants/crm/user/level/approve")
    assert r.status_code == 200 and r.json()["state"] == "approved" and r.json()["decided_by"] == "admin"
    assert admin.post("/catalog/grants/crm/user/level/reject").status_code == 409
    r = admin.post("/catalog/grants/crm/user/level/revoke", json={"reason": "CRM stopped using levels"})
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert r.json()["reason"] == "CRM stopped using levels", "the revoke's reason is the grant's now"
    audit = admin.get("/audit", params={"object_key": "crm:user.level"}).json()
    assert [(e["action"], (e["detail"] or {}).get("reason")) for e in audit][:2] == [
        ("revoke", "CRM stopped using levels"), ("approve", None)], audit
    # approving it again says what happened to it, and what to do instead
    r = admin.post("/catalog/grants/crm/user/level/approve")
    assert r.status_code == 409
    assert re.fullmatch(
        r"cannot approve the grant of tag user\.level to application 'crm': it is revoked \(by admin on "
        r"\d{4}-\d\d-\d\d \d\d:\d\d UTC: CRM stopped using levels\); only a requested grant can be approved: an admin "
        r"or member of 'crm' requests it again \(Catalog → Request a grant, or POST /tag-offline/catalog/grants\), "
        r"then approve that", _msg(r)), _msg(r)
    r = admin.post("/catalog/grants/crm/user/level/revoke")
    assert r.status_code == 409 and _msg(r).endswith("; only an approved grant can be revoked"), _msg(r)

    assert bob.post("/catalog/grants", json={"application": "crm", "entity": "user", "tag": "level"}
                    ).status_code == 201
    r = admin.post("/catalog/grants/crm/user/level/reject")
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    assert admin.post("/catalog/grants/crm/user/level/frobnicate").status_code == 422
    assert admin.post("/catalog/grants/crm/user/nope/approve").status_code == 404
    r = bob.post("/catalog/grants", json={"application": "crm", "entity": "user", "tag": "level",
                                          "expires": "not-a-date"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "expires"

    audit = carol.get("/audit", params={"object_type": "grant", "object_key": "crm:user.level"}).json()
    assert [(e["actor"], e["action"]) for e in audit][:3] == [("admin", "reject"), ("bob", "request"),
                                                              ("admin", "revoke")]
