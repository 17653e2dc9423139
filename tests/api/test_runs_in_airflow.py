"""Runs as Airflow users start them, through the real Airflow of the session (API server, scheduler,
dag-processor, triggerer): every trigger path exports the same data date; a whole-table target
refuses an older one unless allowed; a late partition is waited for; one that never comes fails
after the service's wait with the reason, and frees the DAG's run slot.

The sources are tables of an entity of these tests (``late_data.py``), written while Airflow runs.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from late_data import (
    TABLES,
    add_devices,
    add_partition,
    device_service,
    finished,
    instance,
    latest_interval_start,
    publish,
    remove,
    scores,
    target_scores,
    task_log,
    wait_for,
    yesterday,
)

BIN = Path(sys.executable).parent
OLD = dt.date(2026, 1, 2)


@pytest.fixture(scope="module")
def devices(api_server: Any, admin: httpx.Client, alice: httpx.Client) -> Iterator[Path]:
    """The device entity and its source tables; yields the warehouse file. Removed afterwards with the
    services of this module."""
    warehouse = api_server.home / "warehouse.duckdb"
    add_devices(admin, warehouse)
    yield warehouse
    remove(alice, admin, ["dev_paths", "dev_late", "dev_never"])


@pytest.fixture(scope="module")
def waiting_services(devices: Path, alice: httpx.Client) -> Iterator[dict[str, dict[str, Any]]]:
    """Two recurring services published at once (their scheduled runs wait side by side): one whose
    partition comes 30 s later (wait up to 10 minutes), one whose partition never comes (wait 20 s)."""
    schedule = {"type": "recurring", "daily_at": "02:30"}
    out = {}
    for name, tag, wait in (("dev_late", "late_score", "10m"), ("dev_never", "never_score", "20s")):
        out[name] = publish(alice, device_service(name, tag, schedule={**schedule, "wait_for_data": wait}))
        out[name]["published_at"] = time.monotonic()
    yield out


def scheduled_run(client: httpx.Client, name: str, timeout: float = 60) -> dict[str, Any]:
    """The run the scheduler starts when the service is published (catchup off: the latest interval)."""
    return wait_for(lambda: next((i for i in client.get(f"/services/{name}/instances").json()["items"]
                                  if i["run_type"] == "scheduled"), None),
                    lambda i: i is not None and i["state"] not in ("queued", "scheduled", None), timeout,
                    f"the scheduled run of {name}")


def trigger(airflow: httpx.Client, dag_id: str, body: dict[str, Any]) -> str:
    r = airflow.post(f"/dags/{dag_id}/dagRuns", json=body)
    assert r.status_code in (200, 201), r.text
    return str(r.json()["dag_run_id"])


def cli(api_server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "tagoffline"), *args], env={**api_server.env, "TAGOFFLINE_USER": "alice"},
                          capture_output=True, text=True, timeout=300)


def test_every_trigger_path_exports_t_minus_1_and_an_older_date_needs_allow_older(
        api_server: Any, devices: Path, alice: httpx.Client) -> None:
    name, table = "dev_paths", "t_dev_paths"
    t1 = yesterday()
    for day in (OLD, t1):
        add_partition(devices, TABLES["score"], day)
    svc = publish(alice, device_service(name, "score"))
    dag_id = svc["dag_id"]
    assert svc["default_data_date"] == t1.isoformat()  # what the plugin's Run dialog offers
    af = api_server.airflow("alice")

    # the plugin's Run (REST) for a chosen date: the table now holds OLD
    r = alice.post(f"/services/{name}/run", json={"data_date": OLD.isoformat()})
    assert r.status_code == 202, r.text
    assert finished(alice, name, r.json()["run_id"])["state"] == "success"
    assert target_scores(api_server.home, table) == scores(OLD)

    # no date anywhere: each path exports T-1 in the service's timezone
    runs = {
        "Airflow REST, conf {}": trigger(af, dag_id, {"logical_date": None, "conf": {}}),
        "Airflow REST, no conf, a logical date": trigger(
            af, dag_id, {"logical_date": dt.datetime.now(dt.UTC).isoformat()}),
    }
    proc = cli(api_server, "service", "run", name, "--json")
    assert proc.returncode == 0, proc.stderr
    runs["tagoffline service run"] = json.loads(proc.stdout)["run_id"]
    r = alice.post(f"/services/{name}/run")
    assert r.status_code == 202 and r.json()["data_date"] == t1.isoformat()
    runs["the plugin's Run, no body"] = r.json()["run_id"]
    for path, run_id in runs.items():
        done = finished(alice, name, run_id)
        assert (done["data_date"], done["state"]) == (t1.isoformat(), "success"), (path, done)
    assert target_scores(api_server.home, table) == scores(t1)
    # Airflow recorded what the table holds: the asset event's extra, on Airflow's asset page too
    events = af.get("/assets/events", params={"source_dag_id": dag_id, "order_by": "-timestamp", "limit": 1}).json()
    assert events["asset_events"][0]["extra"]["data_date"] == t1.isoformat()

    # an older date on this whole table: refused everywhere, naming both dates, before anything is written
    said = (f"target crm_sqlite:{table} holds data date {t1}; data date {OLD} is older and would roll it back: "
            "refused, the table is untouched (allow_older runs it anyway)")
    r = alice.post(f"/services/{name}/run", json={"data_date": OLD.isoformat()})
    assert r.status_code == 409 and r.json()["detail"][0]["message"] == said
    proc = cli(api_server, "run", name, "--date", OLD.isoformat())
    # the run's own check, under its lock (the stack logs Airflow at INFO: its hooks' lines come first)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == f"error: {said}", proc.stderr
    refused = finished(alice, name, trigger(af, dag_id, {"logical_date": None, "conf": {"data_date": OLD.isoformat()}}))
    # Airflow's own path: the run fails at once with the reason, no retry (a retry would not help)
    assert (refused["state"], refused["error"], refused["try_number"]) == ("failed", said, 1)
    assert target_scores(api_server.home, table) == scores(t1)

    # allowed: Airflow's trigger form param / REST conf, then the CLI back to T-1, in-process
    allowed = finished(alice, name, trigger(af, dag_id, {"logical_date": None, "conf": {
        "data_date": OLD.isoformat(), "allow_older": True}}))
    assert (allowed["state"], allowed["data_date"]) == ("success", OLD.isoformat())
    assert target_scores(api_server.home, table) == scores(OLD)
    proc = cli(api_server, "run", name)  # default: T-1 in the service's timezone
    assert proc.returncode == 0 and f"SUCCESS: {name} data date {t1}" in proc.stdout, proc.stderr
    assert target_scores(api_server.home, table) == scores(t1)
    # the in-process run recorded what the table holds with the table: the next older run is refused again
    r = alice.post(f"/services/{name}/run", json={"data_date": OLD.isoformat()})
    assert r.status_code == 409 and r.json()["detail"][0]["message"] == said
    r = alice.post(f"/services/{name}/run", json={"data_date": OLD.isoformat(), "allow_older": True})
    assert r.status_code == 202, r.text
    assert finished(alice, name, r.json()["run_id"])["state"] == "success"


def test_a_partition_that_comes_30_s_late_is_waited_for(api_server: Any, devices: Path, alice: httpx.Client,
                                                        waiting_services: dict[str, dict[str, Any]]) -> None:
    name = "dev_late"
    run = wait_for(lambda: scheduled_run(alice, name), lambda i: i["state"] == "deferred", 60,
                   "the scheduled run waiting")
    day = latest_interval_start("02:30")
    ds = day.strftime("%Y%m%d")
    assert run["data_date"] == day.isoformat()
    assert run["waiting_for"] == f"partition ds={ds} of table dws_device_late_d" and run["waiting_until"]
    assert alice.get(f"/services/{name}").json()["execution_status"] == "waiting_for_data"
    # it keeps waiting, holding no worker, while the partition is not there
    late_by = time.monotonic() + 30
    while time.monotonic() < late_by:
        assert instance(alice, name, run["run_id"])["state"] == "deferred"
        time.sleep(2)
    add_partition(devices, TABLES["late_score"], day)
    done = finished(alice, name, run["run_id"], timeout=90)
    assert (done["state"], done["data_date"], done["rows_written"], done["try_number"]) == \
        ("success", day.isoformat(), 2, 1), done
    assert target_scores(api_server.home, "t_dev_late") == scores(day)
    log = task_log(api_server.airflow(), waiting_services[name]["dag_id"], run["run_id"])
    assert f"waiting for partition ds={ds} of table dws_device_late_d" in log
    assert f"SUCCESS: {name} data date {day}" in log and "gates passed" in log  # the run report, at INFO


def test_a_partition_that_never_comes_fails_after_the_wait_and_frees_the_slot(
        api_server: Any, alice: httpx.Client, waiting_services: dict[str, dict[str, Any]]) -> None:
    name = "dev_never"
    dag_id = waiting_services[name]["dag_id"]
    run = scheduled_run(alice, name)
    done = finished(alice, name, run["run_id"], timeout=120)
    day = latest_interval_start("02:30")
    assert done["state"] == "failed" and done["try_number"] == 1, done  # no retries: waiting again would not help
    assert done["error"] == (f"waited 20s for data date {day}: partition ds={day.strftime('%Y%m%d')} of table "
                             "dws_device_never_d still not there; the target is untouched")
    ended = dt.datetime.fromisoformat(done["end"])
    started = dt.datetime.fromisoformat(done["start"])
    assert 20 <= (ended - started).total_seconds() < 80, done  # the wait, then the failure, not hours later
    # the DAG's only run slot is free: a run triggered now starts at once (and fails at once: no data)
    now = trigger(api_server.airflow("alice"), dag_id, {"logical_date": None, "conf": {}})
    nxt = finished(alice, name, now, timeout=60)
    assert dt.datetime.fromisoformat(nxt["start"]) >= ended and nxt["state"] == "failed"
    assert nxt["error"].startswith(f"no rows for data date {dt.date.fromisoformat(nxt['data_date'])} in "
                                   "dws_device_never_d")  # a manual run does not wait
    assert alice.get(f"/services/{name}").json()["execution_status"] == "failed"


def test_a_failure_airflow_retries_shows_up_for_retry_with_its_reason(api_server: Any, devices: Path,
                                                                      alice: httpx.Client) -> None:
    """Not a missing partition: Airflow's retries apply, and the instance says so (no end time yet)."""
    name = "dev_retry"
    add_partition(devices, TABLES["score"], OLD)
    publish(alice, device_service(name, "score"))
    db = sqlite3.connect(str(api_server.home / "target.db"))
    db.execute(f'DROP TABLE "t_{name}"')  # someone dropped the target after publishing
    db.commit()
    db.close()
    r = alice.post(f"/services/{name}/run", json={"data_date": OLD.isoformat()})
    assert r.status_code == 202, r.text
    run = wait_for(lambda: instance(alice, name, r.json()["run_id"]),
                   lambda i: i is not None and i["state"] == "up_for_retry", 90, "the run waiting for its retry")
    assert run["error"] == (f"target table t_{name} does not exist; create it first (tagoffline service ddl NAME "
                            "--execute)"), run
    assert run["end"] is None and run["try_number"] == 1 and run["data_date"] == OLD.isoformat()
    assert alice.get(f"/services/{name}").json()["execution_status"] == "up_for_retry"
    assert alice.post(f"/services/{name}/unpublish").json()["status"] == "offline"
    assert alice.delete(f"/services/{name}").status_code == 204
