"""The catalog store on SQLite, PostgreSQL and MariaDB, live: migrations up and down (with the
models matching the migrated schema), catalog apply twice, export round trip, guarded deletes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog import store
from airflow_provider_tagoffline.catalog.apply import apply_catalog, export_catalog
from airflow_provider_tagoffline.catalog.models import Base
from airflow_provider_tagoffline.errors import InUse, TagOfflineError
from airflow_provider_tagoffline.service import attention, catalog_admin
from airflow_provider_tagoffline.yaml_io import load_yaml_text, parse_catalog

EXAMPLE = Path(str(resources.files("airflow_provider_tagoffline") / "examples" / "catalog.yaml"))
ADMIN = repo.Actor.system("admin")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mysql", marks=pytest.mark.mysql)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
    elif request.param == "postgres":
        yield request.getfixturevalue("pg_url")
    else:
        yield request.getfixturevalue("mysql_url")


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return {t for t in sa.inspect(engine).get_table_names() if t.startswith("tagoffline_")}
    finally:
        engine.dispose()


def test_migrations_up_and_down(url: str) -> None:
    store.downgrade(url)  # a module-scoped database may hold an earlier test's schema
    assert not store.is_migrated(url)
    store.migrate(url)
    assert store.current_revision(url) == store.head_revision() and store.is_migrated(url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    # Alembic's own bookkeeping table is not a model.
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == "tagoffline_alembic_version")]
    assert diff == [], f"models and migrations differ: {diff}"
    assert "tagoffline_service" in tables(url) and "tagoffline_audit_log" in tables(url)
    store.downgrade(url)
    assert tables(url) == {"tagoffline_alembic_version"} or tables(url) == set()
    store.migrate(url)  # and up again
    assert store.is_migrated(url)


def test_catalog_apply_twice_then_change_one_thing(url: str) -> None:
    store.downgrade(url)
    store.migrate(url)
    catalog = parse_catalog(load_yaml_text(EXAMPLE.read_text()))
    with store.session_scope(url) as s:
        dry = apply_catalog(s, ADMIN, catalog, dry_run=True)
        assert dry.summary()["create"] > 0
    with store.session_scope(url) as s:
        assert repo.list_entities(s) == []  # the dry run wrote nothing
        first = apply_catalog(s, ADMIN, catalog)
    with store.session_scope(url) as s:
        second = apply_catalog(s, ADMIN, catalog)
    assert first.summary()["create"] == dry.summary()["create"]
    assert second.summary() == {"create": 0, "update": 0, "unchanged": first.summary()["create"]}

    changed = load_yaml_text(EXAMPLE.read_text())
    changed["entities"][0]["tags"][0]["name"] = "性别"
    with store.session_scope(url) as s:
        third = apply_catalog(s, ADMIN, parse_catalog(changed))
    assert third.summary()["update"] == 1
    assert [(i.action, i.kind) for i in third.items if i.action == "update"] == [("update", "tag")]

    with store.session_scope(url) as s:  # export round-trips: applying it changes nothing
        exported = export_catalog(s)
    with store.session_scope(url) as s:
        assert apply_catalog(s, ADMIN, exported).summary()["create"] == 0
        assert apply_catalog(s, ADMIN, exported).summary()["update"] == 0


def test_reference_errors_name_the_object(url: str) -> None:
    store.downgrade(url)
    store.migrate(url)
    bad = load_yaml_text(EXAMPLE.read_text())
    bad["entities"][0]["tags"][0]["lookup"] = "no_such_lookup"
    bad["grants"][0]["tags"] = ["gender", "no_such_tag"]
    with store.session_scope(url) as s, pytest.raises(TagOfflineError) as err:
        apply_catalog(s, ADMIN, parse_catalog(bad))
    assert "no_such_lookup" in str(err.value) and "no_such_tag" in str(err.value)
    with store.session_scope(url) as s:
        assert repo.list_entities(s) == []  # nothing written


def test_guarded_deletes_grants_and_audit(url: str) -> None:
    store.downgrade(url)
    store.migrate(url)
    with store.session_scope(url) as s:
        apply_catalog(s, ADMIN, parse_catalog(load_yaml_text(EXAMPLE.read_text())))
    with store.session_scope(url) as s:
        with pytest.raises(InUse, match=r"lookup 'gender_codes' is used by tags: user.gender"):
            repo.delete_lookup(s, ADMIN, "gender_codes")
        with pytest.raises(InUse, match=r"entity ID user.user_id still keys tags: gender, gmv_30d"):
            repo.delete_entity_id(s, ADMIN, "user", "user_id")
        # grants: request, reject, request again, approve, revoke; expiry checked by date
        bob = repo.Actor("bob")
        app = repo.get_application(s, "crm")
        tag = repo.get_tag(s, "user", "gmv_30d")
        assert attention.effective_grant(s, app, tag, dt.date(2027, 12, 31)) == (True, "")
        assert attention.effective_grant(s, app, tag, dt.date(2028, 1, 1)) == \
            (False, "grant to application 'crm' expired on 2027-12-31")
        catalog_admin.decide_grant(s, ADMIN, "crm", "user", "gmv_30d", "revoke")
        assert attention.effective_grant(s, app, tag)[1] == "grant to application 'crm' is revoked, not approved"
        catalog_admin.request_grant(s, bob, "crm", "user", "gmv_30d", reason="CRM needs it")
        with pytest.raises(TagOfflineError, match="only .*admin"):
            catalog_admin.decide_grant(s, bob, "crm", "user", "gmv_30d", "approve")
        catalog_admin.decide_grant(s, ADMIN, "crm", "user", "gmv_30d", "approve")
        assert attention.effective_grant(s, app, tag)[0]
    with store.session_scope(url) as s:
        from airflow_provider_tagoffline.catalog.models import AuditLog

        log = s.scalars(sa.select(AuditLog).order_by(AuditLog.id.desc()).limit(3)).all()
        assert [(e.actor, e.action) for e in log] == [("admin", "approve"), ("bob", "request"), ("admin", "revoke")]


def _service(app: object, name: str, conn_id: str, table: str) -> object:
    from airflow_provider_tagoffline.catalog.models import Service

    target = {"conn_id": conn_id, "table": table, "load": "overwrite"}
    return Service(name=name, slug=name, application=app, owner="alice", entity_code="user", entity_id_code="user_id",
                   schedule_type="manual", target_conn_id=conn_id, target_kind="postgres", target_table=table,
                   definition={"name": name, "target": target}, created_by="alice", updated_by="alice")


def test_migration_0003_grants_each_application_what_its_services_target(url: str) -> None:
    """Upgrading a populated store from 0002: nothing that worked before breaks (docs/target-grants.md)."""
    from airflow_provider_tagoffline.catalog.models import AuditLog, Service, TargetGrant

    store.downgrade(url)
    store.migrate(url, "0002")
    catalog = load_yaml_text(EXAMPLE.read_text())
    catalog.pop("target_grants")  # revision 0002 has none
    catalog["applications"].append({"code": "risk", "name": "Risk", "admins": ["rita"]})
    with store.session_scope(url) as s:
        apply_catalog(s, ADMIN, parse_catalog(catalog))
        crm, risk = repo.get_application(s, "crm"), repo.get_application(s, "risk")
        s.add_all([_service(crm, "crm_a", "crm_mysql", "user_tags"), _service(crm, "crm_b", "crm_mysql", "b_tags"),
                   _service(crm, "crm_c", "crm_pg", "c_tags"), _service(risk, "risk_a", "crm_pg", "c_tags")])

    store.migrate(url, "0003")
    assert store.current_revision(url) == "0003"
    with store.session_scope(url) as s:
        grants = {(g.application.code, g.conn_id, g.schemas, g.granted_by) for g in s.scalars(sa.select(TargetGrant))}
        assert grants == {("crm", "crm_mysql", None, "tagoffline db migrate (0003)"),
                          ("crm", "crm_pg", None, "tagoffline db migrate (0003)"),
                          ("risk", "crm_pg", None, "tagoffline db migrate (0003)")}
        audit = s.scalars(sa.select(AuditLog).where(AuditLog.object_type == "target_grant")
                          .order_by(AuditLog.object_key)).all()
        assert [(a.action, a.object_key) for a in audit] == [("create", "crm:crm_mysql"), ("create", "crm:crm_pg"),
                                                             ("create", "risk:crm_pg")]
        # the grants guard like any other: crm's services keep crm_pg's grant in place
        with pytest.raises(InUse, match="crm_c"):
            repo.delete_target_grant(s, ADMIN, "crm", "crm_pg")

    store.downgrade(url, "0002")
    assert "tagoffline_target_grant" not in tables(url)
    with store.session_scope(url) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Service)) == 4
    store.migrate(url)  # and up again
    with store.session_scope(url) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(TargetGrant)) == 3


def test_migration_0004_claims_each_place_for_its_oldest_service(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Upgrading a populated 0003 store: claims become rows, the oldest service on a place keeps it (as the
    rule said until now), a younger sharer is left without one; notification connections get grants."""
    from airflow_provider_tagoffline.catalog.models import AuditLog, Service, TargetClaim, TargetGrant

    for conn_id, conn in {"crm_pg": {"conn_type": "postgres", "host": "db", "schema": "crm"},
                          "crm_pg_alias": {"conn_type": "postgres", "host": "DB", "port": 5432, "schema": "crm"},
                          "crm_mysql": {"conn_type": "mysql", "host": "db", "schema": "crm"}}.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    store.downgrade(url)
    store.migrate(url, "0003")
    catalog = load_yaml_text(EXAMPLE.read_text())
    catalog["applications"].append({"code": "risk", "name": "Risk", "admins": ["rita"]})
    with store.session_scope(url) as s:
        apply_catalog(s, ADMIN, parse_catalog(catalog))
        crm, risk = repo.get_application(s, "crm"), repo.get_application(s, "risk")
        # oldest first: crm_a holds public.c_tags; risk_a reaches the same place through an alias, and
        # crm_b shares crm_a's MySQL table spelled in another case (MySQL compares names ignoring it)
        notified = _service(crm, "crm_a", "crm_pg", "c_tags")
        notified.definition = {**notified.definition, "notify": {"conn_id": "crm_smtp", "to": ["a@b.co"]}}
        s.add(notified)
        s.flush()
        s.add_all([_service(risk, "risk_a", "crm_pg_alias", "c_tags"), _service(crm, "crm_m", "crm_mysql", "m_tags"),
                   _service(crm, "crm_b", "crm_mysql", "M_TAGS"), _service(crm, "crm_gone", "no_such_conn", "x")])

    store.migrate(url)
    assert store.current_revision(url) == "0004"
    with store.session_scope(url) as s:
        claims = {c.service.name: (c.conn_id, c.schema_name, c.table_name) for c in s.scalars(sa.select(TargetClaim))}
        assert claims == {"crm_a": ("crm_pg", "public", "c_tags"), "crm_m": ("crm_mysql", None, "m_tags")}
        grants = {(g.application.code, g.conn_id, g.granted_by) for g in s.scalars(sa.select(TargetGrant))}
        assert ("crm", "crm_smtp", "tagoffline db migrate (0004)") in grants
        assert s.scalar(sa.select(AuditLog.detail).where(AuditLog.object_key == "crm:crm_smtp"))["reason"].startswith(
            "its services notified through the connection")
        # deleting the holder frees its place with it
        s.delete(s.scalar(sa.select(Service).where(Service.name == "crm_m")))
    with store.session_scope(url) as s:
        assert {c.service.name for c in s.scalars(sa.select(TargetClaim))} == {"crm_a"}
    store.downgrade(url, "0003")
    assert "tagoffline_target_claim" not in tables(url)
    store.migrate(url)


@pytest.mark.parametrize("bad", [".nan", ".inf", "-.inf"])
def test_a_service_with_nan_or_infinity_never_reaches_the_store(url: str, bad: str) -> None:
    """YAML `.nan` / `.inf` in a gate: one field-named error on every store, and nothing written (PostgreSQL's
    JSON column used to answer with a driver error, SQLite stored a definition whose DAG could not import)."""
    from airflow_provider_tagoffline.catalog.models import Service
    from airflow_provider_tagoffline.errors import ValidationFailed
    from airflow_provider_tagoffline.service import lifecycle

    store.downgrade(url)
    store.migrate(url)
    ctx = lifecycle.ServiceContext(resolve_target_kind=lambda _conn_id: "postgres", default_timezone="UTC")
    service_text = (EXAMPLE.parent / "service.yaml").read_text()
    with store.session_scope(url) as s:
        apply_catalog(s, ADMIN, parse_catalog(load_yaml_text(EXAMPLE.read_text())))
        lifecycle.create_service(s, ADMIN, load_yaml_text(service_text), ctx)  # the valid one is stored
    broken = service_text.replace("max_change_ratio: 0.5}",
                                  f"max_change_ratio: {bad}, max_null_ratio: {{gender: {bad}}}}}")
    assert broken != service_text
    for name in ("crm_user_tags", "another_service"):  # an update and a create
        data = load_yaml_text(broken.replace("name: crm_user_tags", f"name: {name}"))
        with store.session_scope(url) as s, pytest.raises(ValidationFailed) as err:
            if name == "crm_user_tags":
                lifecycle.update_service(s, ADMIN, name, data, ctx=ctx, expected_version=1)
            else:
                lifecycle.create_service(s, ADMIN, data, ctx)
        assert str(err.value) == ("gates.max_change_ratio: must be a finite number; "
                                  "gates.max_null_ratio.gender: must be a finite number")
    with store.session_scope(url) as s:
        stored = s.scalars(sa.select(Service)).all()
        assert [(svc.name, svc.version, svc.definition["gates"]) for svc in stored] == \
            [("crm_user_tags", 1, {"allow_empty": False, "min_rows": 1, "max_change_ratio": 0.5, "max_null_ratio": {}})]


def test_deleting_a_used_lookup_names_its_tags_sorted_on_every_store(url: str) -> None:
    """The refusal lists the tags using a lookup by entity and tag code, whatever order the store returns
    them in (they are created here in reverse), so the message is the same on every store and every run;
    an unused lookup goes with its values and an audit entry."""
    from airflow_provider_tagoffline.catalog.models import AuditLog, LookupValue

    store.downgrade(url)
    store.migrate(url)
    catalog = load_yaml_text(EXAMPLE.read_text())
    source = {"table": "dws_x", "key": "user_id", "column": "x"}
    for entity, codes in (("user", ["z9", "m5", "c3"]), ("account", ["y8", "b2"])):
        tags = [{"code": c, "name": c, "type": "string", "id": "user_id", "lookup": "gender_codes", "source": source}
                for c in codes]
        if entity == "user":
            catalog["entities"][0]["tags"] = tags + catalog["entities"][0]["tags"]
        else:
            catalog["entities"].insert(0, {"code": entity, "name": entity, "tags": tags,
                                           "ids": [{"code": "user_id", "name": "User ID", "type": "bigint"}]})
    with store.session_scope(url) as s:
        apply_catalog(s, ADMIN, parse_catalog(catalog))
    with store.session_scope(url) as s, pytest.raises(InUse) as err:
        repo.delete_lookup(s, ADMIN, "gender_codes")
    assert str(err.value) == ("lookup 'gender_codes' is used by tags: account.b2, account.y8, user.c3, user.gender, "
                              "user.m5 and 1 more")
    with store.session_scope(url) as s:
        repo.delete_lookup(s, ADMIN, "level_codes")
    with store.session_scope(url) as s:
        assert repo.find_lookup(s, "level_codes") is None
        assert {v.lookup_id for v in s.scalars(sa.select(LookupValue))} == {repo.get_lookup(s, "gender_codes").id}
        last = s.scalars(sa.select(AuditLog).order_by(AuditLog.id.desc()).limit(1)).one()
        assert (last.actor, last.action, last.object_type, last.object_key) == ("admin", "delete", "lookup",
                                                                                "level_codes")
