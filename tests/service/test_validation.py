"""Every rule of service/validation.py, each asserting the field and the message it reports."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from service_data import ADMIN, base_service
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog.repository import Actor
from airflow_provider_tagoffline.errors import PermissionDenied, ValidationFailed
from airflow_provider_tagoffline.service import lifecycle
from airflow_provider_tagoffline.service.freeze import freeze
from airflow_provider_tagoffline.service.validation import validate_service


def problems(session: Session, data: dict[str, Any], **kw: Any) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as err:
        validate_service(session, data, **kw)
    return {e.field: e.message for e in err.value.errors}


def test_the_base_service_is_valid(session: Session) -> None:
    v = validate_service(session, base_service())
    assert v.target_kind == "postgres" and [t.code for t in v.tags] == ["gender", "gmv_30d"]
    assert v.timezone == "Asia/Shanghai"


@pytest.mark.parametrize("name", ["用户标签_2026", "CRM_tags", "a", "x" * 64])
def test_names_of_chinese_letters_digits_underscore_up_to_64(session: Session, name: str) -> None:
    validate_service(session, base_service(name=name))


@pytest.mark.parametrize("name", ["has space", "dash-ed", "x" * 65, "emoji🚀", "dot.ted"])
def test_bad_names(session: Session, name: str) -> None:
    assert problems(session, base_service(name=name))["name"] == \
        "must be 1–64 characters: Chinese characters, English letters, digits or _"


def test_empty_name(session: Session) -> None:
    assert problems(session, base_service(name=""))["name"] == "is required"


def test_names_are_unique(session: Session) -> None:
    lifecycle.create_service(session, ADMIN, base_service())
    assert problems(session, base_service())["name"] == "a service named 'crm_user_tags' already exists"


def test_description_at_most_1000(session: Session) -> None:
    validate_service(session, base_service(description="述" * 1000))
    assert problems(session, base_service(description="x" * 1001))["description"] == \
        "is 1001 characters long; at most 1000"


def test_unknown_application_entity_and_entity_id(session: Session) -> None:
    assert problems(session, base_service(application="nope"))["application"] == "application 'nope' does not exist"
    assert problems(session, base_service(entity="shop"))["entity"] == "entity 'shop' does not exist"
    assert problems(session, base_service(entity_id="email"))["entity_id"] == \
        "entity 'user' has no entity ID 'email' (it has: user_id, mobile)"


def test_only_admins_and_members_of_the_application(session: Session) -> None:
    """Who may is the permission layer's (403), asked before validation, which checks data only."""
    with pytest.raises(PermissionDenied) as err:
        lifecycle.create_service(session, Actor("mallory"), base_service())
    assert str(err.value) == "user 'mallory' is not an admin or member of application 'crm' and may not create its " \
                             "services"
    lifecycle.create_service(session, Actor("bob"), base_service(owner="bob"))  # a member, as owner


def test_the_entity_id_limits_the_tags(session: Session) -> None:
    data = base_service(mappings=[{"tag": "city", "value": "city"}])
    assert problems(session, data)["mappings[0].tag"] == \
        "tag 'city' is keyed by 'mobile', not by the service's entity ID 'user_id'"


def test_unknown_tag(session: Session) -> None:
    assert problems(session, base_service(mappings=[{"tag": "age", "value": "age"}]))["mappings[0].tag"] == \
        "entity 'user' has no tag 'age'"


def test_tag_without_grant_with_expired_grant_and_with_rejected_grant(session: Session) -> None:
    data = base_service(mappings=[{"tag": "gender", "value": "g"}, {"tag": "old_tag", "value": "o"},
                                  {"tag": "secret", "value": "s"}])
    p = problems(session, data, today=dt.date(2026, 11, 24))
    assert p["mappings[1].tag"] == "tag 'old_tag' grant to application 'crm' expired on 2020-01-01"
    assert p["mappings[2].tag"] == "tag 'secret' grant to application 'crm' is rejected, not approved"
    data = base_service(application="risk", owner="rita", mappings=[{"tag": "gender", "value": "g"}])
    assert problems(session, data)["mappings[0].tag"] == "tag 'gender' is not granted to application 'risk'"


def test_every_tag_needs_an_output(session: Session) -> None:
    data = base_service(mappings=[{"tag": "gender"}])
    assert problems(session, data)["mappings[0]"] == \
        "tag 'gender' has no output: map its value, its code name or both"
    assert problems(session, base_service(mappings=[]))["mappings"] == "map at least one tag"


def test_code_name_needs_a_lookup(session: Session) -> None:
    data = base_service(mappings=[{"tag": "gmv_30d", "value": "gmv", "codename": "gmv_name"}])
    assert problems(session, data)["mappings[0].codename"] == \
        "tag 'gmv_30d' has no lookup, so it has no code name to export"


def test_a_tag_mapped_twice(session: Session) -> None:
    data = base_service(mappings=[{"tag": "gender", "value": "a"}, {"tag": "gender", "value": "b"}])
    assert problems(session, data)["mappings[1].tag"] == "tag 'gender' is mapped twice"


def test_target_columns_are_unique_case_insensitively(session: Session) -> None:
    data = base_service(mappings=[{"tag": "gender", "value": "col", "codename": "COL"},
                                  {"tag": "gmv_30d", "value": "user_id"}])
    p = problems(session, data)
    assert p["mappings[0].codename"] == "target column 'COL' is already used by mappings[0].value"
    assert p["mappings[1].value"] == "target column 'user_id' is already used by the entity ID column"


def test_immutable_fields_on_update(session: Session) -> None:
    svc = lifecycle.create_service(session, ADMIN, base_service())
    changed = base_service(name="renamed", schedule={"type": "manual"},
                           target={"conn_id": "crm_mysql", "table": "user_tags", "load": "append"})
    p = problems(session, changed, existing=svc)
    assert p["name"] == "cannot be changed (was 'crm_user_tags')"
    assert p["schedule.type"] == "cannot be changed (was 'recurring')"
    assert p["target.conn_id"] == \
        "the target kind cannot change (was postgres, connection 'crm_mysql' is mysql)"
    assert p["target.load"] == "loading policy 'append' is not supported; one of overwrite, changes"


@pytest.mark.parametrize("status", ["publishing", "unpublishing"])
def test_no_edit_while_publishing_or_unpublishing(session: Session, status: str) -> None:
    svc = lifecycle.create_service(session, ADMIN, base_service())
    svc.status = status
    assert problems(session, base_service(description="new"), existing=svc)[""] == \
        f"service 'crm_user_tags' cannot be edited: the service is {status}; wait until it has finished"


@pytest.mark.parametrize(("status", "ever_published", "allowed"), [
    ("editing", False, True), ("editing", True, False), ("offline", True, True), ("publish_failed", True, True),
    ("published", True, False), ("publishing", False, False), ("unpublish_failed", True, False)])
def test_delete_rules_per_state(session: Session, status: str, ever_published: bool, allowed: bool) -> None:
    from airflow_provider_tagoffline.errors import Conflict

    svc = lifecycle.create_service(session, ADMIN, base_service())
    svc.status, svc.ever_published = status, ever_published
    session.flush()
    if allowed:
        lifecycle.delete_service(session, ADMIN, "crm_user_tags")
        return
    with pytest.raises(Conflict, match="service 'crm_user_tags' cannot be deleted: "):
        lifecycle.delete_service(session, ADMIN, "crm_user_tags")


def test_partition_rules(session: Session) -> None:
    bad_format = base_service(target={"conn_id": "crm_pg", "table": "t", "partition": {"field": "ds",
                                                                                      "format": "dd/MM/yyyy"}})
    assert problems(session, bad_format)["target.partition.format"] == \
        "'dd/MM/yyyy' is not one of yyyyMMdd, yyyy-MM-dd, yyyy/MM/dd, yyyy.MM.dd"
    multi = base_service(target={"conn_id": "crm_pg", "table": "t", "partition": {"field": ["ds", "hh"]}})
    assert problems(session, multi)["target.partition.field"] == \
        "multi-level partitions are not supported; give one date partition field"
    adb = base_service(target={"conn_id": "crm_adb", "table": "t", "partition": {"field": "ds"}})
    assert problems(session, adb)["target.partition"] == \
        "AnalyticDB for PostgreSQL targets cannot be partitioned; remove the partition"
    lite = base_service(target={"conn_id": "crm_lite", "table": "t", "partition": {"field": "ds"}})
    assert problems(session, lite)["target.partition"] == "sqlite targets cannot be partitioned; remove the partition"
    missing = base_service(target={"conn_id": "crm_pg", "table": "t", "partition": {"format": "yyyyMMdd"}})
    assert problems(session, missing)["target.partition.field"] == "is required for a partitioned target"
    clash = base_service(target={"conn_id": "crm_pg", "table": "t", "partition": {"field": "gender"}})
    assert problems(session, clash)["mappings[0].value"] == \
        "target column 'gender' is already used by the date partition field"


@pytest.mark.parametrize(("conn_id", "table", "message"), [
    ("crm_pg", "t" * 56, "table name '" + "t" * 56 + "' is too long: the swap table '" + "t" * 56
     + "_dpfx_tmp' is 65 bytes long; postgres allows at most 63 bytes; shorten the table name by 2 byte(s)"),
    ("crm_pg", "标" * 16, None),  # 48 bytes + 9 = 57: fits PostgreSQL's 63
    ("crm_mysql", "m" * 56, "table name '" + "m" * 56 + "' is too long: the swap table '" + "m" * 56
     + "_dpfx_tmp' is 65 characters long; mysql allows at most 64; shorten the table name by 1 character(s)"),
    ("crm_ora", "o" * 120, "table name '" + "o" * 120 + "' is too long: the swap table '" + "o" * 120
     + "_dpfx_tmp' is 129 bytes long; oracle allows at most 128 bytes; shorten the table name by 1 byte(s)"),
])
def test_target_names_too_long_with_the_swap_suffixes(session: Session, conn_id: str, table: str,
                                                      message: str | None) -> None:
    data = base_service(target={"conn_id": conn_id, "table": table})
    if message is None:
        validate_service(session, data)
        return
    assert problems(session, data)["target.table"] == message


@pytest.mark.parametrize("conn_id", ["crm_pg", "crm_mysql", "crm_ora", "crm_lite"])
@pytest.mark.parametrize("table", ["bad table!; drop", "user-tags", "1st_tags", 'a"b', "t.x"])
def test_a_table_name_is_a_plain_name_on_every_family(session: Session, conn_id: str, table: str) -> None:
    """Quoted, any of these would be harmless, but a user means none of them: refused at save, beside the field."""
    assert problems(session, base_service(target={"conn_id": conn_id, "table": table}))["target.table"] == (
        f"{table!r} is not a valid table name: use letters, digits and _, starting with a letter or _ "
        "(e.g. user_tags)")


@pytest.mark.parametrize("table", ["user_tags", "_staging", "标签表", "Kunden_Merkmale_2026"])
def test_plain_table_names_in_any_script_are_accepted(session: Session, table: str) -> None:
    validate_service(session, base_service(target={"conn_id": "crm_pg", "table": table}))


def test_identifier_over_the_limit_itself(session: Session) -> None:
    data = base_service(target={"conn_id": "crm_pg", "table": "t" * 64})
    assert problems(session, data)["target.table"] == \
        "'" + "t" * 64 + "' is 64 bytes long; postgres allows at most 63 bytes"


def test_no_control_character_in_a_schema_or_key_column(session: Session) -> None:
    """Quoted, they would run; in a log line or a terminal they would forge lines (issue 20's fresh pass)."""
    data = base_service(target={"conn_id": "crm_pg", "schema": "crm\nINFO - refused", "table": "t",
                                "key_column": "user_id\x1b[2J"})
    with pytest.raises(ValidationFailed) as err:
        validate_service(session, data)
    said = {(e.field, e.message) for e in err.value.errors}
    assert ("target.schema", "'crm\\nINFO - refused' must not contain control characters (line breaks, tabs, "
            "escapes)") in said
    assert ("target.key_column", "'user_id\\x1b[2J' must not contain control characters (line breaks, tabs, "
            "escapes)") in said


def test_schema_only_where_the_target_has_schemas(session: Session) -> None:
    data = base_service(target={"conn_id": "crm_mysql", "schema": "crm", "table": "t"})
    assert problems(session, data)["target.schema"] == "mysql targets have no schemas; remove the schema"


def test_connections(session: Session) -> None:
    assert problems(session, base_service(target={"conn_id": "nope", "table": "t"}))["target.conn_id"] == \
        "Airflow connection 'nope' does not exist"
    msg = problems(session, base_service(target={"conn_id": "crm_http", "table": "t"}))["target.conn_id"]
    assert msg.startswith("connection 'crm_http': connection type 'http' is not a supported target")
    # both missing: reported together with the other rules, not as a request-shape error
    p = problems(session, base_service(name="bad name!", target={"conn_id": "", "table": " "}))
    assert p["target.conn_id"] == "choose the data source (an Airflow connection) to write into"
    assert p["target.table"] == "is required: the table the tags are written into"
    assert "name" in p


def test_schedule_rules(session: Session) -> None:
    assert problems(session, base_service(schedule={"type": "recurring", "daily_at": "25:00"}))[
        "schedule.daily_at"] == "'25:00' is not a time of day in HH:MM (00:00–23:59)"
    assert problems(session, base_service(schedule={"type": "recurring"}))["schedule.daily_at"] == \
        "is required for a recurring service (HH:MM)"
    assert problems(session, base_service(schedule={"type": "manual", "daily_at": "02:00"}))[
        "schedule.daily_at"] == "a manual service has no daily time; remove it or make the service recurring"
    assert problems(session, base_service(schedule={"type": "recurring", "daily_at": "02:00",
                                                    "timezone": "Mars/Olympus"}))["schedule.timezone"] == \
        "'Mars/Olympus' is not a known IANA timezone (e.g. Asia/Shanghai, UTC)"
    assert problems(session, base_service(schedule={"type": "weekly"}))["schedule.type"] == \
        "must be 'manual' or 'recurring'"


def test_pool_and_queue(session: Session) -> None:
    """Where runs go: Airflow pool and Celery queue names, checked at save; the run spec carries them."""
    p = problems(session, base_service(pool="heavy pool", queue="exports;rm"))
    assert p["pool"] == "'heavy pool' is not an Airflow pool name (1–256 letters, digits, _ . -)"
    assert p["queue"] == "'exports;rm' is not a queue name (1–128 letters, digits, _ . : -)"
    v = validate_service(session, base_service(pool="tag_offline.heavy-1", queue="exports:eu"))
    spec = freeze(v, slug="s", version=1, warehouse_conn_id="tag_warehouse")
    assert (spec.pool, spec.queue) == ("tag_offline.heavy-1", "exports:eu")


def test_wait_for_data_of_scheduled_runs(session: Session) -> None:
    recurring = {"type": "recurring", "daily_at": "02:00"}
    assert validate_service(session, base_service(schedule=recurring)).wait_for_data == 6 * 3600
    assert validate_service(session, base_service(schedule={**recurring, "wait_for_data": "90m"})
                            ).wait_for_data == 5400
    assert validate_service(session, base_service(schedule={"type": "manual"})).wait_for_data is None
    assert problems(session, base_service(schedule={**recurring, "wait_for_data": "2 days"}))[
        "schedule.wait_for_data"] == "'2 days' is not a duration such as 6h, 90m, 1h30m or 45s"
    assert problems(session, base_service(schedule={"type": "manual", "wait_for_data": "1h"}))[
        "schedule.wait_for_data"] == ("a manual service's runs do not wait for data; remove it or make the service "
                                      "recurring")


def test_wait_for_lock_of_the_swap(session: Session) -> None:
    """How long the swap keeps trying for the table's lock: the wait_for_data syntax, frozen into the run spec;
    unset, the run takes [tag_offline] wait_for_lock where it executes (the spec keeps None)."""
    def with_wait(value: Any) -> dict[str, Any]:
        return base_service(target={"conn_id": "crm_pg", "schema": "crm", "table": "user_tags", "wait_for_lock": value})

    assert validate_service(session, base_service()).wait_for_lock is None
    v = validate_service(session, with_wait("15m"))
    assert v.wait_for_lock == 900
    assert freeze(v, slug="s", version=1, warehouse_conn_id="w").target.wait_for_lock == 900
    assert validate_service(session, with_wait(0)).wait_for_lock == 0  # one try, no retry
    assert problems(session, with_wait("a while"))["target.wait_for_lock"] == (
        "'a while' is not a duration such as 6h, 90m, 1h30m or 45s")
    assert problems(session, with_wait("25h"))["target.wait_for_lock"] == (
        "'25h' is outside 0 to 24h (the next day's run would be due)")
    assert problems(session, with_wait(-1))["target.wait_for_lock"] == (
        "-1 is outside 0 to 24h (the next day's run would be due)")


def test_loading_policy_and_gates(session: Session) -> None:
    p = problems(session, base_service(target={"conn_id": "crm_pg", "table": "t", "load": "append"},
                                       gates={"min_rows": -1, "max_change_ratio": -0.1,
                                              "max_null_ratio": {"gender": 1.5, "nope": 0.1}}))
    assert p["target.load"] == "loading policy 'append' is not supported; one of overwrite, changes"
    assert p["gates.min_rows"] == "must be 0 or more"
    assert p["gates.max_change_ratio"] == "must be 0 or more (0.5 allows ±50% rows against the live table)"
    assert p["gates.max_null_ratio.gender"] == "1.5 is not a ratio between 0 and 1"
    assert p["gates.max_null_ratio.nope"] == "tag 'nope' is not mapped by this service"


def test_shape_errors_name_their_fields(session: Session) -> None:
    p = problems(session, {"name": "x", "colour": "red", "schedule": {"type": "manual"}})
    assert p["application"] == "is required" and p["target"] == "is required"
    assert p["colour"] == "is not a known field"


def test_all_problems_are_reported_at_once(session: Session) -> None:
    p = problems(session, base_service(name="bad name", description="x" * 1001,
                                       schedule={"type": "recurring", "daily_at": "9"}))
    assert {"name", "description", "schedule.daily_at"} <= set(p)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_gates_refuse_nan_and_infinity(session: Session, bad: float) -> None:
    p = problems(session, base_service(gates={"max_change_ratio": bad, "max_null_ratio": {"gender": bad}}))
    assert p == {"gates.max_change_ratio": "must be a finite number",
                 "gates.max_null_ratio.gender": "must be a finite number"}


def _float_fields(model: type) -> list[str]:
    """Fields of a pydantic model whose type holds a float anywhere (``float | None``, ``dict[str, float]``)."""
    import typing

    def holds_float(tp: Any) -> bool:
        return tp is float or any(holds_float(a) for a in typing.get_args(tp))

    return [name for name, f in model.model_fields.items() if holds_float(f.annotation)]


def _holding(annotation: Any, bad: float) -> Any:
    """``bad`` in the shape of ``annotation``: itself, in a dict or in a list."""
    import typing

    origins = {typing.get_origin(annotation)} | {typing.get_origin(a) for a in typing.get_args(annotation)}
    return {"k": bad} if dict in origins else [bad] if list in origins else bad


def test_every_float_field_of_every_shape_refuses_nan_and_infinity() -> None:
    """Walks the models of the shape modules: a float field added later is covered, or this fails."""
    import inspect

    from pydantic import BaseModel
    from pydantic import ValidationError as PydanticValidationError

    from airflow_provider_tagoffline import airflow_bridge, runspec
    from airflow_provider_tagoffline.api import schemas as api_schemas
    from airflow_provider_tagoffline.catalog import schemas as catalog_schemas
    from airflow_provider_tagoffline.service import definition, publishing

    checked = []
    for module in (definition, runspec, catalog_schemas, api_schemas, airflow_bridge, publishing):
        for _, model in inspect.getmembers(module, inspect.isclass):
            if not issubclass(model, BaseModel) or model.__module__ != module.__name__:
                continue
            for name in _float_fields(model):
                for bad in (float("nan"), float("inf"), float("-inf")):
                    key = model.model_fields[name].alias or name
                    with pytest.raises(PydanticValidationError) as err:
                        model.model_validate({key: _holding(model.model_fields[name].annotation, bad)})
                    finite = [e for e in err.value.errors() if e["type"] == "finite_number"]
                    assert finite and finite[0]["loc"][0] == key, (model.__name__, name, err.value.errors())
                checked.append(f"{model.__name__}.{name}")
    assert {"GatesDef.max_change_ratio", "GatesDef.max_null_ratio", "GatesSpec.max_change_ratio",
            "GatesSpec.max_null_ratio", "Instance.duration"} <= set(checked), checked


@pytest.mark.parametrize(("conn_id", "field", "message"), [
    ("crm_pg", "p" * 300, "'" + "p" * 300 + "' is not a usable column name"),  # 128 characters at most anywhere
    ("crm_pg", "p" * 64, "column '" + "p" * 64 + "' is 64 bytes long; postgres allows at most 63 bytes"),
    ("crm_pg", ["分" * 22], "column '" + "分" * 22 + "' is 66 bytes long; postgres allows at most 63 bytes"),
    ("crm_mysql", "m" * 65, "column '" + "m" * 65 + "' is 65 characters long; mysql allows at most 64"),
    ("crm_ora", "标" * 43, "column '" + "标" * 43 + "' is 129 bytes long; oracle allows at most 128 bytes"),
    ("crm_pg", "ds\nx", "'ds\\nx' is not a usable column name"),
    ("crm_pg", "d\x1bs", "'d\\x1bs' is not a usable column name"),
])
def test_the_partition_field_passes_the_identifier_checks(session: Session, conn_id: str, field: Any,
                                                          message: str) -> None:
    data = base_service(target={"conn_id": conn_id, "table": "t", "partition": {"field": field}})
    assert problems(session, data) == {"target.partition.field": message}


def test_a_partition_field_within_the_limits_is_valid(session: Session) -> None:
    validate_service(session, base_service(target={"conn_id": "crm_pg", "table": "t",
                                                          "partition": {"field": "p" * 63}}))
    validate_service(session, base_service(target={"conn_id": "crm_mysql", "table": "t",
                                                          "partition": {"field": ["数据日期"]}}))


def test_every_section_reports_in_order(session: Session) -> None:
    """One update breaking a rule of each section: every error at once, in the order of the form
    (basic, schedule, target, partition, target grant, mappings, gates, update rules)."""
    lifecycle.create_service(session, ADMIN, base_service())
    existing = lifecycle.get_service(session, "crm_user_tags")
    existing.status = "publishing"
    data = base_service(name="renamed!", description="x" * 1001, owner="", application="risk",
                        schedule={"type": "manual", "daily_at": "01:00", "timezone": "Mars/Base"},
                        target={"conn_id": "crm_lite", "schema": "s", "table": "t", "load": "append",
                                "partition": {"field": ["a", "b"], "format": "bad"}},
                        mappings=[{"tag": "gender", "value": "gender"}, {"tag": "gender", "value": "x"},
                                  {"tag": "city", "value": "user_id"}],
                        gates={"min_rows": -1, "max_null_ratio": {"zzz": 2}})
    with pytest.raises(ValidationFailed) as err:
        validate_service(session, data, existing=existing)
    assert [(e.field, e.message) for e in err.value.errors] == [
        ("name", "must be 1–64 characters: Chinese characters, English letters, digits or _"),
        ("description", "is 1001 characters long; at most 1000"),
        ("owner", "is required"),
        ("schedule.daily_at", "a manual service has no daily time; remove it or make the service recurring"),
        ("schedule.timezone", "'Mars/Base' is not a known IANA timezone (e.g. Asia/Shanghai, UTC)"),
        ("target.load", "loading policy 'append' is not supported; one of overwrite, changes"),
        ("target.schema", "sqlite targets have no schemas; remove the schema"),
        ("target.partition", "sqlite targets cannot be partitioned; remove the partition"),
        ("target.partition.field", "multi-level partitions are not supported; give one date partition field"),
        ("target.partition.format", "'bad' is not one of yyyyMMdd, yyyy-MM-dd, yyyy/MM/dd, yyyy.MM.dd"),
        ("target.conn_id", "connection 'crm_lite' is not granted to application 'risk': a catalog admin grants "
                           "connections to applications (target grants)"),
        ("mappings[0].tag", "tag 'gender' is not granted to application 'risk'"),
        ("mappings[1].tag", "tag 'gender' is mapped twice"),
        ("mappings[2].tag", "tag 'city' is keyed by 'mobile', not by the service's entity ID 'user_id'"),
        ("mappings[2].tag", "tag 'city' is not granted to application 'risk'"),
        ("mappings[2].value", "target column 'user_id' is already used by the entity ID column"),
        ("gates.min_rows", "must be 0 or more"),
        ("gates.max_null_ratio.zzz", "tag 'zzz' is not mapped by this service"),
        ("gates.max_null_ratio.zzz", "2.0 is not a ratio between 0 and 1"),
        ("", "service 'crm_user_tags' cannot be edited: the service is publishing; wait until it has finished"),
        ("name", "cannot be changed (was 'crm_user_tags')"),
        ("schedule.type", "cannot be changed (was 'recurring')"),
        ("target.conn_id", "the target kind cannot change (was postgres, connection 'crm_lite' is sqlite)"),
    ]


def test_changes_load_mode(session: Session) -> None:
    """``changes`` is a whole-table mode (docs/changes-mode.md §4); a service may switch between the modes."""
    v = validate_service(session, base_service(target={"conn_id": "crm_pg", "table": "t", "load": "changes"}))
    assert freeze(v, slug="s", version=1, warehouse_conn_id="wh").target.load == "changes"
    partitioned = base_service(target={"conn_id": "crm_pg", "table": "t", "load": "changes",
                                       "partition": {"field": "ds"}})
    assert problems(session, partitioned)["target.load"] == (
        "changes mode is for whole tables: a partitioned target writes partition D, which a later date never "
        "rewrites; use overwrite")
    svc = lifecycle.create_service(session, ADMIN, base_service())
    switched = dict(svc.definition, target=dict(svc.definition["target"], load="changes"))
    validate_service(session, switched, existing=svc)
