"""The `tagoffline` CLI end to end: real store, real files, exit codes and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

EXAMPLES = Path(str(resources.files("airflow_provider_tagoffline") / "examples"))


def test_not_migrated_store_says_what_to_do(cli, tmp_path):
    # no store there at all: said (with where the URL came from), and not created by a read
    code, _, err = cli("service", "list")
    assert code == 1
    assert err.startswith(f"error: no catalog store at sqlite:///{tmp_path / 'catalog.db'} ([tag_offline] "
                          "sql_alchemy_conn); point this shell at yours") and "`tagoffline db migrate`" in err, err
    assert not (tmp_path / "catalog.db").exists()
    # a store that exists but is older than this provider (here: empty)
    (tmp_path / "catalog.db").touch()
    code, _, err = cli("service", "list")
    assert code == 1
    assert err.startswith("error: the catalog store at sqlite:///") and "run `tagoffline db migrate`" in err


def test_catalog_apply_twice_reports_no_change(cli):
    assert cli("db", "migrate")[0] == 0
    code, out, _ = cli("catalog", "apply", str(EXAMPLES / "catalog.yaml"), "--dry-run")
    assert code == 0 and "(dry run: nothing written)" in out and "create    application  crm" in out
    code, out, _ = cli("catalog", "apply", str(EXAMPLES / "catalog.yaml"), "--dry-run")
    assert "would create" in out, "a dry run must not write anything"
    code, out, _ = cli("catalog", "apply", str(EXAMPLES / "catalog.yaml"))
    assert code == 0 and out.strip().endswith("update 0, unchanged 0")
    code, out, _ = cli("catalog", "apply", str(EXAMPLES / "catalog.yaml"))
    assert code == 0 and out.startswith("no changes:")
    code, out, _ = cli("catalog", "apply", str(EXAMPLES / "catalog.yaml"), "--json")
    data = json.loads(out)
    assert data["changed"] is False and all(i["action"] == "unchanged" for i in data["items"])


def test_catalog_and_service_round_trip(cli, tmp_path):
    cli("db", "migrate")
    cli("catalog", "apply", str(EXAMPLES / "catalog.yaml"))
    exported = tmp_path / "exported.yaml"
    assert cli("catalog", "export", "-o", str(exported))[0] == 0
    code, out, _ = cli("catalog", "apply", str(exported))
    assert code == 0 and out.startswith("no changes:")

    code, out, _ = cli("service", "apply", str(EXAMPLES / "service.yaml"))
    assert code == 0 and out.startswith("service crm_user_tags: created (version 1, status editing)")
    service_file = tmp_path / "service.yaml"
    assert cli("service", "export", "crm_user_tags", "-o", str(service_file))[0] == 0
    code, out, _ = cli("service", "apply", str(service_file))
    assert "unchanged (version 1" in out
    assert "s3cret" not in service_file.read_text()

    code, out, _ = cli("service", "list", "--json")
    listing = json.loads(out)
    assert listing["total"] == 1
    row = listing["items"][0]
    assert (row["name"], row["target_kind"], row["status"], row["tags"]) == (
        "crm_user_tags", "mysql", "editing", ["gender", "gmv_30d"])
    code, out, _ = cli("service", "list", "--status", "published")
    assert code == 0 and out.startswith("no services")
    code, out, _ = cli("service", "show", "crm_user_tags", "--json")
    shown = json.loads(out)
    assert shown["definition"]["schedule"] == {"type": "recurring", "daily_at": "02:30", "timezone": "Asia/Shanghai"}
    assert shown["wait_for_lock"] == "10m (the deployment's [tag_offline] wait_for_lock)"
    assert shown["load"] == "overwrite"
    service_file.write_text(service_file.read_text().replace("  table: user_tags\n",
                                                             "  table: user_tags\n  wait_for_lock: 30m\n"))
    assert "updated (version 2" in cli("service", "apply", str(service_file))[1]
    code, out, _ = cli("service", "show", "crm_user_tags")
    assert code == 0 and "wait_for_lock: 30m\n" in out


def test_user_errors_are_one_line_without_traceback(cli, tmp_path):
    cli("db", "migrate")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    code, out, err = cli("service", "apply", str(bad))
    assert code == 1 and err.count("\n") == 1 and "not valid YAML" in err and "bad.yaml:2:1" in err

    code, _, err = cli("service", "apply", str(tmp_path / "missing.yaml"))
    assert code == 1 and "missing.yaml does not exist" in err

    svc = (EXAMPLES / "service.yaml").read_text().replace("name: crm_user_tags", "name: crm user-tags")
    bad.write_text(svc)
    code, _, err = cli("service", "apply", str(bad))
    assert code == 1 and err.count("\n") == 1
    assert "name: must be 1–64 characters: Chinese characters, English letters, digits or _" in err
    assert "application: application 'crm' does not exist" in err  # every problem at once

    code, _, err = cli("service", "delete", "nope")
    assert (code, err) == (1, "error: service 'nope' does not exist\n")


def test_console_script_exit_code_and_no_traceback(tmp_path):
    """The installed `tagoffline` entry point, as a user runs it."""
    exe = Path(sys.executable).with_name("tagoffline")
    env = {**os.environ, "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'c.db'}"}
    proc = subprocess.run([str(exe), "catalog", "apply", str(tmp_path / "none.yaml")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error: ")


def test_target_grants_through_the_cli(cli, tmp_path, monkeypatch):
    cli("db", "migrate")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text((EXAMPLES / "catalog.yaml").read_text()
                       + "  - {application: crm, conn_id: crm_mysql_too, schemas: [ignored_by_mysql]}\n")
    code, out, _ = cli("catalog", "apply", str(catalog), "--dry-run")
    assert code == 0 and "  create    target_grant crm:crm_mysql\n" in out
    assert "  create    target_grant crm:crm_mysql_too\n" in out
    assert cli("catalog", "apply", str(catalog))[0] == 0
    exported = tmp_path / "exported.yaml"
    assert cli("catalog", "export", "-o", str(exported))[0] == 0
    text = exported.read_text()
    assert "target_grants:\n- application: crm\n  conn_id: crm_mysql\n- application: crm\n  conn_id: crm_mysql_too\n" \
           "  schemas:\n  - ignored_by_mysql\n" in text
    code, out, _ = cli("catalog", "apply", str(exported))
    assert code == 0 and out.startswith("no changes:")

    # a service on a granted connection saves; on another connection id of its database it is refused,
    # and on a connection granted to nobody as well, each with its field
    assert cli("service", "apply", str(EXAMPLES / "service.yaml"))[0] == 0
    monkeypatch.setenv("AIRFLOW_CONN_CRM_MYSQL_TOO", "mysql://other:pw@127.0.0.1:3306/crm")
    monkeypatch.setenv("AIRFLOW_CONN_ELSEWHERE", "mysql://crm:pw@10.0.0.9:3306/crm")
    service = (EXAMPLES / "service.yaml").read_text().replace("name: crm_user_tags", "name: crm_copy")
    copy = tmp_path / "copy.yaml"
    copy.write_text(service.replace("conn_id: crm_mysql", "conn_id: crm_mysql_too").replace("user_tags", "USER_TAGS"))
    code, _, err = cli("service", "apply", str(copy))
    assert code == 1 and "target.table: table 'USER_TAGS' on connection 'crm_mysql_too' (the database of " \
                         "connection 'crm_mysql') is the target of service 'crm_user_tags' (application crm)" in err
    copy.write_text(service.replace("conn_id: crm_mysql", "conn_id: elsewhere"))
    code, _, err = cli("service", "apply", str(copy))
    assert code == 1 and "target.conn_id: connection 'elsewhere' is not granted to application 'crm'" in err


@pytest.mark.parametrize("command", [(), ("run",), ("demo",), ("service",), ("service", "backfill"),
                                     ("service", "list"), ("catalog", "apply"), ("db",)])
def test_help_speaks_to_users(cli, command):
    """No type labels on flags ("--json <bool>"), no references to a spec the user never read."""
    code, out, err = cli(*command, "--help")
    out += err
    assert code == 0 and "Usage: tagoffline" in out
    assert "<bool>" not in out and "spec" not in out.lower(), out
