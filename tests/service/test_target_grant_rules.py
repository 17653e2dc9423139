"""Target grants and claims (docs/target-grants.md): an application writes only the connections and
schemas granted to it, and only tables no older service targets; the checks run at save and at
publish, and connection access follows the same grants."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from service_data import ADMIN, base_service
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.apply import apply_catalog, export_catalog
from airflow_provider_tagoffline.catalog.repository import Actor
from airflow_provider_tagoffline.errors import InUse, NotFound, PermissionDenied, ValidationFailed
from airflow_provider_tagoffline.service import catalog_admin, lifecycle, permissions, publishing
from airflow_provider_tagoffline.service.permissions import EVERY_SCHEMA, SchemaScope
from airflow_provider_tagoffline.service.validation import validate_service
from airflow_provider_tagoffline.yaml_io import parse_catalog

RITA = Actor("rita")  # admin of the rival application risk
CLAIMED = "is the target of service 'crm_user_tags' (application crm); a table belongs to one service"


def problems(session: Session, data: dict[str, Any], **kw: Any) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as err:
        validate_service(session, data, **kw)
    return {e.field: e.message for e in err.value.errors}


def grant(session: Session, application: str, conn_id: str, schemas: list[str] | None = None) -> None:
    apply_catalog(session, ADMIN, parse_catalog({"target_grants": [{"application": application, "conn_id": conn_id,
                                                                    "schemas": schemas}]}))


def rival(target: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A service of risk, whose tags are granted: only its target can be wrong."""
    return base_service(name="rival", application="risk", owner="rita", target=target, **changes)


@pytest.fixture
def risk_tags(session: Session) -> None:
    apply_catalog(session, ADMIN, parse_catalog({"grants": [{"application": "risk", "entity": "user",
                                                             "tags": ["gender", "gmv_30d"]}]}))


# ---- grants ----------------------------------------------------------------------------------

def test_a_connection_not_granted_to_the_application_is_refused(session: Session, risk_tags: None) -> None:
    p = problems(session, rival({"conn_id": "crm_pg", "table": "t"}))
    assert p == {"target.conn_id": "connection 'crm_pg' is not granted to application 'risk': a catalog admin "
                                   "grants connections to applications (target grants)"}
    grant(session, "risk", "crm_pg", ["public"])
    validate_service(session, rival({"conn_id": "crm_pg", "table": "t"}))


def test_the_schema_must_be_inside_the_grant(session: Session) -> None:
    p = problems(session, base_service(target={"conn_id": "crm_pg", "schema": "finance", "table": "t"}))
    assert p == {"target.schema": "schema 'finance' is not granted to application 'crm' on connection 'crm_pg' "
                                  "(granted: schemas crm, public)"}
    validate_service(session, base_service(target={"conn_id": "crm_pg", "table": "t"}))  # unset: public
    grant(session, "crm", "crm_pg", ["crm"])
    assert problems(session, base_service(target={"conn_id": "crm_pg", "table": "t"}))["target.schema"] == \
        "schema 'public' is not granted to application 'crm' on connection 'crm_pg' (granted: schemas crm)"
    # PostgreSQL keeps the case of a quoted schema name
    assert "target.schema" in problems(session, base_service(target={"conn_id": "crm_pg", "schema": "CRM",
                                                                     "table": "t"}))


def test_oracle_schema_defaults_to_the_login_upper_cased(session: Session) -> None:
    grant(session, "crm", "crm_ora", ["CRM"])
    validate_service(session, base_service(target={"conn_id": "crm_ora", "table": "t"}))  # login crm
    assert problems(session, base_service(target={"conn_id": "crm_ora", "schema": "crm", "table": "t"}))[
        "target.schema"] == "schema 'crm' is not granted to application 'crm' on connection 'crm_ora' " \
                            "(granted: schemas CRM)"


def test_kinds_without_schemas_ignore_the_grants_schemas(session: Session) -> None:
    grant(session, "crm", "crm_mysql", ["anything"])
    validate_service(session, base_service(target={"conn_id": "crm_mysql", "table": "t"}))


def test_the_warehouse_target_needs_a_grant_like_any_other(session: Session) -> None:
    data = base_service(target={"conn_id": "tag_warehouse", "table": "crm_out"})
    assert problems(session, data)["target.conn_id"].startswith(
        "connection 'tag_warehouse' is not granted to application 'crm'")
    grant(session, "crm", "tag_warehouse", ["main"])
    assert validate_service(session, data).target_kind == "warehouse"  # unset schema: DuckDB's main
    assert problems(session, base_service(target={"conn_id": "tag_warehouse", "schema": "dws", "table": "x"}))[
        "target.schema"].startswith("schema 'dws' is not granted to application 'crm' on connection 'tag_warehouse'")


# ---- claims ----------------------------------------------------------------------------------

def test_a_table_belongs_to_the_service_that_claims_it(session: Session, risk_tags: None) -> None:
    lifecycle.create_service(session, ADMIN, base_service())  # crm_pg, crm.user_tags
    grant(session, "risk", "crm_pg")
    p = problems(session, rival({"conn_id": "crm_pg", "schema": "crm", "table": "user_tags"}))
    assert p == {"target.table": f"table 'crm.user_tags' on connection 'crm_pg' {CLAIMED}"}
    # a service of the same application is refused too; the owner itself saves as before
    assert problems(session, base_service(name="second"))["target.table"] == \
        f"table 'crm.user_tags' on connection 'crm_pg' {CLAIMED}"
    lifecycle.update_service(session, ADMIN, "crm_user_tags", base_service(description="still mine"))
    # another table of the same schema is free
    validate_service(session, rival({"conn_id": "crm_pg", "schema": "crm", "table": "risk_tags"}))


def test_an_unset_schema_is_its_default_when_comparing(session: Session, risk_tags: None) -> None:
    lifecycle.create_service(session, ADMIN, base_service(target={"conn_id": "crm_pg", "table": "user_tags"}))
    grant(session, "risk", "crm_pg")
    assert problems(session, rival({"conn_id": "crm_pg", "schema": "public", "table": "user_tags"}))[
        "target.table"] == f"table 'public.user_tags' on connection 'crm_pg' {CLAIMED}"


def test_a_second_connection_id_of_the_same_database(session: Session, risk_tags: None) -> None:
    lifecycle.create_service(session, ADMIN, base_service())
    grant(session, "risk", "crm_pg_alias")
    grant(session, "risk", "crm_pg_6432")
    p = problems(session, rival({"conn_id": "crm_pg_alias", "schema": "crm", "table": "user_tags"}))
    assert p == {"target.table": "table 'crm.user_tags' on connection 'crm_pg_alias' (the database of connection "
                                 f"'crm_pg') {CLAIMED}"}
    # another port is another server
    validate_service(session, rival({"conn_id": "crm_pg_6432", "schema": "crm", "table": "user_tags"}))


def test_the_same_sqlite_file_under_another_spelling(session: Session) -> None:
    lifecycle.create_service(session, ADMIN, base_service(target={"conn_id": "crm_lite", "table": "user_tags"}))
    grant(session, "crm", "crm_lite_alias")
    assert problems(session, base_service(name="other", target={"conn_id": "crm_lite_alias", "table": "USER_TAGS"}))[
        "target.table"] == f"table 'USER_TAGS' on connection 'crm_lite_alias' (the database of connection " \
                           f"'crm_lite') {CLAIMED}"


def test_table_names_compare_as_the_family_does(session: Session) -> None:
    lifecycle.create_service(session, ADMIN, base_service())
    lifecycle.create_service(session, ADMIN, base_service(name="on_mysql", target={"conn_id": "crm_mysql",
                                                                                  "table": "user_tags"}))
    # PostgreSQL: the engine quotes, so "User_Tags" is another table
    validate_service(session, base_service(name="pg_case", target={"conn_id": "crm_pg", "schema": "crm",
                                                                          "table": "User_Tags"}))
    # MySQL/MariaDB compare table names case-insensitively
    assert problems(session, base_service(name="my_case", target={"conn_id": "crm_mysql", "table": "User_Tags"}))[
        "target.table"] == "table 'User_Tags' on connection 'crm_mysql' is the target of service 'on_mysql' " \
                           "(application crm); a table belongs to one service"


def _share_target(session: Session, younger: str, older: str) -> None:
    """What a catalog from before claims may hold: two services on one table."""
    svc = lifecycle.get_service(session, younger)
    theirs = lifecycle.get_service(session, older)
    svc.target_table = theirs.target_table
    svc.definition = {**svc.definition, "target": dict(theirs.definition["target"])}
    session.flush()


def test_the_oldest_of_services_sharing_a_table_owns_it(session: Session, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__DAGS_FOLDER", str(tmp_path / "dags"))
    lifecycle.create_service(session, ADMIN, base_service())
    lifecycle.create_service(session, ADMIN, base_service(name="younger", target={"conn_id": "crm_pg",
                                                                                 "table": "elsewhere"}))
    _share_target(session, "younger", "crm_user_tags")
    with pytest.raises(ValidationFailed, match=re.escape(f"target.table: table 'crm.user_tags' on connection "
                                                         f"'crm_pg' {CLAIMED}")):
        lifecycle.update_service(session, ADMIN, "younger", {**lifecycle.get_service(session, "younger").definition,
                                                             "description": "edited"})
    with pytest.raises(ValidationFailed, match="is the target of service 'crm_user_tags'"):
        publishing.publish(session, ADMIN, "younger")
    assert not (tmp_path / "dags").exists() or not any((tmp_path / "dags").iterdir()), "nothing written"
    # the owner saves and freezes as before
    lifecycle.update_service(session, ADMIN, "crm_user_tags", base_service(description="edited"))
    lifecycle.freeze_service(session, "crm_user_tags")


# ---- the grants themselves -------------------------------------------------------------------

def test_deleting_a_grant_in_use_is_refused_naming_the_services(session: Session) -> None:
    lifecycle.create_service(session, ADMIN, base_service(target={"conn_id": "crm_lite", "table": "a"}))
    lifecycle.create_service(session, ADMIN, base_service(name="b_svc", target={"conn_id": "crm_lite", "table": "b"}))
    with pytest.raises(InUse) as err:
        repo.delete_target_grant(session, ADMIN, "crm", "crm_lite")
    assert str(err.value) == ("connection 'crm_lite' is still the target of services of application 'crm': "
                              "b_svc, crm_user_tags")
    with pytest.raises(PermissionDenied, match="^only Airflow admins may delete target grants$"):
        catalog_admin.delete_target_grant(session, Actor("alice"), "crm", "crm_mysql")
    repo.delete_target_grant(session, ADMIN, "crm", "crm_mysql")
    with pytest.raises(NotFound, match="target grant 'crm:crm_mysql' does not exist"):
        repo.delete_target_grant(session, ADMIN, "crm", "crm_mysql")
    assert [g.conn_id for g in repo.list_target_grants(session, "crm")] == ["crm_adb", "crm_lite", "crm_ora",
                                                                            "crm_pg"]


def test_apply_plans_target_grants_and_export_round_trips(session: Session) -> None:
    catalog = parse_catalog({"target_grants": [{"application": "risk", "conn_id": "crm_pg", "schemas": ["b", "a"]}]})
    dry = apply_catalog(session, ADMIN, catalog, dry_run=True)
    assert [(i.kind, i.key, i.action) for i in dry.items] == [("target_grant", "risk:crm_pg", "create")]
    assert repo.list_target_grants(session, "risk") == []
    apply_catalog(session, ADMIN, catalog)
    (g,) = repo.list_target_grants(session, "risk")
    assert (g.schemas, g.granted_by) == (["a", "b"], "admin")
    assert apply_catalog(session, ADMIN, catalog).summary() == {"create": 0, "update": 0, "unchanged": 1}
    wider = parse_catalog({"target_grants": [{"application": "risk", "conn_id": "crm_pg"}]})
    assert [(i.action, i.changes) for i in apply_catalog(session, ADMIN, wider).items] == [("update", ["schemas"])]
    exported = export_catalog(session)
    assert {(t.application, t.conn_id, tuple(t.schemas or ())) for t in exported.target_grants} >= {
        ("risk", "crm_pg", ()), ("crm", "crm_pg", ("crm", "public"))}
    assert apply_catalog(session, ADMIN, exported).changed is False
    # "every schema" is written by leaving schemas out, as a person writes it
    assert exported.model_dump(exclude_none=True)["target_grants"][-1] == {"application": "risk", "conn_id": "crm_pg"}


def test_apply_checks_target_grants_before_writing(session: Session) -> None:
    bad = {"target_grants": [{"application": "nope", "conn_id": "x"},
                             {"application": "crm", "conn_id": "crm_pg"}, {"application": "crm", "conn_id": "crm_pg"}]}
    with pytest.raises(ValidationFailed) as err:
        apply_catalog(session, ADMIN, parse_catalog(bad))
    assert {(e.field, e.message) for e in err.value.errors} == {
        ("target_grants[0].application", "application 'nope' does not exist"),
        ("target_grants[2]", "connection 'crm_pg' is granted to application 'crm' twice")}
    with pytest.raises(ValidationFailed) as err:
        parse_catalog({"target_grants": [{"application": "crm", "conn_id": "a/b", "schemas": []}]})
    assert {e.field: e.message for e in err.value.errors} == {
        "target_grants[0].conn_id": "must be an Airflow connection id: no control characters and no '/'",
        "target_grants[0].schemas": "give at least one schema, or leave schemas out to grant every schema"}
    with pytest.raises(PermissionDenied, match="only Airflow admins may apply the catalog"):
        catalog_admin.apply_catalog(session, Actor("alice"), parse_catalog({"target_grants": [{"application": "crm",
                                                                                 "conn_id": "x"}]}))


def test_deleting_an_application_takes_its_target_grants(session: Session) -> None:
    apply_catalog(session, ADMIN, parse_catalog({"applications": [{"code": "tmp", "name": "Tmp"}],
                                                 "target_grants": [{"application": "tmp", "conn_id": "crm_pg"}]}))
    repo.delete_application(session, ADMIN, "tmp")
    assert repo.list_target_grants(session, conn_id="crm_pg")[0].application.code == "crm"
    assert len(repo.list_target_grants(session, conn_id="crm_pg")) == 1


# ---- who may look inside connections -----------------------------------------------------------

def test_connection_access_follows_the_grants_of_the_callers_applications(session: Session) -> None:
    bob, stranger = Actor("bob"), Actor("carol")
    assert permissions.connection_scope(session, ADMIN, "anything") == EVERY_SCHEMA
    assert permissions.connection_scope(session, bob, "crm_pg") == SchemaScope(("crm", "public"))
    assert permissions.connection_scope(session, bob, "crm_mysql") == EVERY_SCHEMA
    assert permissions.connection_scope(session, RITA, "crm_pg") is None
    with pytest.raises(PermissionDenied) as err:
        permissions.require_connection_access(session, stranger, "crm_pg", "look inside connections")
    assert str(err.value) == ("user 'carol' may not look inside connections: only Airflow admins and admins or "
                              "members of an application granted connection 'crm_pg' may")
    grant(session, "risk", "crm_pg", ["risk"])
    apply_catalog(session, ADMIN, parse_catalog({"applications": [
        {"code": "risk", "name": "Risk", "admins": ["rita"], "members": ["bob"]}]}))
    assert permissions.connection_scope(session, bob, "crm_pg") == SchemaScope(("crm", "public", "risk"))

    assert permissions.visible_connections(session, ADMIN) is None
    assert set(permissions.visible_connections(session, bob) or {}) == {"crm_pg", "crm_mysql", "crm_ora", "crm_adb",
                                                                        "crm_lite"}
    assert permissions.visible_connections(session, RITA) == {"crm_pg": SchemaScope(("risk",))}
    assert permissions.visible_connections(session, RITA, "crm") == {}, "not rita's application"
    assert permissions.visible_connections(session, stranger) == {}
    assert set(permissions.visible_connections(session, ADMIN, "risk") or {}) == {"crm_pg"}
