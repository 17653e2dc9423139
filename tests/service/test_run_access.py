"""Who may start a service's runs by hand, and who may allow an older data date: the rule of
``service/permissions.py``, the access record written from it (``service/access_records.py``), and the
export task's check of a run's triggering user against that record (``airflow_access.run_refusal``).
The live checks, through Airflow's own REST API and a real task, are in tests/api/test_airflow_doors.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from service_data import ADMIN, base_service
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.airflow_access import (
    PLUGIN_RUNS_KEPT,
    AccessRecord,
    AirflowAdmins,
    BadRoleMapping,
    application_roles,
    dag_access_control,
    record_key,
    run_refusal,
    run_seal,
)
from airflow_provider_tagoffline.catalog.repository import Actor
from airflow_provider_tagoffline.errors import PermissionDenied
from airflow_provider_tagoffline.service import access_records, lifecycle, permissions, publishing

NAME = "crm_user_tags"
ADMINS = AirflowAdmins(("root",), source="SimpleAuthManager")


def _published(session: Session, **changes: Any) -> Any:
    lifecycle.create_service(session, ADMIN, base_service(**changes))
    svc = lifecycle.get_service(session, NAME)
    svc.status, svc.ever_published = "published", True
    svc.live_spec = svc.published_spec = lifecycle.freeze_service(session, NAME).to_dict()
    session.flush()
    return svc


def _record(session: Session, svc: Any) -> AccessRecord:
    text = access_records.records([svc], ADMINS)[record_key(svc.slug)]
    assert text is not None
    return AccessRecord.from_json(text)


# ---- the rule and the record written from it -----------------------------------------------------

def test_admins_of_the_application_and_a_member_who_owns_it_may_run_only_admins_allow_older(
        session: Session) -> None:
    svc = _published(session, owner="bob")  # crm: admin alice, member bob
    assert permissions.run_access(svc) == (["alice", "bob"], ["alice"])
    record = _record(session, svc)
    assert (record.service, record.application, record.run, record.allow_older) == (NAME, "crm", ("alice", "bob"),
                                                                                    ("alice",))
    assert record.admins == ADMINS
    assert json.loads(record.to_json())["airflow_admins"] == {"names": ["root"], "everyone": False, "listed": True,
                                                              "source": "SimpleAuthManager"}
    # the same rule the plugin's own Run and Backfill apply
    assert permissions.may_allow_older(Actor("alice"), svc) and not permissions.may_allow_older(Actor("bob"), svc)
    assert permissions.may_allow_older(Actor("root", is_admin=True), svc)


def test_a_member_who_does_not_own_it_may_not_run_it(session: Session) -> None:
    svc = _published(session, owner="alice")
    assert permissions.run_access(svc) == (["alice"], ["alice"])


def test_a_service_nothing_of_which_is_live_has_no_record(session: Session) -> None:
    lifecycle.create_service(session, ADMIN, base_service())
    svc = lifecycle.get_service(session, NAME)
    assert access_records.records([svc], ADMINS) == {record_key(svc.slug): None}


def test_the_plugins_run_refuses_allow_older_from_a_member_before_airflow_is_asked(session: Session) -> None:
    svc = _published(session, owner="bob", schedule={"type": "manual"})
    with pytest.raises(PermissionDenied) as refused:
        publishing.run(session, Actor("bob"), NAME, allow_older=True)
    assert str(refused.value) == (f"user 'bob' may not allow an older data date (allow_older) for service {NAME!r}: "
                                  "only Airflow admins and admins of application 'crm' may")
    svc.schedule_type = "recurring"
    session.flush()
    with pytest.raises(PermissionDenied):
        publishing.backfill(session, Actor("bob"), NAME, allow_older=True)


# ---- the export task's check ---------------------------------------------------------------------

RECORD = AccessRecord(NAME, "crm", ("alice", "bob"), ("alice",), ADMINS)


@pytest.mark.parametrize(("run_type", "user", "allow_older", "allowed"), [
    ("scheduled", None, False, True),  # the schedule's runs are the service's own
    ("asset_triggered", None, True, True),
    ("manual", "alice", True, True),
    ("backfill", "alice", True, True),
    ("manual", "bob", False, True),
    ("manual", "root", True, True),  # an Airflow admin
    ("manual", "bob", True, False),
    ("backfill", "bob", True, False),
    ("manual", "mallory", False, False),
    ("backfill", "mallory", False, False),
    ("manual", None, False, False),  # a manual run nobody owns up to
    ("manual", "dag_test", False, False),  # `airflow dags test` of a published service: not a user of it
])
def test_who_the_task_lets_start_a_run(run_type: str, user: str | None, allow_older: bool, allowed: bool) -> None:
    reason = run_refusal(RECORD, run_type, user, allow_older)
    assert (reason is None) == allowed, reason
    if reason:
        assert reason.startswith("refused: ") and reason.endswith("the target is untouched") and "\n" not in reason


def test_each_refusal_names_the_user_and_what_they_lack() -> None:
    assert run_refusal(RECORD, "manual", "mallory", True) == (
        f"refused: user 'mallory' may not run service {NAME!r} (only Airflow admins, admins of application 'crm' "
        "and the service's owner may); this manual run was let in by Airflow, the target is untouched")
    assert run_refusal(RECORD, "backfill", "bob", True) == (
        f"refused: user 'bob' may not allow an older data date (allow_older) for service {NAME!r} (only Airflow "
        "admins and admins of application 'crm' may); the target is untouched")
    keycloak = AirflowAdmins(listed=False, source="KeycloakAuthManager")
    unlisted = AccessRecord(NAME, "crm", ("alice",), ("alice",), keycloak)
    assert "(KeycloakAuthManager cannot list its admins: make Airflow admins admins of the application to let " \
           "them)" in (run_refusal(unlisted, "manual", "root", False) or "")


def test_a_cleared_run_does_not_carry_its_allow_older() -> None:
    """mallory may clear alice's finished run: it runs again as alice's, so its allow_older cannot roll back."""
    assert run_refusal(RECORD, "manual", "alice", True, clear_number=1) == (
        f"refused: this manual run of service {NAME!r} asks for an older data date (allow_older) and was cleared to "
        "run again, by someone the task cannot tell; trigger a new run to export an older data date; the target is "
        "untouched")
    assert run_refusal(RECORD, "manual", "alice", False, clear_number=1) is None
    assert run_refusal(RECORD, "scheduled", None, False, clear_number=1) is None


def test_everyone_is_an_admin_under_simple_auth_managers_all_admins() -> None:
    record = AccessRecord(NAME, "crm", (), (), AirflowAdmins(everyone=True, source="SimpleAuthManager"))
    assert run_refusal(record, "manual", "anyone", True) is None
    assert AccessRecord.from_json(record.to_json()) == record


# ---- application → Airflow roles ----------------------------------------------------------------

def test_the_roles_of_an_application() -> None:
    assert application_roles("tag_offline_{application}", "crm") == ("tag_offline_crm",)
    assert application_roles(" tag_offline_{application}, data_platform ,data_platform", "crm") == (
        "tag_offline_crm", "data_platform")
    assert application_roles("None", "crm") == ()
    for bad in ("{app}", "tag_{0}", "{application"):
        with pytest.raises(BadRoleMapping, match=r"^\[tag_offline\] application_roles: "):
            application_roles(bad, "crm")
    with pytest.raises(BadRoleMapping, match="at most 64 characters"):
        application_roles("x" * 61 + "_{application}", "crm")


def test_the_dags_access_control() -> None:
    assert dag_access_control(None) is None and dag_access_control([]) is None
    assert dag_access_control(["tag_offline_crm"]) == {"tag_offline_crm": {
        "DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_read", "can_create", "can_delete"}}}


def test_runs_the_plugin_started_go_through_as_the_very_same_runs() -> None:
    """The CLI acts as its OS user ('osuser': no Airflow user, no application admin): the plugin names the runs it
    started, sealed with their triggering user and conf; only those, unchanged, go through."""
    run_id, conf = "manual__2026-12-08T10:00:00+00:00_abc", {"data_date": "2026-01-01", "allow_older": True}
    record = RECORD.vouching({run_id: run_seal("osuser", conf)})
    assert run_refusal(record, "manual", "osuser", True, run_id=run_id, conf=conf) is None
    assert run_refusal(record, "manual", "osuser", True, run_id="manual__another", conf=conf) is not None
    # deleted and made again under the same id by someone else, or with another conf: not the plugin's run
    assert run_refusal(record, "manual", "mallory", True, run_id=run_id, conf=conf) is not None
    assert run_refusal(record, "manual", "osuser", True, run_id=run_id, conf={**conf, "data_date": "2025-01-01"}) \
        is not None
    # cleared after the plugin started it: its allow_older is not honoured
    assert run_refusal(record, "manual", "osuser", True, clear_number=1, run_id=run_id, conf=conf) is not None
    # a run the plugin's backfill ran again (Airflow cleared it once) is sealed with that clear: it goes through,
    # and no longer once someone clears it again
    again = RECORD.vouching({run_id: run_seal("osuser", conf, 1)})
    assert run_refusal(again, "backfill", "osuser", True, clear_number=1, run_id=run_id, conf=conf) is None
    assert run_refusal(again, "backfill", "osuser", True, clear_number=2, run_id=run_id, conf=conf) is not None
    many = RECORD.vouching({f"r{i}": "seal" for i in range(PLUGIN_RUNS_KEPT + 10)})
    assert len(many.plugin_runs) == PLUGIN_RUNS_KEPT and "r0" not in many.plugin_runs and f"r{PLUGIN_RUNS_KEPT + 9}" \
        in many.plugin_runs


def test_a_rewrite_keeps_the_runs_the_plugin_vouched_for(session: Session) -> None:
    svc = _published(session, owner="bob")
    key = record_key(svc.slug)
    stored = {key: AccessRecord(NAME, "crm", ("alice",), ("alice",), ADMINS, {"r1": "seal"}).to_json()}
    record = AccessRecord.from_json(access_records.records([svc], ADMINS, stored)[key] or "")
    assert record.plugin_runs == {"r1": "seal"} and record.run == ("alice", "bob")
