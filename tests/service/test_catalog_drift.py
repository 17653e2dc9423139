"""Catalog drift (spec §3 "needs attention"): each change of the catalog under a published service
makes exactly the services using it need attention, with the reason; run and backfill refuse with it,
publish refuses while the draft still maps a tag that is gone or no longer granted, and republishing
after the fix clears it. Real SQLite catalog store; "published" is what publish + Airflow's parse
leave behind (the run spec frozen into ``live_spec``), set here without an Airflow."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from service_data import ADMIN, CATALOG, base_service
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog.apply import apply_catalog
from airflow_provider_tagoffline.catalog.repository import Actor
from airflow_provider_tagoffline.errors import Conflict
from airflow_provider_tagoffline.runspec import RunSpec
from airflow_provider_tagoffline.service import attention, lifecycle, permissions, publishing
from airflow_provider_tagoffline.service.catalog_admin import decide_grant, delete_tag, request_grant
from airflow_provider_tagoffline.yaml_io import parse_catalog

ALICE = Actor("alice")
MANUAL = {"type": "manual", "timezone": "Asia/Shanghai"}


def published(session: Session, name: str = "crm_user_tags", **changes: Any) -> None:
    """Create (or update) and 'publish' a service: the draft frozen against today's catalog, live."""
    svc = session.scalar(lifecycle.select(lifecycle.Service).where(lifecycle.Service.name == name))
    if svc is None:
        svc = lifecycle.create_service(session, ADMIN, base_service(name=name, **changes))
    elif changes:
        svc = lifecycle.update_service(session, ADMIN, name, {**lifecycle.service_definition(svc).model_dump(
            mode="json", by_alias=True), **changes})
    spec = lifecycle.freeze_service(session, name)
    svc.published_version, svc.published_spec = svc.version, spec.to_dict()
    svc.live_spec, svc.status, svc.ever_published = spec.to_dict(), "published", True
    session.flush()


def changed_catalog(edit: Any) -> Any:
    """CATALOG with ``edit(catalog)`` applied to a copy."""
    data = copy.deepcopy(CATALOG)
    edit(data)
    return parse_catalog(data)


def tag_def(data: dict, code: str) -> dict:
    return next(t for t in data["entities"][0]["tags"] if t["code"] == code)


def reasons(session: Session, name: str = "crm_user_tags", now: dt.datetime | None = None) -> list[str]:
    session.expire_all()
    return attention.of(lifecycle.get_service(session, name), session, now).reasons()


def run_refused(session: Session, name: str = "crm_user_tags") -> str:
    with pytest.raises(Conflict) as exc:
        publishing.run(session, ADMIN, name, dt.date(2026, 1, 2))
    return str(exc.value)


@pytest.fixture
def two(session: Session) -> Session:
    """crm_user_tags maps gender (with its code name) and gmv_30d; crm_city maps only gmv_30d."""
    published(session, schedule=MANUAL)
    published(session, "crm_gmv", schedule=MANUAL, target={
        "conn_id": "crm_pg", "schema": "crm", "table": "user_gmv", "load": "overwrite"},
        mappings=[{"tag": "gmv_30d", "value": "gmv_30d"}])
    assert reasons(session) == [] and reasons(session, "crm_gmv") == []
    return session


def test_a_retyped_tag_needs_attention_refuses_runs_and_republishing_clears_it(two: Session) -> None:
    apply_catalog(two, ADMIN, changed_catalog(lambda d: tag_def(d, "gender").update(type="bigint")))
    assert reasons(two) == ["tag user.gender was retyped from string to bigint"]
    assert reasons(two, "crm_gmv") == []  # it does not map gender
    summary = lifecycle.service_summary(lifecycle.get_service(two, "crm_user_tags"))
    assert summary["attention"] == "tag user.gender was retyped from string to bigint"
    assert run_refused(two) == ("service 'crm_user_tags' cannot run: it needs attention: tag user.gender was "
                                "retyped from string to bigint; fix the catalog or the service and republish")
    actions = permissions.service_actions(ALICE, lifecycle.get_service(two, "crm_user_tags"))
    assert "run" not in actions.allowed and "retyped" in actions.refusals["run"]
    assert "publish" in actions.allowed  # republishing takes the new type: it is the fix
    published(two)
    assert reasons(two) == []
    assert RunSpec.model_validate(lifecycle.get_service(two, "crm_user_tags").live_spec).tag("gender").type == "bigint"


def test_a_removed_tag_needs_attention_until_the_version_without_it_is_published(two: Session) -> None:
    # The draft drops gmv_30d (the live DAG still exports it); nothing else maps it... but crm_gmv does:
    published(two, "crm_gmv", mappings=[{"tag": "city", "value": "city"}], entity_id="mobile")
    svc = lifecycle.get_service(two, "crm_user_tags")
    lifecycle.update_service(two, ADMIN, "crm_user_tags", base_service(
        schedule=MANUAL, mappings=[{"tag": "gender", "value": "gender", "codename": "gender_name"}]))
    delete_tag(two, ADMIN, "user", "gmv_30d")  # no draft maps it any more: the delete guard lets it go
    assert reasons(two) == ["tag user.gmv_30d was removed from the catalog"]
    assert "tag user.gmv_30d was removed" in run_refused(two)
    assert reasons(two, "crm_gmv") == []
    published(two)  # the draft without the tag
    assert reasons(two) == [] and svc.live_spec is not None


def test_a_changed_lookup_needs_attention_only_where_its_code_names_are_exported(two: Session) -> None:
    def edit(d: dict) -> None:
        d["lookups"][0]["values"] = {"M": "Male", "F": "Female", "X": "Diverse"}
    apply_catalog(two, ADMIN, changed_catalog(edit))
    assert reasons(two) == ["lookup gender_codes of tag user.gender changed (values: 1 added)"]
    assert reasons(two, "crm_gmv") == []
    published(two)
    assert reasons(two) == []
    # a tag pointed at another lookup (or none) is a change of the tag
    apply_catalog(two, ADMIN, changed_catalog(lambda d: tag_def(d, "gender").update(lookup=None)))
    assert reasons(two) == ["the lookup of tag user.gender changed from gender_codes to none"]


def test_a_revoked_grant_needs_attention_and_publish_refuses_while_the_draft_maps_the_tag(two: Session) -> None:
    decide_grant(two, ADMIN, "crm", "user", "gmv_30d", "revoke")
    why = "tag user.gmv_30d: grant to application 'crm' is revoked, not approved"
    assert reasons(two) == [why] and reasons(two, "crm_gmv") == [why]
    with pytest.raises(Conflict) as exc:
        publishing.publish(two, ADMIN, "crm_user_tags")
    assert str(exc.value) == (f"service 'crm_user_tags' cannot be published: it needs attention: {why}; fix the "
                              "catalog or remove the tag from the mappings, then publish")
    refusals = permissions.service_actions(ALICE, lifecycle.get_service(two, "crm_user_tags")).refusals
    assert refusals["publish"] == str(exc.value) and why in refusals["run"]
    # fixed in the catalog: a grant approved again clears both, with no republish needed
    request_grant(two, Actor("bob"), "crm", "user", "gmv_30d")
    decide_grant(two, ADMIN, "crm", "user", "gmv_30d", "approve")
    assert reasons(two) == [] and reasons(two, "crm_gmv") == []


def test_a_grant_expires_on_its_date_without_anything_running(two: Session) -> None:
    def edit(d: dict) -> None:
        d["grants"][0]["tags"].remove("gmv_30d")
        d["grants"].append({"application": "crm", "entity": "user", "tags": ["gmv_30d"], "expires": "2026-12-01"})
    apply_catalog(two, ADMIN, changed_catalog(edit))
    last_day = dt.datetime(2026, 12, 1, 15, 59, tzinfo=dt.UTC)  # 23:59 in Asia/Shanghai, the service's timezone
    assert reasons(two, now=last_day) == []
    found = attention.of(lifecycle.get_service(two, "crm_user_tags"), two, last_day)
    assert (found.expires, found.expiring) == (dt.date(2026, 12, 1), "the grant of tag user.gmv_30d to application "
                                                                     "'crm'")
    next_day = last_day + dt.timedelta(minutes=1)  # 00:00 on 2 December there
    assert reasons(two, now=next_day) == ["tag user.gmv_30d: grant to application 'crm' expired on 2026-12-01"]
    # the export task sees the same from its record, written before the date: no writer needed on the day
    svc = lifecycle.get_service(two, "crm_user_tags")
    record = attention.records(two, [svc], last_day)[attention.record_key(svc.slug)]
    spec = RunSpec.model_validate(svc.live_spec)
    assert attention.run_refusal(record, spec, dt.date(2026, 12, 1)) is None
    assert attention.run_refusal(record, spec, dt.date(2026, 12, 2)) == (
        "service 'crm_user_tags' needs attention: the grant of tag user.gmv_30d to application 'crm' expired on "
        "2026-12-01; the catalog changed since version 1 was published, the target is untouched: fix it and "
        "republish")


@pytest.mark.parametrize(("change", "reason"), [
    ({"table": "dws_trade_v2"}, "the source table of tag user.gmv_30d was renamed from dws_trade to dws_trade_v2"),
    ({"partition": "stat_date"}, "the partition column of tag user.gmv_30d was renamed from dt to stat_date"),
    ({"column": "gmv_30_days"}, "the value column of tag user.gmv_30d was renamed from gmv_30d to gmv_30_days"),
    ({"format": "yyyyMMdd"}, "the partition format of tag user.gmv_30d changed from yyyy-MM-dd to yyyyMMdd"),
])
def test_a_renamed_source_needs_attention_for_every_service_reading_it(two: Session, change: dict,
                                                                         reason: str) -> None:
    apply_catalog(two, ADMIN, changed_catalog(lambda d: tag_def(d, "gmv_30d")["source"].update(change)))
    assert reasons(two) == [reason] and reasons(two, "crm_gmv") == [reason]
    published(two, "crm_gmv")
    assert reasons(two, "crm_gmv") == [] and reasons(two) == [reason]  # each service republishes on its own


def test_a_source_no_longer_partitioned_needs_attention(two: Session) -> None:
    apply_catalog(two, ADMIN, changed_catalog(
        lambda d: tag_def(d, "gmv_30d")["source"].update(partition=None, format=None)))
    assert reasons(two) == ["the partition column of tag user.gmv_30d changed from dt to none",
                            "the partition format of tag user.gmv_30d changed from yyyy-MM-dd to none"]
    assert lifecycle.service_summary(lifecycle.get_service(two, "crm_user_tags"))["attention"] == (
        "the partition column of tag user.gmv_30d changed from dt to none (and 1 more change)")


def test_a_draft_or_an_offline_service_never_needs_attention(session: Session) -> None:
    lifecycle.create_service(session, ADMIN, base_service())
    decide_grant(session, ADMIN, "crm", "user", "gmv_30d", "revoke")
    assert reasons(session) == []  # nothing of it runs: validation says it when it is published


def test_the_record_of_a_publishing_version_keeps_the_live_ones_entry(two: Session) -> None:
    """While a new version is being published, the running one still refuses, the new one runs."""
    apply_catalog(two, ADMIN, changed_catalog(lambda d: tag_def(d, "gender").update(type="bigint")))
    svc = lifecycle.get_service(two, "crm_user_tags")
    old = RunSpec.model_validate(svc.live_spec)
    new = lifecycle.freeze_service(two, "crm_user_tags")
    svc.published_spec, svc.status = new.to_dict(), "publishing"
    record = json.loads(attention.records(two, [svc])[attention.record_key(svc.slug)] or "")
    assert record["versions"][old.fingerprint()]["reasons"] == ["tag user.gender was retyped from string to bigint"]
    assert record["versions"][new.fingerprint()]["reasons"] == []
    assert attention.run_refusal(record, old, dt.date(2026, 1, 2)) is not None
    assert attention.run_refusal(record, new, dt.date(2026, 1, 2)) is None


def test_catalog_apply_dry_run_says_which_services_each_change_affects_and_writes_nothing(two: Session) -> None:
    def edit(d: dict) -> None:
        tag_def(d, "gender")["type"] = "bigint"
        tag_def(d, "gmv_30d")["source"]["table"] = "dws_trade_v2"
        tag_def(d, "city")["name"] = "City name"  # no service maps it
    catalog = changed_catalog(edit)
    two.commit()  # the dry run rolls its session back: it is given one with nothing pending
    plan, affects, clears = attention.catalog_impact(two, lambda: apply_catalog(two, ADMIN, catalog))
    assert {(i.kind, i.key) for i in plan.items if i.action == "update"} == {
        ("tag", "user.gender"), ("tag", "user.gmv_30d"), ("tag", "user.city")}
    assert {k: [(a.service, a.reason) for a in v] for k, v in affects.items()} == {
        ("tag", "user.gender"): [("crm_user_tags", "tag user.gender was retyped from string to bigint")],
        ("tag", "user.gmv_30d"): [
            ("crm_gmv", "the source table of tag user.gmv_30d was renamed from dws_trade to dws_trade_v2"),
            ("crm_user_tags", "the source table of tag user.gmv_30d was renamed from dws_trade to dws_trade_v2")],
    }
    assert clears == {}
    assert reasons(two) == [] and reasons(two, "crm_gmv") == []  # rolled back: nothing changed


def test_a_retyped_entity_id_needs_attention(two: Session) -> None:
    apply_catalog(two, ADMIN, changed_catalog(lambda d: d["entities"][0]["ids"][0].update(type="string")))
    assert reasons(two) == ["entity ID user.user_id was retyped from bigint to string"]
    assert reasons(two, "crm_gmv") == ["entity ID user.user_id was retyped from bigint to string"]
