"""Notifications: the mail of a run's outcome (``notifications.py``), and a real one — a run in
Airflow (``airflow dags test``) that a quality gate stops mails its report to a local SMTP sink
(aiosmtpd) through the service's Airflow SMTP connection."""

from __future__ import annotations

import email
import email.policy
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.notifications import event_of, mail_for
from airflow_provider_tagoffline.rendering.factory import callbacks_for, dag_id_for
from airflow_provider_tagoffline.rendering.render import render_dag_source
from airflow_provider_tagoffline.runspec import RunSpec
from tests.mail_sink import Sink
from tests.run_data import make_spec

# run_data's specs read the session's DuckDB warehouse (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("warehouse_env")

GATE_REPORT = {"service": "用户标签", "data_date": "2026-11-23", "target": "tot_target:user_tags", "status": "failed",
               "rows_read": 7, "rows_written": 0, "duplicates_replaced": 1, "gates_checked": "min_rows 1000",
               "gates_failed": ["min_rows: 7 rows < 1000"], "sources": [{"table": "profile", "rows": 8}],
               "error": "quality gate failed, the live table is untouched: min_rows: 7 rows < 1000",
               "phases": {"extract": 0.5}, "recovery": []}


def test_the_event_of_an_outcome() -> None:
    assert event_of(True, None) == "success"
    assert event_of(False, GATE_REPORT) == "gate_failure"
    assert event_of(False, {**GATE_REPORT, "gates_failed": []}) == "failure"
    assert event_of(False, None) == "failure"


def test_the_mail_holds_the_reports_first_lines_escaped() -> None:
    report = {**GATE_REPORT, "service": "<b>x</b> {{ 7*7 }}"}
    mail = mail_for(service="<b>x</b> {{ 7*7 }}", event="gate_failure", data_date="2026-11-23", report=report,
                    dag_id="tag_offline__x", run_id="manual__1", try_number=1, log_url="http://af/log?a=1&b=2")
    assert mail.subject == "[tag offline] <b>x</b> {{ 7*7 }}: stopped by a quality gate for data date 2026-11-23"
    assert "<b>x</b>" not in mail.html and "&lt;b&gt;x&lt;/b&gt; {{ 7*7 }}" in mail.html  # shown, not run
    assert "gate failed: min_rows: 7 rows &lt; 1000" in mail.html
    assert "error: quality gate failed, the live table is untouched" in mail.html
    assert 'href="http://af/log?a=1&amp;b=2"' in mail.html


def test_a_failure_without_a_report_says_airflows_error() -> None:
    mail = mail_for(service="s", event="failure", data_date=None, report=None, dag_id="d", run_id="r",
                    error="cannot connect to 'tot_target' (postgres): timeout")
    assert mail.subject == "[tag offline] s: failed"
    assert "FAILED: s\n  error: cannot connect to &#x27;tot_target&#x27; (postgres): timeout" in mail.html


def test_callbacks_follow_the_events() -> None:
    spec = make_spec("sqlite", "tot_target")
    assert callbacks_for(spec) == {}
    with_notify = lambda on: RunSpec.model_validate(  # noqa: E731
        {**spec.to_dict(), "notify": {"conn_id": "tot_smtp", "to": ["ops@example.com"], "events": on}})
    assert set(callbacks_for(with_notify(["gate_failure"]))) == {"on_failure_callback"}
    assert set(callbacks_for(with_notify(["success"]))) == {"on_success_callback"}
    both = callbacks_for(with_notify(["failure", "success"]))
    assert (both["on_failure_callback"].succeeded, both["on_success_callback"].succeeded) == (False, True)


# ---- a real run in Airflow, a real SMTP conversation --------------------------------------------------
@pytest.mark.airflow
def test_a_gate_failure_in_airflow_mails_its_report(airflow_db: None, smtp_sink: tuple[Sink, int], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sink, port = smtp_sink
    target = str(tmp_path / "target.db")
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", json.dumps({"conn_type": "sqlite", "host": target}))
    monkeypatch.setenv("AIRFLOW_CONN_TOT_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port, "login": "", "password": "smtp-s3cret",
        "extra": {"from_email": "airflow@example.com", "disable_ssl": True, "disable_tls": True}}))
    spec = RunSpec.model_validate({**make_spec("sqlite", "tot_target", gates={"min_rows": 1000}).to_dict(),
                                   "notify": {"conn_id": "tot_smtp", "to": ["ops@example.com", "dba@example.com"],
                                              "events": ["gate_failure"]}})
    db = sqlite3.connect(target)
    for sql in create_table_sql(spec, "sqlite"):
        db.execute(sql)
    db.execute("INSERT INTO user_tags (user_id, nick) VALUES (42, 'live row')")
    db.commit()
    source = render_dag_source(spec)
    assert "smtp-s3cret" not in source and "'conn_id': 'tot_smtp'" in source
    # The rendered file, with one change for the test: no retries, so the first failure is the final
    # one (a published DAG retries twice, 5 minutes apart, and notifies when it gives up).
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{dag_id_for(spec.service.slug)}.py").write_text(
        source + "dag.get_task('export').retries = 0\n", encoding="utf-8")
    events = tmp_path / "openlineage.jsonl"  # and the FAIL event the OpenLineage provider sends
    env = {"AIRFLOW__CORE__DAGS_FOLDER": str(dags), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
           "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events),
                                                          "append": True})}
    proc = subprocess.run([str(Path(sys.executable).parent / "airflow"), "dags", "test",
                           dag_id_for(spec.service.slug), "2026-11-24T00:00:00+00:00"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert "state=failed" in out, out[-3000:]
    assert len(sink.messages) == 1, out[-3000:]
    mail_from, rcpt, content = sink.messages[0]
    assert (mail_from, rcpt) == ("airflow@example.com", ["ops@example.com", "dba@example.com"])
    msg = email.message_from_bytes(content, policy=email.policy.default)
    assert msg["Subject"] == "[tag offline] 用户标签 test: stopped by a quality gate for data date 2026-11-23"
    body = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()
    assert "FAILED: 用户标签 test data date 2026-11-23 -&gt; tot_target:user_tags" in body
    assert "gate failed: " in body and "min_rows" in body
    assert "run <code>manual__" in body
    assert "smtp-s3cret" not in body
    # the gate kept the live table as it was
    assert db.execute("SELECT user_id, nick FROM user_tags").fetchall() == [(42, "live row")]
    db.close()
    # lineage of the failed run: what it read, with the rows it counted; the target, with nothing written
    sent = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    task = [e for e in sent if e["job"]["name"].endswith(".export")]
    assert [e["eventType"] for e in task] == ["START", "FAIL"]
    fail = task[-1]
    assert [i["name"].rsplit(".", 1)[1] for i in fail["inputs"]] == ["profile", "trade", "dim_level"]
    assert fail["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == 7
    (out,) = fail["outputs"]
    assert out["name"] == "user_tags" and "outputStatistics" not in out.get("outputFacets", {})
    assert "columnLineage" in out["facets"]
    if os.environ.get("TAGOFFLINE_NOTIFY_MAIL"):  # docs/notifications.md shows this mail
        Path(os.environ["TAGOFFLINE_NOTIFY_MAIL"]).write_bytes(content)
