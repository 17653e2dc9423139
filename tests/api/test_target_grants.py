"""Target grants over HTTP, from the attacker's side (security issue #10): an ordinary account that
administers a rival application (``mallory``, admin of ``other``) cannot write crm's connections or
tables, nor look inside connections not granted to it; a viewer cannot probe tables through the DDL
preview; crm's own services still save, create their tables and publish. And the grants' REST API."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.airflow

CLAIMED = "is the target of service 'tg_crm_owned' (application crm); a table belongs to one service"
NOT_INSIDE = "user 'mallory' may not look inside connections: only Airflow admins and admins or members of an " \
             "application granted connection '{}' may"


def _fields(r: Any) -> dict[str, str]:
    return {d["field"]: d["message"] for d in r.json()["detail"]}


def _msg(r: Any) -> str:
    return r.json()["detail"][0]["message"]


@pytest.fixture(scope="module")
def other_body(service_body: Any) -> Any:
    """A service of the rival application ``other`` (its tags are granted: only the target can be wrong)."""
    def make(name: str, conn_id: str = "crm_pg", table: str | None = None, schema: str | None = None,
             **changes: Any) -> dict[str, Any]:
        target = {"conn_id": conn_id, "table": table or f"t_{name}", "load": "overwrite"}
        if schema:
            target["schema"] = schema
        return service_body(name, owner="mallory", application="other", target=target, **changes)
    return make


@pytest.fixture(scope="module")
def crm_owned(alice: Any, service_body: Any) -> str:
    """crm's service on crm_pg, table tg_owned in the default schema (public)."""
    body = service_body("tg_crm_owned", target={"conn_id": "crm_pg", "table": "tg_owned", "load": "overwrite"})
    r = alice.post("/services", json=body)
    assert r.status_code == 201, r.text
    return "tg_crm_owned"


def test_a_connection_not_granted_to_the_application(mallory: Any, other_body: Any) -> None:
    r = mallory.post("/services", json=other_body("tg_other_mysql", conn_id="crm_mysql"))
    assert r.status_code == 422, r.text
    assert _fields(r) == {"target.conn_id": "connection 'crm_mysql' is not granted to application 'other': a "
                                            "catalog admin grants connections to applications (target grants)"}
    # a granted connection, outside the granted schemas
    r = mallory.post("/services", json=other_body("tg_other_crm_schema", schema="crm"))
    assert r.status_code == 422
    assert _fields(r) == {"target.schema": "schema 'crm' is not granted to application 'other' on connection "
                                           "'crm_pg' (granted: schemas public)"}


def test_a_claimed_table_is_refused_even_with_a_grant_on_its_connection(crm_owned: str, mallory: Any,
                                                                       other_body: Any) -> None:
    for body in (other_body("tg_steal", table="tg_owned"), other_body("tg_steal", table="tg_owned", schema="public")):
        r = mallory.post("/services", json=body)
        assert r.status_code == 422, r.text
        assert _fields(r) == {"target.table": f"table 'public.tg_owned' on connection 'crm_pg' {CLAIMED}"}
    # a second connection id of the same database
    r = mallory.post("/services", json=other_body("tg_steal", conn_id="crm_pg_alias", table="tg_owned"))
    assert r.status_code == 422
    assert _fields(r) == {"target.table": "table 'public.tg_owned' on connection 'crm_pg_alias' (the database of "
                                          f"connection 'crm_pg') {CLAIMED}"}
    # nor by editing a service of its own onto the table
    assert mallory.post("/services", json=other_body("tg_other_ok")).status_code == 201
    r = mallory.put("/services/tg_other_ok", json=other_body("tg_other_ok", table="tg_owned", version=1))
    assert r.status_code == 422 and _fields(r) == {"target.table": f"table 'public.tg_owned' on connection "
                                                                   f"'crm_pg' {CLAIMED}"}
    assert mallory.get("/services/tg_other_ok").json()["target"]["table"] == "t_tg_other_ok"


def test_publishing_refuses_a_service_sharing_an_older_services_table(crm_owned: str, api_server: Any,
                                                                      mallory: Any, other_body: Any) -> None:
    """A catalog from before claims: two services on one table. The younger is refused at publish."""
    import sqlalchemy as sa

    assert mallory.post("/services", json=other_body("tg_other_old")).status_code == 201
    engine = sa.create_engine(api_server.catalog_url)
    try:
        with engine.begin() as conn:
            definition = other_body("tg_other_old", table="tg_owned")
            conn.execute(sa.text("UPDATE tagoffline_service SET target_table = 'tg_owned', definition = :d "
                                 "WHERE name = 'tg_other_old'"), {"d": json.dumps(definition)})
    finally:
        engine.dispose()
    r = mallory.post("/services/tg_other_old/publish")
    assert r.status_code == 422, r.text
    assert _fields(r) == {"target.table": f"table 'public.tg_owned' on connection 'crm_pg' {CLAIMED}"}
    assert mallory.get("/services/tg_other_old").json()["status"] == "editing"


def test_crms_own_service_still_saves_creates_its_table_and_publishes(crm_owned: str, alice: Any,
                                                                       service_body: Any) -> None:
    body = service_body("tg_crm_owned", description="edited by its owner", version=1,
                        target={"conn_id": "crm_pg", "table": "tg_owned", "load": "overwrite"})
    r = alice.put("/services/tg_crm_owned", json=body)
    assert r.status_code == 200, r.text
    r = alice.post("/services/tg_crm_owned/ddl", json={})
    assert r.status_code == 200, r.text
    assert r.json()["table"] == "tg_owned" and r.json()["conn_id"] == "crm_pg"
    r = alice.post("/services/tg_crm_owned/publish")
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "publishing"


def test_ungranted_connections_cannot_be_looked_into(crm_owned: str, mallory: Any, other_body: Any,
                                                     service_body: Any) -> None:
    for conn_id, path in (("crm_mysql", "/connections/crm_mysql/schemas"),
                          ("crm_mysql", "/connections/crm_mysql/tables"),
                          ("crm_mysql", "/connections/crm_mysql/tables/user_tags/columns"),
                          ("crm_sqlite", "/connections/crm_sqlite/tables"),
                          ("tag_warehouse", "/connections/tag_warehouse/tables/dws_user_profile_d/columns")):
        r = mallory.get(path)
        assert r.status_code == 403, (path, r.text)
        assert _msg(r) == NOT_INSIDE.format(conn_id)
    # a granted connection: only inside the granted schemas
    r = mallory.get("/connections/crm_pg/schemas")
    assert r.status_code == 200 and r.json()["items"] == ["public"], r.text
    assert mallory.get("/connections/crm_pg/tables").status_code == 200  # the default schema, public
    for r in (mallory.get("/connections/crm_pg/tables", params={"schema": "crm"}),
              mallory.get("/connections/crm_pg/tables/user_tags/columns", params={"schema": "crm"})):
        assert r.status_code == 403
        assert _msg(r) == ("user 'mallory' may not look inside connections: schema 'crm' of connection 'crm_pg' "
                           "is not granted to an application of theirs (granted: schemas public)")
    # same-name mapping reads columns: the same rule
    r = mallory.post("/helpers/same-name-mapping", json={"application": "other", "entity": "user",
                                                         "entity_id": "user_id", "conn_id": "crm_mysql",
                                                         "table": "user_tags"})
    assert r.status_code == 403 and _msg(r) == NOT_INSIDE.format("crm_mysql")
    # one-click create table: preview (it tells whether a table exists) and execute
    r = mallory.post("/helpers/ddl/preview", json={"service": other_body("tg_probe", conn_id="crm_mysql",
                                                                         table="user_tags")})
    assert r.status_code == 403 and _msg(r) == NOT_INSIDE.format("crm_mysql")
    r = mallory.post("/helpers/ddl/preview", json={"service": service_body("tg_probe", owner="mallory")})
    assert r.status_code == 403 and "not an admin or member of application 'crm'" in _msg(r)
    r = mallory.get(f"/services/{crm_owned}/ddl")
    assert r.status_code == 403 and "not an admin or member of application 'crm'" in _msg(r)
    r = mallory.post("/helpers/ddl/execute", json={"service": other_body("tg_probe", conn_id="crm_sqlite")})
    assert r.status_code == 403 and _msg(r) == ("user 'mallory' may not create tables on connections: only Airflow "
                                                "admins and admins or members of an application granted connection "
                                                "'crm_sqlite' may")
    assert mallory.post(f"/services/{crm_owned}/ddl", json={}).status_code == 403


def test_a_viewer_cannot_probe_tables_through_the_ddl_preview(carol: Any, service_body: Any) -> None:
    for conn_id, table in (("crm_pg", "user_tags"), ("crm_sqlite", "anything")):
        draft = service_body("tg_viewer_probe", owner="carol", conn_id=conn_id)
        draft["target"]["table"] = table
        r = carol.post("/helpers/ddl/preview", json={"service": draft})
        assert r.status_code == 403, r.text
        assert "table_exists" not in r.text


def test_target_grants_rest(admin: Any, alice: Any, carol: Any, service_body: Any) -> None:
    listed = {(g["application"], g["conn_id"]): g for g in carol.get("/catalog/target-grants").json()}
    assert listed[("crm", "crm_pg")]["schemas"] == ["crm", "public"] and listed[("crm", "crm_mysql")]["schemas"] is None
    assert listed[("crm", "crm_pg")]["granted_by"] == "admin"
    assert [g["conn_id"] for g in carol.get("/catalog/target-grants", params={"application": "other"}).json()] == \
        ["crm_pg", "crm_pg_alias"]

    body = {"application": "risk", "conn_id": "crm_sqlite", "schemas": None}
    for client in (alice, carol):
        r = client.put("/catalog/target-grants/risk/crm_sqlite", json=body)
        assert r.status_code == 403 and _msg(r) == "only Airflow admins may grant connections"
        assert client.delete("/catalog/target-grants/crm/crm_pg").status_code == 403
    r = admin.put("/catalog/target-grants/risk/crm_sqlite", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["schemas"] is None and r.json()["granted_by"] == "admin"
    r = admin.put("/catalog/target-grants/risk/crm_sqlite", json={**body, "schemas": ["main"]})
    assert r.status_code == 200 and r.json()["schemas"] == ["main"]
    r = admin.put("/catalog/target-grants/risk/crm_sqlite", json={**body, "conn_id": "crm_pg"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "conn_id"
    r = admin.put("/catalog/target-grants/nope/crm_sqlite", json={**body, "application": "nope"})
    assert r.status_code == 422 and _msg(r) == "application 'nope' does not exist"
    r = admin.put("/catalog/target-grants/risk/crm_sqlite", json={**body, "schemas": []})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "schemas"
    assert admin.delete("/catalog/target-grants/risk/crm_sqlite").status_code == 204
    assert admin.delete("/catalog/target-grants/risk/crm_sqlite").status_code == 404

    # withdrawing a grant its application's services still use: 409 naming them
    assert alice.post("/services", json=service_body("tg_on_sqlite", conn_id="crm_sqlite")).status_code == 201
    r = admin.delete("/catalog/target-grants/crm/crm_sqlite")
    assert r.status_code == 409 and "connection 'crm_sqlite' is still the target of services of application " \
                                    "'crm': " in _msg(r) and "tg_on_sqlite" in _msg(r)
    assert {"application": "crm", "conn_id": "crm_sqlite", "schemas": None} in carol.get("/catalog").json()[
        "target_grants"]
    audit = carol.get("/audit", params={"object_type": "target_grant", "object_key": "risk:crm_sqlite"}).json()
    assert [(e["actor"], e["action"]) for e in audit] == [("admin", "delete"), ("admin", "update"),
                                                          ("admin", "create")]
