"""Publishing into a real Airflow (API server + scheduler + dag-processor, PostgreSQL metadata DB).

publish → published within 15 s with the DAG in Airflow; a broken file → publish_failed with
Airflow's error while the others keep loading; run → a DAG run exporting the chosen date into
PostgreSQL; backfill of 3 days → 3 runs exporting 3 data dates in order; republish → a new DAG
version; unpublish → DAG gone, offline; delete rules per state; the same through the CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from api_data import warehouse_rows
from late_data import wait_for

from tests.live import pg_connect

BIN = Path(sys.executable).parent
PUBLISH_WITHIN = 15.0
RUN_WITHIN = 180.0
MANUAL = "客户标签_手动"  # a Chinese name: dag_display_name shows it, the dag_id stays ASCII
RECURRING = "crm_daily_partitioned"


def wait_status(client: httpx.Client, name: str, timeout: float = PUBLISH_WITHIN + 30) -> dict[str, Any]:
    return wait_for(lambda: client.get(f"/services/{name}").json(),
                    lambda body: body["status"] not in ("publishing", "unpublishing"), timeout, f"status of {name}")


def wait_runs(client: httpx.Client, name: str, count: int, run_type: str = "manual") -> list[dict[str, Any]]:
    def fetch() -> list[dict[str, Any]]:
        return [i for i in client.get(f"/services/{name}/instances").json()["items"] if i["run_type"] == run_type]

    def finished(items: list[dict[str, Any]]) -> bool:
        return len(items) >= count and all(i["state"] in ("success", "failed") for i in items)

    return wait_for(fetch, finished, RUN_WITHIN, f"{count} {run_type} run(s) of {name}")


def tagoffline(api_server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``tagoffline`` CLI as alice, on the test stack's catalog and Airflow."""
    return subprocess.run([str(BIN / "tagoffline"), *args], env={**api_server.env, "TAGOFFLINE_USER": "alice"},
                          capture_output=True, text=True, timeout=300)


def target_rows(api_server: Any, table: str, where: str = "") -> list[tuple[Any, ...]]:
    db = json.loads(api_server.env["AIRFLOW_CONN_CRM_PG"])["schema"]
    with pg_connect(db, autocommit=False) as conn:
        return conn.execute(f'SELECT user_id, gender, gender_codename, gmv_30d FROM "{table}" {where} '
                            "ORDER BY user_id").fetchall()


def expected(ds: str) -> list[tuple[Any, ...]]:
    names = {"M": "Male", "F": "Female"}
    rows = sorted(warehouse_rows(ds).items())
    return [(uid, g, names[g], Decimal(gmv) if gmv else None) for uid, (g, _, gmv) in rows]


def create_with_table(client: httpx.Client, body: dict[str, Any]) -> None:
    r = client.post("/services", json=body)
    assert r.status_code == 201, r.text
    r = client.post(f"/services/{body['name']}/ddl", json={})  # one-click create table on the target
    assert r.status_code == 200, r.text


def test_publish_run_republish_unpublish_delete(alice, api_server, service_body) -> None:
    create_with_table(alice, service_body(MANUAL, conn_id="crm_pg", target={
        "conn_id": "crm_pg", "table": "crm_user_tags", "load": "overwrite"}))
    r = alice.post(f"/services/{MANUAL}/run", json={"data_date": "2026-01-02"})
    assert r.status_code == 409 and "only published" in r.json()["detail"][0]["message"]

    started = time.monotonic()
    r = alice.post(f"/services/{MANUAL}/publish")
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "publishing" and r.json()["dag_id"].startswith("tag_offline__svc_")
    dag_id = r.json()["dag_id"]
    dag_file = api_server.home / "dags" / "tag_offline" / f"{dag_id}.py"
    assert r.json()["dag_file"] is None and dag_file.is_file()  # the server's path: for Airflow admins only
    body = wait_status(alice, MANUAL)
    elapsed = time.monotonic() - started
    assert body["status"] == "published", body
    assert elapsed < PUBLISH_WITHIN, f"published after {elapsed:.1f} s"

    with api_server.airflow() as af:
        dag = af.get(f"/dags/{dag_id}").json()
    assert dag["dag_display_name"] == MANUAL and dag["is_paused"] is False and dag["has_import_errors"] is False
    assert {t["name"] for t in dag["tags"]} == {"tag_offline", "crm"} and dag["owners"] == ["alice"]
    assert dag["max_active_runs"] == 1 and dag["timetable_summary"] in (None, "None")
    assert alice.delete(f"/services/{MANUAL}").status_code == 409  # published: unpublish first
    r = alice.post(f"/services/{MANUAL}/backfill", json={})
    assert r.status_code == 409 and "manual" in r.json()["detail"][0]["message"]

    # run: a DAG run whose export uses exactly the chosen data date
    r = alice.post(f"/services/{MANUAL}/run", json={"data_date": "2026-01-02"})
    assert r.status_code == 202, r.text
    assert r.json()["data_date"] == "2026-01-02" and r.json()["run_id"]
    [run] = wait_runs(alice, MANUAL, 1)
    assert run["state"] == "success", (run, api_server.log_tail("scheduler"))
    assert run["data_date"] == "2026-01-02" and run["rows_written"] == 3 and run["duration"] > 0
    assert run["run_id"] == r.json()["run_id"]
    assert run["log_url"] == f"{api_server.base_url}/dags/{dag_id}/runs/{quote(run['run_id'])}/tasks/export"
    assert target_rows(api_server, "crm_user_tags") == expected("20260102")
    assert alice.get(f"/services/{MANUAL}").json()["execution_status"] == "success"
    r = alice.post(f"/services/{MANUAL}/run", json={"data_date": "2999-01-01"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "data_date"

    # republish an edited service: the file is replaced and Airflow keeps both versions
    r = alice.get(f"/services/{MANUAL}")
    edit = {**r.json()["definition"], "description": "edited after the first run", "version": r.json()["version"]}
    assert alice.put(f"/services/{MANUAL}", json=edit).status_code == 200
    assert alice.post(f"/services/{MANUAL}/publish").status_code == 202
    # Airflow re-serializes a DAG at most every [core] min_serialized_dag_update_interval (30 s)
    assert wait_status(alice, MANUAL, timeout=90)["status"] == "published"
    with api_server.airflow() as af:
        versions = af.get(f"/dags/{dag_id}/dagVersions").json()
        assert versions["total_entries"] == 2, versions
        assert af.get(f"/dags/{dag_id}").json()["description"] == "edited after the first run"

    # unpublish: paused, file removed, Airflow's record gone; then delete is allowed
    r = alice.post(f"/services/{MANUAL}/unpublish")
    assert r.status_code == 202 and r.json()["status"] == "offline", r.text
    assert not dag_file.exists()
    with api_server.airflow() as af:
        assert af.get(f"/dags/{dag_id}").status_code == 404
    assert alice.get(f"/services/{MANUAL}/instances").json()["items"] == []
    assert alice.post(f"/services/{MANUAL}/unpublish").status_code == 409
    assert target_rows(api_server, "crm_user_tags") == expected("20260102")  # the data stays
    assert alice.delete(f"/services/{MANUAL}").status_code == 204
    audit = [e["action"] for e in api_server.client("admin").get("/audit", params={"object_key": MANUAL}).json()]
    assert {"create", "publish", "run", "update", "unpublish", "delete"} <= set(audit)


def test_backfill_of_three_days_exports_three_dates_in_order(alice, api_server, service_body) -> None:
    create_with_table(alice, service_body(
        RECURRING, schedule={"type": "recurring", "daily_at": "02:30", "timezone": "Asia/Shanghai"},
        target={"conn_id": "crm_pg", "table": "crm_user_tags_p", "load": "overwrite",
                "partition": {"field": "ds", "format": "yyyy-MM-dd"}}))
    assert alice.post(f"/services/{RECURRING}/publish").status_code == 202
    assert wait_status(alice, RECURRING)["status"] == "published"
    r = alice.post(f"/services/{RECURRING}/run", json={})
    assert r.status_code == 409 and "recurring" in r.json()["detail"][0]["message"]
    r = alice.post(f"/services/{RECURRING}/backfill", json={"start": "2026-01-01", "end": "2999-01-01"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "end"
    # the limits are one check: REST and the CLI refuse a range with the same words
    for start, end, said in (("2026-01-03", "2026-01-01", "end: 2026-01-01 is before start 2026-01-03"),
                             ("2015-12-27", "2026-01-03", "end: a backfill covers at most 3660 data dates")):
        r = alice.post(f"/services/{RECURRING}/backfill", json={"start": start, "end": end})
        assert r.status_code == 422 and r.json()["detail"] == [{"field": "end", "message": said.split(": ", 1)[1]}]
        proc = tagoffline(api_server, "service", "backfill", RECURRING, "--start", start, "--end", end)
        assert proc.returncode == 1 and proc.stderr.strip() == f"error: {said}", proc.stderr

    r = alice.post(f"/services/{RECURRING}/backfill", json={"start": "2026-01-01", "end": "2026-01-03"})
    assert r.status_code == 202, r.text
    assert len(r.json()["run_ids"]) == 3
    # Unpaused with catchup=False, the scheduler also runs the latest interval at once (data date
    # T-1, absent from this warehouse): only the backfill's runs are looked at here.
    runs = wait_runs(alice, RECURRING, 3, run_type="backfill")
    assert [i["state"] for i in runs] == ["success"] * 3, (runs, api_server.log_tail("scheduler"))
    in_order = sorted(runs, key=lambda i: i["start"])
    assert [i["data_date"] for i in in_order] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert all(a["end"] <= b["start"] for a, b in zip(in_order, in_order[1:], strict=False))  # one at a time
    for ds in ("2026-01-01", "2026-01-02", "2026-01-03"):
        assert target_rows(api_server, "crm_user_tags_p", f"WHERE ds = '{ds}'") == expected(ds.replace("-", ""))


def test_broken_file_is_publish_failed_and_hides_no_other_dag(alice, api_server, service_body) -> None:
    """A DAG file Airflow cannot import (rendered by a newer provider than the parser's) becomes
    publish_failed with Airflow's own error text; the other published DAGs stay loaded."""
    name = "svc_broken_publish"
    create_with_table(alice, service_body(name, conn_id="crm_pg"))
    ok = "svc_ok_beside_broken"
    create_with_table(alice, service_body(ok, conn_id="crm_pg"))
    assert alice.post(f"/services/{ok}/publish").status_code == 202
    assert wait_status(alice, ok)["status"] == "published"
    publish_as_newer_provider(api_server, name)
    body = wait_status(alice, name)
    assert body["status"] == "publish_failed", body
    assert "run spec format 99 is newer" in body["status_message"], body["status_message"]
    assert {"publish", "delete"} <= set(body["actions"])
    with api_server.airflow() as af:
        errors = af.get("/importErrors").json()["import_errors"]
        assert any(e["filename"].endswith(f"{body['dag_id']}.py") for e in errors)
        assert af.get(f"/dags/{wait_status(alice, ok)['dag_id']}").json()["has_import_errors"] is False
    # delete of a publish_failed service removes its file and Airflow's import error
    assert alice.delete(f"/services/{name}").status_code == 204
    assert not (api_server.home / "dags" / "tag_offline" / f"{body['dag_id']}.py").exists()
    with api_server.airflow() as af:
        errors = af.get("/importErrors").json()["import_errors"]
        assert not any(e["filename"].endswith(f"{body['dag_id']}.py") for e in errors)

    # a failed republish of a published service puts the live version back: the DAG keeps running
    ok_dag = wait_status(alice, ok)["dag_id"]
    r = alice.get(f"/services/{ok}")
    edit = {**r.json()["definition"], "description": "a broken second version", "version": r.json()["version"]}
    assert alice.put(f"/services/{ok}", json=edit).status_code == 200
    publish_as_newer_provider(api_server, ok)
    body = wait_status(alice, ok, timeout=90)
    assert body["status"] == "publish_failed", body
    assert "the previously published version 1 was put back and keeps running" in body["status_message"]
    assert body["published_version"] == 1
    with api_server.airflow() as af:
        wait_for(lambda: af.get(f"/dags/{ok_dag}").json(), lambda d: d.get("has_import_errors") is False, 90,
                 "the restored DAG loads again")
        assert af.get(f"/dags/{ok_dag}").json()["description"] == "tags for the CRM"


def publish_as_newer_provider(api_server: Any, name: str) -> None:
    """Publish ``name`` with a DAG file whose run spec format (99) the installed provider refuses."""
    from airflow_provider_tagoffline.runspec import RUNSPEC_VERSION

    script = textwrap.dedent(f"""
        from airflow_provider_tagoffline.catalog import store
        from airflow_provider_tagoffline.catalog.repository import Actor
        from airflow_provider_tagoffline.rendering import render
        from airflow_provider_tagoffline.service import publishing

        plain = render.render_dag_source
        def newer(spec):  # what a provider with run spec format 99 would write
            return plain(spec).replace("'spec_version': {RUNSPEC_VERSION},", "'spec_version': 99,")
        render.render_dag_source = newer
        with store.session_scope() as s:
            print(publishing.publish(s, Actor.system("alice"), {name!r}).status)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=api_server.env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == "publishing", proc.stderr[-3000:]


def test_cli_publish_run_instances_unpublish(alice, api_server, service_body) -> None:
    name = "svc_cli_lifecycle"
    create_with_table(alice, service_body(name, conn_id="crm_pg", target={
        "conn_id": "crm_pg", "table": "crm_cli_tags", "load": "overwrite"}))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return tagoffline(api_server, *args)

    proc = cli("service", "publish", name, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "published"
    proc = cli("service", "run", name, "--date", "2026-01-03")
    assert proc.returncode == 0 and "queued for data date 2026-01-03" in proc.stdout, proc.stderr
    proc = cli("service", "run", name, "--date", "01/03/2026")
    assert proc.returncode == 1 and proc.stderr.strip() == "error: --date: '01/03/2026' is not a date YYYY-MM-DD"
    proc = cli("service", "backfill", name)
    assert proc.returncode == 1 and "is manual" in proc.stderr and "Traceback" not in proc.stderr
    wait_runs(alice, name, 1)
    proc = cli("service", "instances", name, "--json")
    [run] = json.loads(proc.stdout)
    assert run["state"] == "success" and run["data_date"] == "2026-01-03" and run["rows_written"] == 3
    assert "2026-01-03  success" in cli("service", "instances", name).stdout
    assert target_rows(api_server, "crm_cli_tags") == expected("20260103")
    proc = cli("service", "delete", name)
    assert proc.returncode == 1 and "unpublish it" not in proc.stderr and "cannot be deleted" in proc.stderr
    proc = cli("service", "unpublish", name)
    assert proc.returncode == 0 and "offline" in proc.stdout, proc.stderr
    assert cli("service", "delete", name).returncode == 0


def test_publish_refuses_a_pool_airflow_does_not_have(alice, api_server, service_body) -> None:
    """A task in a missing pool would never be scheduled: publish says so before a DAG file exists."""
    body = service_body("svc_in_a_pool", pool="tag_offline_heavy", queue="default")
    assert alice.post("/services", json=body).status_code == 201
    r = alice.post("/services/svc_in_a_pool/publish")
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == "pool"
    assert "Airflow has no pool 'tag_offline_heavy'" in r.json()["detail"][0]["message"]
    assert not list((api_server.home / "dags" / "tag_offline").glob("*svc_in_a_pool*"))
    with api_server.airflow("admin") as af:
        made = af.post("/pools", json={"name": "tag_offline_heavy", "slots": 2, "include_deferred": False})
        assert made.status_code in (200, 201), made.text
    assert alice.post("/services/svc_in_a_pool/publish").status_code == 202
    assert wait_status(alice, "svc_in_a_pool")["status"] == "published"
    with api_server.airflow("admin") as af:
        tasks = af.get("/dags/tag_offline__svc_in_a_pool/tasks").json()["tasks"]
    assert [(t["pool"], t["queue"]) for t in tasks] == [("tag_offline_heavy", "default")]
    alice.post("/services/svc_in_a_pool/unpublish")
