"""Service lifecycle (optimistic concurrency, filters) and the frozen run spec."""

from __future__ import annotations

import json

import pytest
from service_data import ADMIN, base_service
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog.repository import Actor
from airflow_provider_tagoffline.errors import Conflict, PermissionDenied
from airflow_provider_tagoffline.runspec import RUNSPEC_VERSION, RunSpec
from airflow_provider_tagoffline.service import lifecycle
from airflow_provider_tagoffline.service.lifecycle import ServiceFilter


def test_a_stale_edit_gets_a_conflict_and_nothing_is_lost(session: Session) -> None:
    svc = lifecycle.create_service(session, Actor("bob"), base_service(owner="bob"))
    assert svc.version == 1
    lifecycle.update_service(session, Actor("bob"), "crm_user_tags", base_service(owner="bob", description="first"),
                             expected_version=1)
    with pytest.raises(Conflict, match=r"was changed by bob \(version 2\); your edit is based on version 1"):
        lifecycle.update_service(session, ADMIN, "crm_user_tags", base_service(description="second"),
                                 expected_version=1)
    svc = lifecycle.get_service(session, "crm_user_tags")
    assert svc.version == 2 and svc.definition["description"] == "first"


def test_unchanged_update_keeps_the_version(session: Session) -> None:
    lifecycle.create_service(session, ADMIN, base_service())
    svc, outcome = lifecycle.apply_service(session, ADMIN, base_service())
    assert outcome == "unchanged" and svc.version == 1


def test_members_manage_only_their_own_services(session: Session) -> None:
    lifecycle.create_service(session, Actor("alice"), base_service(owner="alice"))
    with pytest.raises(PermissionDenied):
        lifecycle.update_service(session, Actor("bob"), "crm_user_tags", base_service(description="x"))
    lifecycle.update_service(session, Actor("alice"), "crm_user_tags", base_service(description="mine"))


def test_list_filters(session: Session) -> None:
    lifecycle.create_service(session, ADMIN, base_service())
    lifecycle.create_service(session, ADMIN, base_service(
        name="用户_手动", owner="bob", schedule={"type": "manual"},
        target={"conn_id": "crm_mysql", "table": "user_tags"}))

    def names(**kw: str) -> list[str]:
        rows, total = lifecycle.list_services(session, ServiceFilter(**kw))
        return sorted(r.name for r in rows)

    assert names() == ["crm_user_tags", "用户_手动"]
    assert names(mine="bob") == ["用户_手动"]
    assert names(name="手动") == ["用户_手动"]
    assert names(target_kind="mysql") == ["用户_手动"]
    assert names(schedule_type="recurring") == ["crm_user_tags"]
    assert names(status="editing", application="crm", entity="user", entity_id="user_id") == \
        ["crm_user_tags", "用户_手动"]
    assert names(status="published") == []


def test_freeze_is_self_contained_versioned_and_secret_free(session: Session) -> None:
    data = base_service(target={"conn_id": "crm_pg", "schema": "crm", "table": "user_tags",
                                "partition": {"field": "ds", "format": "yyyy-MM-dd"}},
                        gates={"min_rows": 10, "max_null_ratio": {"gmv_30d": 0.2}})
    lifecycle.create_service(session, ADMIN, data)
    spec = lifecycle.freeze_service(session, "crm_user_tags")
    text = spec.to_json()
    for secret in ("pg-s3cret", "my-s3cret", "ora-s3cret", "password"):
        assert secret not in text
    assert RunSpec.from_json(text) == spec
    d = json.loads(text)
    assert d["spec_version"] == RUNSPEC_VERSION and d["service"]["version"] == 1
    assert d["warehouse_conn_id"] == "tag_warehouse"
    assert d["sources"] == [
        {"table": "dws_profile", "key": "user_id", "partition": {"column": "ds", "format": "yyyyMMdd"}},
        {"table": "dws_trade", "key": "user_id", "partition": {"column": "dt", "format": "yyyy-MM-dd"}}]
    assert [(t["code"], t["source"], t["lookup"]) for t in d["tags"]] == [("gender", 0, "gender_codes"),
                                                                          ("gmv_30d", 1, None)]
    assert d["lookups"]["gender_codes"]["values"] == {"M": "Male", "F": "Female"}
    assert [(o["column"], o["content"]) for o in d["outputs"]] == [
        ("gender", "value"), ("gender_name", "codename"), ("gmv_30d", "value")]
    assert d["target"] == {"conn_id": "crm_pg", "kind": "postgres", "schema": "crm", "table": "user_tags",
                           "key_column": "user_id", "partition": {"column": "ds", "format": "yyyy-MM-dd"},
                           "load": "overwrite", "wait_for_lock": None}  # None: [tag_offline] wait_for_lock
    assert d["gates"]["min_rows"] == 10 and d["gates"]["max_null_ratio"] == {"gmv_30d": 0.2}
    assert d["schedule"] == {"type": "recurring", "daily_at": "02:30", "timezone": "Asia/Shanghai",
                             "wait_for_data": 6 * 3600}  # the default wait of a scheduled run


def test_slugs_are_stable_ascii(session: Session) -> None:
    assert lifecycle.slugify("crm_user_tags") == "crm_user_tags"
    slug = lifecycle.slugify("用户标签")
    assert slug.startswith("svc_") and slug.isascii() and slug == lifecycle.slugify("用户标签")
