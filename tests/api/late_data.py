"""Data that arrives while the tests run: an entity ``device`` of its own (so no other test's tags
change), one source table per test, partitions written into the stack's DuckDB warehouse while
Airflow reads it, and what the runs wrote and logged.

DuckDB lets one process write a file while no other has it open: a writer here and a waiting run's
look at the warehouse (every 2 s in the test stack) may collide for a moment, so writes are retried
(and the waiting run looks again at its next poke).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

TZ = "Asia/Shanghai"  # the stack's [tag_offline] timezone
#: tag -> the warehouse table it comes from (each a column ``score`` keyed by ``device_id``, partition ``ds``)
TABLES = {"score": "dws_device_d", "late_score": "dws_device_late_d", "never_score": "dws_device_never_d",
          "ui_score": "dws_device_ui_d", "ui_wait_score": "dws_device_ui_wait_d"}
DEVICE_CATALOG: dict[str, Any] = {
    "entities": [{
        "code": "device", "name": "Device",
        "ids": [{"code": "device_id", "name": "Device ID", "type": "bigint"}],
        "tags": [{"code": tag, "name": f"Score from {table}", "type": "bigint", "id": "device_id",
                  "source": {"table": table, "key": "device_id", "column": "score", "partition": "ds"}}
                 for tag, table in TABLES.items()]}],
    "grants": [{"application": "crm", "entity": "device", "tags": list(TABLES)}],
}


def add_devices(admin: httpx.Client, warehouse: Path) -> None:
    """The device entity, its tags granted to crm, and its (empty) source tables."""
    r = admin.post("/catalog/apply", json=DEVICE_CATALOG)
    assert r.status_code == 200, r.text
    create_tables(warehouse)


def remove(alice: httpx.Client, admin: httpx.Client, services: list[str]) -> None:
    """Unpublish and delete ``services``, then the device entity: the next module finds the catalog and
    the service list as they were (the warehouse tables stay, unread)."""
    for name in services:
        alice.post(f"/services/{name}/unpublish")
        r = alice.delete(f"/services/{name}")
        assert r.status_code in (204, 404), r.text
    for tag in TABLES:
        assert admin.delete(f"/catalog/entities/device/tags/{tag}").status_code in (204, 404)
    assert admin.delete("/catalog/entities/device/ids/device_id").status_code in (204, 404)
    assert admin.delete("/catalog/entities/device").status_code in (204, 404)


def yesterday() -> dt.date:
    """T-1 in the services' timezone."""
    return dt.datetime.now(ZoneInfo(TZ)).date() - dt.timedelta(days=1)


def latest_interval_start(daily_at: str) -> dt.date:
    """The data date of the scheduled run Airflow starts when a daily service at ``daily_at`` is
    published (catchup off: the latest interval that has ended)."""
    now = dt.datetime.now(ZoneInfo(TZ))
    hh, mm = map(int, daily_at.split(":"))
    ended_today = (now.hour, now.minute) >= (hh, mm)
    return now.date() - dt.timedelta(days=1 if ended_today else 2)


def scores(day: dt.date) -> dict[int, int]:
    """device_id -> score of partition ``day``: the score says the day it came from."""
    n = int(day.strftime("%Y%m%d"))
    return {1: n, 2: n + 1}


def write_warehouse(path: Path, statements: list[tuple[str, list[Any]]], timeout: float = 60) -> None:
    import duckdb

    deadline = time.monotonic() + timeout
    while True:
        try:
            db = duckdb.connect(str(path))
        except duckdb.IOException:  # a waiting run is looking at the file this instant
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        try:
            for sql, params in statements:
                db.execute(sql, params)
        finally:
            db.close()
        return


def create_tables(path: Path) -> None:
    write_warehouse(path, [(f"CREATE TABLE IF NOT EXISTS {t} (device_id BIGINT, score BIGINT, ds VARCHAR)", [])
                           for t in TABLES.values()])


def add_partition(path: Path, table: str, day: dt.date) -> None:
    ds = day.strftime("%Y%m%d")
    write_warehouse(path, [(f"DELETE FROM {table} WHERE ds = ?", [ds])] + [
        (f"INSERT INTO {table} VALUES (?, ?, ?)", [k, v, ds]) for k, v in scores(day).items()])


def device_service(name: str, tag: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name, "application": "crm", "owner": "alice", "entity": "device", "entity_id": "device_id",
        "schedule": {"type": "manual"},
        "target": {"conn_id": "crm_sqlite", "table": f"t_{name}", "load": "overwrite"},
        "mappings": [{"tag": tag, "value": "score"}],
    }
    body.update(changes)
    return body


def publish(client: httpx.Client, body: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    """Create the service, its table (one-click create) and publish it; the service once published."""
    r = client.post("/services", json=body)
    assert r.status_code == 201, r.text
    r = client.post(f"/services/{body['name']}/ddl", json={})
    assert r.status_code == 200, r.text
    r = client.post(f"/services/{body['name']}/publish")
    assert r.status_code == 202, r.text
    return wait_for(lambda: client.get(f"/services/{body['name']}").json(), lambda s: s["status"] == "published",
                    timeout, f"{body['name']} published")


def wait_for(fetch: Any, done: Any, timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s; last: {value}")
        time.sleep(every)


def instance(client: httpx.Client, name: str, run_id: str) -> dict[str, Any] | None:
    return next((i for i in client.get(f"/services/{name}/instances").json()["items"] if i["run_id"] == run_id), None)


def finished(client: httpx.Client, name: str, run_id: str, timeout: float = 120) -> dict[str, Any]:
    return wait_for(lambda: instance(client, name, run_id), lambda i: i is not None and i["state"] in (
        "success", "failed"), timeout, f"run {run_id} of {name}")


def target_scores(home: Path, table: str) -> dict[int, int]:
    db = sqlite3.connect(str(home / "target.db"))
    try:
        return dict(db.execute(f'SELECT device_id, score FROM "{table}" ORDER BY device_id').fetchall())
    finally:
        db.close()


def task_log(airflow: httpx.Client, dag_id: str, run_id: str, try_number: int = 1) -> str:
    """The export task's log as Airflow's REST API serves it (the lines the UI shows)."""
    from urllib.parse import quote

    r = airflow.get(f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/export/logs/{try_number}",
                    params={"full_content": "true"}, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    content = r.json()["content"]
    return "\n".join(line.get("event", "") if isinstance(line, dict) else str(line) for line in content)
