"""Helpers over HTTP: connections (no secrets), schemas / tables / columns of PostgreSQL, MariaDB, SQLite
and DuckDB connections, same-name mapping, one-click create table (preview and execution)."""

from __future__ import annotations

import sqlite3

import pytest

pytestmark = pytest.mark.airflow



@pytest.fixture(scope="module")
def target_tables(api_server, pg_dbs, mysql_db):
    """One existing target table per kind, made behind the API server's back."""
    from tests.live import mysql_connect, pg_connect

    with pg_connect(pg_dbs["target"]) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS crm")
        conn.execute("CREATE TABLE IF NOT EXISTS crm.user_tags (user_id bigint PRIMARY KEY, gender text, "
                     "gender_codename text, gmv_30d numeric(18,2), level bigint, note text)")
    conn2 = mysql_connect(mysql_db)
    try:
        with conn2.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS user_tags (user_id BIGINT PRIMARY KEY, GENDER VARCHAR(8), "
                        "gmv_30d DECIMAL(18,2))")
    finally:
        conn2.close()
    with sqlite3.connect(api_server.home / "target.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS user_tags (user_id INTEGER PRIMARY KEY, gender TEXT, "
                   "gender_codename TEXT)")


def test_connections_are_listed_without_secrets(admin, api_server):
    r = admin.get("/connections")
    assert r.status_code == 200
    conns = {c["conn_id"]: c for c in r.json()}
    assert {"crm_pg", "crm_mysql", "crm_sqlite", "tag_warehouse"} <= set(conns)
    assert "not_a_target" not in conns, "an http connection is not a supported target"
    assert conns["crm_pg"]["kind"] == "postgres" and conns["crm_pg"]["has_schemas"] is True
    assert conns["crm_mysql"]["kind"] == "mysql" and conns["crm_mysql"]["has_schemas"] is False
    assert conns["tag_warehouse"]["kind"] == "warehouse"
    assert "s3cret" not in r.text and "password" not in r.text and "sslmode" not in r.text
    assert "login" not in r.text and "extra" not in r.text


def test_connection_added_through_airflow_is_listed(api_server, admin):
    import httpx

    body = {"connection_id": "ui_made_pg", "conn_type": "postgres", "host": "db.example", "port": 5432,
            "login": "u", "password": "hunter2", "schema": "x", "extra": '{"flavor": "greenplum"}'}
    r = httpx.post(f"{api_server.base_url}/api/v2/connections", json=body,
                   headers={"Authorization": f"Bearer {api_server.token('admin')}"})
    assert r.status_code == 201, r.text
    listed = {c["conn_id"]: c for c in admin.get("/connections").json()}
    assert listed["ui_made_pg"]["kind"] == "greenplum" and listed["ui_made_pg"]["host"] == "db.example"
    assert "hunter2" not in admin.get("/connections").text


def test_users_see_the_connections_granted_to_their_applications(alice, bob, carol, mallory):
    def listed(client, **params):
        r = client.get("/connections", params=params)
        assert r.status_code == 200, r.text
        return {c["conn_id"]: c["granted_schemas"] for c in r.json()}

    crm = {"crm_pg": ["crm", "public"], "crm_gp": ["gp"], "crm_mysql": None, "crm_sqlite": None,
           "tag_warehouse": ["main"]}
    assert listed(alice) == crm and listed(bob) == crm
    assert listed(bob, application="crm") == crm
    assert listed(mallory) == {"crm_pg": ["public"], "crm_pg_alias": None}
    assert listed(mallory, application="crm") == {}, "not mallory's application"
    assert listed(carol) == {}, "a user of no application sees no connection"


def test_schemas_tables_columns_of_each_kind(target_tables, alice, admin):
    schemas = alice.get("/connections/crm_pg/schemas").json()["items"]
    assert "crm" in schemas and "public" in schemas and "pg_catalog" not in schemas
    assert alice.get("/connections/crm_pg/tables", params={"schema": "crm"}).json()["items"] == ["user_tags"]
    cols = alice.get("/connections/crm_pg/tables/user_tags/columns", params={"schema": "crm"}).json()["items"]
    assert [c["name"] for c in cols][:3] == ["user_id", "gender", "gender_codename"]
    assert cols[0]["primary_key"] is True and cols[0]["type"] == "BIGINT"

    assert "user_tags" in alice.get("/connections/crm_mysql/tables").json()["items"]
    cols = alice.get("/connections/crm_mysql/tables/user_tags/columns").json()["items"]
    assert [c["name"] for c in cols] == ["user_id", "GENDER", "gmv_30d"]

    assert "user_tags" in alice.get("/connections/crm_sqlite/tables").json()["items"]
    cols = alice.get("/connections/crm_sqlite/tables/user_tags/columns").json()["items"]
    assert [c["name"] for c in cols] == ["user_id", "gender", "gender_codename"]

    assert "main" in alice.get("/connections/tag_warehouse/schemas").json()["items"]
    assert "dws_user_profile_d" in alice.get("/connections/tag_warehouse/tables").json()["items"]
    cols = alice.get("/connections/tag_warehouse/tables/dws_user_trade_d/columns").json()["items"]
    assert [c["name"] for c in cols] == ["user_id", "gmv_30d", "ds"]

    assert alice.get("/connections/crm_pg/tables/nope/columns").status_code == 404
    assert admin.get("/connections/crm_pg/tables", params={"schema": "nope"}).status_code == 404
    assert admin.get("/connections/nope/tables").status_code == 404
    r = admin.get("/connections/not_a_target/tables")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "conn_id"


def test_only_service_creators_look_inside_connections(carol, bob):
    r = carol.get("/connections/crm_pg/schemas")
    assert r.status_code == 403 and "may not look inside connections" in r.json()["detail"][0]["message"]
    assert bob.get("/connections/crm_pg/schemas").status_code == 200


def test_same_name_mapping(target_tables, bob, carol):
    body = {"application": "crm", "entity": "user", "entity_id": "user_id",
            "columns": ["user_id", "GENDER", "gender_codename", "gmv_30d", "level", "city"]}
    r = carol.post("/helpers/same-name-mapping", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    # level is not granted to crm (in this test's catalog); mobile_city is keyed by mobile
    assert out["mappings"] == [{"tag": "gender", "value": "GENDER", "codename": "gender_codename"},
                               {"tag": "gmv_30d", "value": "gmv_30d", "codename": None}]
    assert out["unmatched_columns"] == ["level", "city"] and out["key_column"] == "user_id"  # the key is no gap
    assert "mobile_city" not in out["available_tags"]

    r = bob.post("/helpers/same-name-mapping", json={"application": "crm", "entity": "user", "entity_id": "user_id",
                                                     "conn_id": "crm_pg", "schema": "crm", "table": "user_tags"})
    assert r.status_code == 200
    assert [m["tag"] for m in r.json()["mappings"]] == ["gender", "gmv_30d"]
    # before the table exists: say so, and how to make it
    r = bob.post("/helpers/same-name-mapping", json={"application": "crm", "entity": "user", "entity_id": "user_id",
                                                     "conn_id": "crm_pg", "schema": "crm", "table": "not_made_yet"})
    assert r.status_code == 422 and r.json()["detail"] == [{
        "field": "table", "message": "table 'crm.not_made_yet' does not exist yet on 'crm_pg': create it (one-click "
                                     "create table), then map its columns by name"}]

    r = carol.post("/helpers/same-name-mapping", json={"application": "nope", "entity": "user",
                                                       "entity_id": "x"})
    assert r.status_code == 422 and {d["field"] for d in r.json()["detail"]} == {"application", "entity_id"}
    r = carol.post("/helpers/same-name-mapping", json={"application": "crm", "entity": "user", "entity_id": "user_id"})
    assert r.status_code == 422 and {d["field"] for d in r.json()["detail"]} == {"columns", "table"}


def test_ddl_execute_with_edited_statement(alice, carol, api_server, service_body):
    draft = service_body("svc_ddl", conn_id="crm_sqlite")
    draft["target"]["table"] = "made_by_api"
    stmt = ('CREATE TABLE "made_by_api" ("user_id" INTEGER PRIMARY KEY, "gender" TEXT, "gender_codename" TEXT, '
            '"gmv_30d" NUMERIC)')
    r = carol.post("/helpers/ddl/execute", json={"service": draft, "statements": [stmt]})
    assert r.status_code == 403

    for bad, field, why in ((["DROP TABLE user_tags"], "statements[0]", "DROP TABLE is not allowed"),
                            ([stmt + "; DROP TABLE user_tags"], "statements[0] (statement 2)",
                             "DROP TABLE is not allowed"),
                            (['CREATE TABLE "other" (a int)'], "statements[0]", "not the service's target table"),
                            (['CREATE TABLE "made_by_api" (user_id INTEGER, gender TEXT'], "statements[0]",
                             "cannot be parsed as sqlite SQL")):
        r = alice.post("/helpers/ddl/execute", json={"service": draft, "statements": bad})
        assert r.status_code == 422 and r.json()["detail"] == [{"field": field, "message": r.json()["detail"][0][
            "message"]}] and why in r.json()["detail"][0]["message"], r.text

    r = alice.post("/helpers/ddl/execute", json={"service": draft, "statements": [stmt]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert [c["name"] for c in out["columns"]] == ["user_id", "gender", "gender_codename", "gmv_30d"]
    assert out["mappings"] == [{"tag": "gender", "value": "gender", "codename": "gender_codename"},
                               {"tag": "gmv_30d", "value": "gmv_30d", "codename": None}]
    with sqlite3.connect(api_server.home / "target.db") as db:
        assert db.execute("SELECT count(*) FROM made_by_api").fetchone() == (0,)

    r = alice.post("/helpers/ddl/execute", json={"service": draft, "statements": [stmt]})
    assert r.status_code == 409 and "already exists" in r.json()["detail"][0]["message"]

    audit = carol.get("/audit", params={"object_key": "svc_ddl"}).json()
    assert audit[0]["actor"] == "alice" and audit[0]["action"] == "create_table"


def test_ddl_preview(alice, bob, carol, service_body):
    assert alice.post("/services", json=service_body("svc_ddl_prev")).status_code == 201
    # a preview says whether the table exists: only for who may create it
    for r in (carol.get("/services/svc_ddl_prev/ddl"),
              carol.post("/helpers/ddl/preview", json={"service": service_body("svc_ddl_draft")})):
        assert r.status_code == 403, r.text
        assert r.json()["detail"][0]["message"] == ("user 'carol' is not an admin or member of application 'crm' "
                                                    "and may not preview the tables of its services")
    r = bob.get("/services/svc_ddl_prev/ddl")
    draft = bob.post("/helpers/ddl/preview", json={"service": service_body("svc_ddl_draft")})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["conn_id"] == "crm_pg" and out["table"] == "t_svc_ddl_prev" and out["table_exists"] is False
    assert any("CREATE TABLE" in s.upper() for s in out["statements"])
    assert draft.status_code == 200 and draft.json()["table"] == "t_svc_ddl_draft", draft.text
    r = alice.post("/services/svc_ddl_prev/ddl")
    assert r.status_code == 200, r.text
    assert [c["name"] for c in r.json()["columns"]][:1] == ["user_id"]
    assert bob.get("/services/svc_ddl_prev/ddl").json()["table_exists"] is True


def test_a_greenplum_flavoured_connection_is_read_and_written_through_the_api(alice, api_server, pg_dbs,
                                                                             service_body):
    """``extra.flavor`` is ours: introspection and one-click create open the connection the family's
    way, so the flavour never reaches libpq (which refuses an unknown option). The server is
    PostgreSQL; the flavour is what is under test."""

    from tests.live import pg_connect

    with pg_connect(pg_dbs["target"]) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS gp")
        conn.execute("CREATE TABLE IF NOT EXISTS gp.gp_existing (user_id bigint PRIMARY KEY, gender text)")

    listed = {c["conn_id"]: c for c in alice.get("/connections").json()}
    assert listed["crm_gp"]["kind"] == "greenplum" and listed["crm_gp"]["has_schemas"] is True
    r = alice.get("/connections/crm_gp/schemas")
    assert r.status_code == 200 and r.json()["items"] == ["gp"], r.text  # the granted schema only
    r = alice.get("/connections/crm_gp/tables", params={"schema": "gp"})
    assert r.status_code == 200 and "gp_existing" in r.json()["items"], r.text
    cols = alice.get("/connections/crm_gp/tables/gp_existing/columns", params={"schema": "gp"}).json()["items"]
    assert [(c["name"], c["primary_key"]) for c in cols] == [("user_id", True), ("gender", False)]

    draft = service_body("svc_gp_ddl", conn_id="crm_gp")
    draft["target"].update({"schema": "gp", "table": "gp_made_by_api"})
    r = alice.post("/helpers/ddl/preview", json={"service": draft})
    assert r.status_code == 200 and r.json()["kind"] == "greenplum" and r.json()["table_exists"] is False, r.text
    r = alice.post("/helpers/ddl/execute", json={"service": draft})
    assert r.status_code == 200, r.text
    assert [c["name"] for c in r.json()["columns"]] == ["user_id", "gender", "gender_codename", "gmv_30d"]
    with pg_connect(pg_dbs["target"]) as conn:
        assert conn.execute("SELECT to_regclass('gp.gp_made_by_api') IS NOT NULL").fetchone() == (True,)


def test_target_kinds_come_from_the_registry_of_families(alice):
    from airflow_provider_tagoffline.dialects import TARGET_KINDS

    r = alice.get("/kinds")
    assert r.status_code == 200, r.text
    kinds = {k["kind"]: k for k in r.json()}
    assert tuple(kinds) == TARGET_KINDS
    assert kinds["adb_pg"] == {"kind": "adb_pg", "family": "postgres", "title": "AnalyticDB for PostgreSQL",
                               "has_schemas": True, "supports_partitions": False, "default_schema": "public"}
    assert kinds["mysql"]["has_schemas"] is False and kinds["mysql"]["default_schema"] is None
    assert kinds["oracle"]["has_schemas"] is True and kinds["oracle"]["default_schema"] is None  # the login's
    assert kinds["warehouse"] == {"kind": "warehouse", "family": "duckdb", "title": "warehouse", "has_schemas": True,
                                  "supports_partitions": True, "default_schema": "main"}

    r = alice.get("/services", params={"target_kind": "db2"})
    allowed = ", ".join(repr(k) for k in TARGET_KINDS[:-1]) + f" or {TARGET_KINDS[-1]!r}"
    assert r.status_code == 422 and r.json()["detail"] == [{"field": "target_kind", "message": f"must be {allowed}"}]
