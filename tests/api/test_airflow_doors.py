"""Airflow's own doors under SimpleAuthManager (no per-DAG access), through the session's real Airflow:
the export task holds the service's rights (issue 20, finding 3).

mallory (Airflow role ``user``, admin of the rival application ``other``) triggers alice's DAG through
Airflow's REST API with ``allow_older``, and creates a backfill of alice's recurring DAG: Airflow creates
the runs, and each fails before the target is opened, naming mallory; alice's table keeps its rows. bob
(a member of crm) may run the service he owns but not allow an older data date; alice (admin of crm) may.
A pause of alice's DAG by mallory is shown in the service's details (REST, CLI, web view).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser import chromium, shot, signed_in_page
from late_data import finished, task_log, wait_for
from playwright.sync_api import expect
from stack import BIN
from test_publishing import create_with_table, expected, tagoffline, target_rows, wait_status

pytestmark = [pytest.mark.airflow]

MANUAL, RECURRING = "doors_a", "doors_r"
NEWEST, OLDER = "2026-01-03", "2026-01-01"


def _publish(client: httpx.Client, body: dict[str, Any]) -> str:
    create_with_table(client, body)
    r = client.post(f"/services/{body['name']}/publish")
    assert r.status_code == 202, r.text
    assert wait_status(client, body["name"])["status"] == "published"
    return str(r.json()["dag_id"])


def _trigger(af: httpx.Client, dag_id: str, conf: dict[str, Any]) -> str:
    r = af.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
    assert r.status_code == 200, r.text  # Airflow lets it in: SimpleAuthManager has no per-DAG access
    return str(r.json()["dag_run_id"])


@pytest.fixture(scope="module")
def manual(api_server: Any, alice: httpx.Client, service_body: Any) -> Iterator[str]:
    """alice's manual service on a whole table holding NEWEST."""
    dag_id = _publish(alice, service_body(MANUAL, target={"conn_id": "crm_pg", "table": "t_doors_a",
                                                          "load": "overwrite"}))
    r = alice.post(f"/services/{MANUAL}/run", json={"data_date": NEWEST})
    assert r.status_code == 202, r.text
    assert finished(alice, MANUAL, r.json()["run_id"])["state"] == "success"
    yield dag_id
    alice.post(f"/services/{MANUAL}/unpublish")
    alice.delete(f"/services/{MANUAL}")


def test_mallory_triggers_alices_dag_with_allow_older_and_the_task_refuses(
        api_server: Any, alice: httpx.Client, manual: str) -> None:
    """Finding 3 as written: the run is created by Airflow, its task refuses before opening the target."""
    holds = target_rows(api_server, "t_doors_a")
    assert holds == expected("20260103")
    with api_server.airflow("mallory") as af:
        attack = _trigger(af, manual, {"data_date": OLDER, "allow_older": True})
        plain = _trigger(af, manual, {})
        assert af.get(f"/dags/{manual}/dagRuns/{attack}").json()["triggering_user_name"] == "mallory"
    said = (f"refused: user 'mallory' may not run service {MANUAL!r} (only Airflow admins, admins of application "
            "'crm' and the service's owner may); this manual run was let in by Airflow, the target is untouched")
    for run_id in (attack, plain):
        done = finished(alice, MANUAL, run_id)
        assert (done["state"], done["error"], done["try_number"]) == ("failed", said, 1), done
    assert target_rows(api_server, "t_doors_a") == holds
    with api_server.airflow("admin") as af:
        log = task_log(af, manual, attack)
    assert said in log and "Opening" not in log and "lock" not in log.lower(), log[-2000:]


def test_a_member_runs_the_service_he_owns_but_may_not_allow_older(
        api_server: Any, alice: httpx.Client, bob: httpx.Client, manual: str, service_body: Any) -> None:
    # alice hands the service to bob (a member of crm): the access record follows the edit
    body = alice.get(f"/services/{MANUAL}").json()
    r = alice.put(f"/services/{MANUAL}", json={**body["definition"], "owner": "bob", "version": body["version"]})
    assert r.status_code == 200, r.text
    with api_server.airflow("admin") as af:
        record = json.loads(af.get(f"/variables/tag_offline__{MANUAL}__access").json()["value"])
    assert (record["run"], record["allow_older"]) == (["alice", "bob"], ["alice"])
    assert "admin" in record["airflow_admins"]["names"] and record["airflow_admins"]["listed"]

    # the plugin's own door: the same rule, before Airflow is asked
    r = bob.post(f"/services/{MANUAL}/run", json={"data_date": OLDER, "allow_older": True})
    assert r.status_code == 403 and "may not allow an older data date" in r.json()["detail"][0]["message"]
    # Airflow's door: the task
    with api_server.airflow("bob") as af:
        ok = _trigger(af, manual, {"data_date": NEWEST})
        older = _trigger(af, manual, {"data_date": OLDER, "allow_older": True})
    assert finished(alice, MANUAL, ok)["state"] == "success"
    done = finished(alice, MANUAL, older)
    assert done["state"] == "failed" and done["error"] == (
        f"refused: user 'bob' may not allow an older data date (allow_older) for service {MANUAL!r} (only Airflow "
        "admins and admins of application 'crm' may); the target is untouched")
    assert target_rows(api_server, "t_doors_a") == expected("20260103")

    # alice (admin of crm) may, through the plugin: the run carries her as its triggering user
    r = alice.post(f"/services/{MANUAL}/run", json={"data_date": OLDER, "allow_older": True})
    assert r.status_code == 202, r.text
    assert finished(alice, MANUAL, r.json()["run_id"])["state"] == "success"
    rollback = r.json()["run_id"]
    with api_server.airflow("admin") as af:
        assert af.get(f"/dags/{manual}/dagRuns/{rollback}").json()["triggering_user_name"] == "alice"
    assert target_rows(api_server, "t_doors_a") == expected("20260101")


def test_mallorys_other_doors_leave_the_target_alone(api_server: Any, alice: httpx.Client, manual: str) -> None:
    """Clear, mark, patch conf, delete: each as mallory, on alice's runs; the table keeps its data date."""
    # first the CLI's door, as an OS user Airflow and the catalog do not know: the plugin vouches for its run
    proc = subprocess.run([str(BIN / "tagoffline"), "service", "run", MANUAL, "--date", NEWEST, "--json"],
                          env={**api_server.env, "TAGOFFLINE_USER": "ops_oncall"}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert finished(alice, MANUAL, json.loads(proc.stdout)["run_id"])["state"] == "success"
    assert target_rows(api_server, "t_doors_a") == expected("20260103")
    rollback = next(i["run_id"] for i in alice.get(f"/services/{MANUAL}/instances").json()["items"]
                    if i["data_date"] == OLDER and i["state"] == "success")  # alice's allowed rollback, above
    with api_server.airflow("mallory") as af:
        # clear: the run goes again as alice's; its allow_older is not honoured on a re-run
        r = af.post(f"/dags/{manual}/dagRuns/{rollback}/clear", json={"dry_run": False})
        assert r.status_code == 200, r.text
        again = wait_for(lambda: next(i for i in alice.get(f"/services/{MANUAL}/instances").json()["items"]
                                      if i["run_id"] == rollback),
                         lambda i: i["try_number"] == 2 and i["state"] in ("success", "failed"), 120, "the re-run")
        assert again["state"] == "failed" and again["error"] == (
            f"refused: this manual run of service {MANUAL!r} asks for an older data date (allow_older) and was "
            "cleared to run again, by someone the task cannot tell; trigger a new run to export an older data date; "
            "the target is untouched")
        # mark, patch a run's conf, delete: Airflow's records only
        assert af.patch(f"/dags/{manual}/dagRuns/{rollback}", json={"state": "success"}).status_code == 200
        assert af.patch(f"/dags/{manual}/dagRuns/{rollback}",
                        json={"conf": {"data_date": OLDER}}).status_code == 422  # Airflow 3 patches state / note only
        assert af.delete(f"/dags/{manual}/dagRuns/{rollback}").status_code == 204
    assert target_rows(api_server, "t_doors_a") == expected("20260103")


def test_mallorys_backfill_of_alices_dag_is_refused_run_by_run(
        api_server: Any, alice: httpx.Client, service_body: Any) -> None:
    dag_id = _publish(alice, service_body(
        RECURRING, schedule={"type": "recurring", "daily_at": "02:30", "timezone": "Asia/Shanghai",
                             "wait_for_data": "0"},
        target={"conn_id": "crm_pg", "table": "t_doors_r", "load": "overwrite"}))
    try:
        # the schedule's own run (T-1: no data there) ends at once and frees the DAG's run slot
        wait_for(lambda: [i for i in alice.get(f"/services/{RECURRING}/instances").json()["items"]],
                 lambda items: bool(items) and all(i["state"] in ("success", "failed") for i in items), 120,
                 "the scheduled run")
        before = target_rows(api_server, "t_doors_r")
        with api_server.airflow("mallory") as af:
            r = af.post("/backfills", json={"dag_id": dag_id, "from_date": "2026-01-01T00:00:00+08:00",
                                             "to_date": "2026-01-02T23:59:59+08:00", "max_active_runs": 1,
                                             "dag_run_conf": {"allow_older": True}})
            assert r.status_code == 200, r.text  # Airflow lets it in
            backfill_id = r.json()["id"]
        runs = wait_for(lambda: [i for i in alice.get(f"/services/{RECURRING}/instances").json()["items"]
                                 if i["run_type"] == "backfill"],
                        lambda items: len(items) == 2 and all(i["state"] in ("success", "failed") for i in items),
                        240, "mallory's backfill")
        assert sorted(i["data_date"] for i in runs) == ["2026-01-01", "2026-01-02"]
        for run in runs:
            assert run["state"] == "failed" and run["error"] == (
                f"refused: user 'mallory' may not run service {RECURRING!r} (only Airflow admins, admins of "
                "application 'crm' and the service's owner may); this backfill was let in by Airflow, the target "
                "is untouched"), run
        assert target_rows(api_server, "t_doors_r") == before
        with api_server.airflow("admin") as af:  # one backfill per DAG at a time: the scheduler ends this one
            wait_for(lambda: af.get(f"/backfills/{backfill_id}").json(), lambda b: b["completed_at"] is not None, 60,
                     "mallory's backfill to complete")

        # the plugin's backfill for alice runs: its runs carry her name
        r = alice.post(f"/services/{RECURRING}/backfill", json={"start": "2026-01-02", "end": "2026-01-02"})
        assert r.status_code == 202, r.text
        [run_id] = r.json()["run_ids"]
        assert finished(alice, RECURRING, run_id)["state"] == "success"
        assert target_rows(api_server, "t_doors_r") == expected("20260102")
    finally:
        alice.post(f"/services/{RECURRING}/unpublish")
        alice.delete(f"/services/{RECURRING}")


def test_a_pause_outside_the_plugin_is_shown_with_who_and_when(
        api_server: Any, alice: httpx.Client, manual: str) -> None:
    assert alice.get(f"/services/{MANUAL}").json()["airflow_pause"] is None
    with api_server.airflow("mallory") as af:
        r = af.patch(f"/dags/{manual}", params={"update_mask": "is_paused"}, json={"is_paused": True})
        assert r.status_code == 200, r.text  # SimpleAuthManager: any `user` may pause any DAG
    pause = alice.get(f"/services/{MANUAL}").json()["airflow_pause"]
    assert (pause["paused"], pause["by"], pause["via"]) == (True, "mallory", "Airflow REST API / UI"), pause
    assert pause["message"].startswith("paused in Airflow by mallory at ") and pause["message"].endswith(
        " UTC (Airflow REST API / UI), not through the plugin")
    shown = json.loads(tagoffline(api_server, "service", "show", MANUAL, "--json").stdout)["airflow_pause"]
    assert shown == pause
    with chromium() as browser:
        page = signed_in_page(browser, api_server, "alice")
        page.goto(f"{api_server.base_url}/tag-offline/ui/#/service/{MANUAL}")
        expect(page.locator("#airflow-pause")).to_have_text(pause["message"])
        shot(page, "paused-outside-the-plugin")
        page.context.close()
    with api_server.airflow("alice") as af:
        assert af.patch(f"/dags/{manual}", params={"update_mask": "is_paused"},
                        json={"is_paused": False}).status_code == 200
    pause = alice.get(f"/services/{MANUAL}").json()["airflow_pause"]
    assert (pause["paused"], pause["by"]) == (False, "alice")
