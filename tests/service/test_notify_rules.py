"""The rules of a service's ``notify`` (service/validation.py), its place in the run spec and YAML."""

from __future__ import annotations

import json
from typing import Any

import pytest
from service_data import ADMIN, base_service
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.apply import apply_catalog
from airflow_provider_tagoffline.errors import InUse, ValidationFailed
from airflow_provider_tagoffline.service import lifecycle
from airflow_provider_tagoffline.service.definition import ServiceDef
from airflow_provider_tagoffline.service.freeze import freeze
from airflow_provider_tagoffline.service.validation import validate_service
from airflow_provider_tagoffline.yaml_io import parse_catalog

SMTP = {"conn_type": "smtp", "host": "mail.example", "port": 25, "extra": {"from_email": "airflow@example.com"}}


@pytest.fixture(autouse=True)
def _connections(monkeypatch: pytest.MonkeyPatch, session: Session) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TOT_SMTP", json.dumps({**SMTP, "password": "s3cret-smtp"}))
    monkeypatch.setenv("AIRFLOW_CONN_TOT_SMTP_NO_SENDER", json.dumps({"conn_type": "smtp", "host": "m"}))
    monkeypatch.setenv("AIRFLOW_CONN_TOT_HTTP", json.dumps({"conn_type": "http", "host": "hooks.example"}))
    monkeypatch.setenv("AIRFLOW_CONN_TOT_SMTP_RISK", json.dumps({**SMTP, "login": "risk@example.com"}))
    # crm may send through tot_smtp (a connection grant, the same model as a target's)
    apply_catalog(session, ADMIN, parse_catalog({"target_grants": [{"application": "crm", "conn_id": "tot_smtp"}]}))


def problems(session: Session, notify: Any) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as err:
        validate_service(session, base_service(notify=notify))
    return {e.field: e.message for e in err.value.errors}


def test_a_service_with_notify_freezes_it_without_a_secret(session: Session) -> None:
    notify = {"conn_id": "tot_smtp", "to": ["ops@example.com", "数据@example.cn"],
              "events": ["gate_failure", "success"]}
    v = validate_service(session, base_service(notify=notify))
    spec = freeze(v, slug="s", version=1, warehouse_conn_id="w")
    assert spec.notify is not None and spec.notify.model_dump() == notify
    assert "s3cret" not in spec.to_json()
    assert ServiceDef.model_validate(base_service(notify=notify)).to_yaml_dict()["notify"] == notify


def test_no_notify_is_no_notification(session: Session) -> None:
    v = validate_service(session, base_service())
    assert freeze(v, slug="s", version=1, warehouse_conn_id="w").notify is None
    assert "notify" not in v.definition.to_yaml_dict()


def test_events_default_to_the_failures() -> None:
    notify = ServiceDef.model_validate(base_service(notify={"conn_id": "c", "to": ["a@b.co"]})).notify
    assert notify is not None and notify.events == ["failure", "gate_failure"]


def test_the_connection_must_be_an_smtp_one_with_a_sender(session: Session) -> None:
    to = ["ops@example.com"]
    assert problems(session, {"conn_id": "nope", "to": to})["notify.conn_id"] == \
        "Airflow connection 'nope' does not exist"
    assert problems(session, {"conn_id": "tot_http", "to": to})["notify.conn_id"] == (
        "connection 'tot_http' is a 'http' connection; notifications go through an SMTP connection (type smtp)")
    assert problems(session, {"conn_id": "tot_smtp_no_sender", "to": to})["notify.conn_id"] == (
        "connection 'tot_smtp_no_sender' has no sender: set from_email in its extra "
        "(or [email] from_email in Airflow's configuration)")
    assert problems(session, {"conn_id": " ", "to": to})["notify.conn_id"] == \
        "choose the SMTP connection (an Airflow connection) the mails go through"


def test_recipients_are_addresses(session: Session) -> None:
    assert problems(session, {"conn_id": "tot_smtp", "to": []})["notify.to"] == \
        "name at least one recipient's email address"
    got = problems(session, {"conn_id": "tot_smtp", "to": ["ok@example.com", "no-at-sign", "a@x.com\nBcc: e@vil.com",
                                                           "two@a.com, three@b.com"]})
    assert got == {"notify.to[1]": "'no-at-sign' is not an email address",
                   "notify.to[2]": "'a@x.com\\nBcc: e@vil.com' is not an email address",
                   "notify.to[3]": "'two@a.com, three@b.com' is not an email address"}


def test_events_are_known_and_listed_once(session: Session) -> None:
    to = ["ops@example.com"]
    assert problems(session, {"conn_id": "tot_smtp", "to": to, "events": []})["notify.events"] == \
        "choose when to notify: failure, gate_failure, success"
    assert problems(session, {"conn_id": "tot_smtp", "to": to, "events": ["failure", "retry", "failure"]}) == {
        "notify.events[1]": "'retry' is not one of failure, gate_failure, success",
        "notify.events[2]": "'failure' is listed twice"}


def test_the_notification_connection_needs_a_grant_to_the_application(session: Session) -> None:
    """Finding 4 of issue 20: a service may not send through another team's mail login."""
    to = ["ops@example.com"]
    assert problems(session, {"conn_id": "tot_smtp_risk", "to": to}) == {
        "notify.conn_id": "connection 'tot_smtp_risk' is not granted to application 'crm': a catalog admin grants "
                          "connections to applications (target grants)"}
    apply_catalog(session, ADMIN, parse_catalog({"target_grants": [{"application": "crm",
                                                                    "conn_id": "tot_smtp_risk"}]}))
    validate_service(session, base_service(notify={"conn_id": "tot_smtp_risk", "to": to}))


def test_a_grant_its_services_notify_through_cannot_be_withdrawn(session: Session) -> None:
    lifecycle.create_service(session, ADMIN, base_service(notify={"conn_id": "tot_smtp", "to": ["a@b.co"]}))
    with pytest.raises(InUse) as err:
        repo.delete_target_grant(session, ADMIN, "crm", "tot_smtp")
    assert str(err.value) == ("connection 'tot_smtp' is still used by services of application 'crm': "
                              "crm_user_tags (their notifications)")


def test_the_recipients_are_a_team_not_a_list(session: Session) -> None:
    many = [f"user{i}@example.com" for i in range(21)]
    assert problems(session, {"conn_id": "tot_smtp", "to": many}) == {
        "notify.to": "21 recipients: at most 20 (use a mailing list's address for more)"}
    twice = ["ops@example.com", "OPS@example.com"]
    assert problems(session, {"conn_id": "tot_smtp", "to": twice}) == {
        "notify.to[1]": "'OPS@example.com' is listed twice"}
    v = validate_service(session, base_service(notify={"conn_id": "tot_smtp", "to": many[:20]}))
    assert v.definition.notify is not None and len(v.definition.notify.to) == 20
