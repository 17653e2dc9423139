"""A service's ``notify`` through the service file and the CLI: applied, shown, exported, refused."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

EXAMPLES = Path(str(resources.files("airflow_provider_tagoffline") / "examples"))
NOTIFY = "notify: {conn_id: crm_smtp, to: [crm-oncall@example.com], events: [gate_failure]}\n"


@pytest.fixture
def cli(cli, monkeypatch, tmp_path):
    """The CLI (tests/cli/conftest.py) on a migrated store holding the example catalog, with an SMTP
    connection ``crm_smtp`` granted to ``crm``."""
    monkeypatch.setenv("AIRFLOW_CONN_CRM_SMTP", json.dumps({
        "conn_type": "smtp", "host": "mail.example", "password": "smtp-s3cret",
        "extra": {"from_email": "tag-offline@example.com"}}))
    run = cli
    run("db", "migrate")
    run("catalog", "apply", str(EXAMPLES / "catalog.yaml"))
    # a notification connection needs a connection grant to the application, like a target's
    grant = tmp_path / "smtp_grant.yaml"
    grant.write_text("target_grants:\n  - {application: crm, conn_id: crm_smtp}\n", encoding="utf-8")
    run("catalog", "apply", str(grant))
    return run


def test_notify_in_a_service_file_round_trips(cli, tmp_path):
    service = tmp_path / "service.yaml"
    service.write_text((EXAMPLES / "service.yaml").read_text() + NOTIFY, encoding="utf-8")
    code, out, err = cli("service", "apply", str(service))
    assert code == 0, err
    code, out, _ = cli("service", "show", "crm_user_tags", "--json")
    assert json.loads(out)["definition"]["notify"] == {"conn_id": "crm_smtp", "to": ["crm-oncall@example.com"],
                                                       "events": ["gate_failure"]}
    exported = tmp_path / "exported.yaml"
    assert cli("service", "export", "crm_user_tags", "-o", str(exported))[0] == 0
    assert "smtp-s3cret" not in exported.read_text()
    assert "unchanged (version 1" in cli("service", "apply", str(exported))[1]


def test_a_bad_notify_is_one_line_naming_each_field(cli, tmp_path):
    service = tmp_path / "service.yaml"
    service.write_text((EXAMPLES / "service.yaml").read_text()
                       + "notify: {conn_id: crm_mysql, to: [oncall], events: [always]}\n", encoding="utf-8")
    code, _, err = cli("service", "apply", str(service))
    assert code == 1 and err.count("\n") == 1
    assert "notify.to[0]: 'oncall' is not an email address" in err
    assert "notify.events[0]: 'always' is not one of failure, gate_failure, success" in err
    assert "notify.conn_id: connection 'crm_mysql' is a 'mysql' connection" in err
    assert cli("service", "show", "crm_user_tags")[0] == 1  # nothing written
