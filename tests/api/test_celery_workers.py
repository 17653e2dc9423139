"""Services on Airflow's CeleryExecutor: two Celery workers (own names, own queues) on Redis, the
scheduler, the dag-processor and the API server with the plugin, PostgreSQL metadata database.

Four services, two per queue, run at once and land on both workers, each exporting its rows. Then a
worker is SIGKILLed in the middle of an export (the run held at ``during_load`` by the engine's test
fault): the target keeps its old content for every reader, Airflow notices the lost task, and the
next try — cleared from Airflow, on a restarted worker — recovers the leftover stage table and
completes the target.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from test_publishing import create_with_table, expected, target_rows, wait_for, wait_status

from tests.live import pg_connect

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

QUEUES = {"svc_cel_a1": "q_a", "svc_cel_a2": "q_a", "svc_cel_b1": "q_b", "svc_cel_b2": "q_b"}
WORKER_OF_QUEUE = {"q_a": "worker_a", "q_b": "worker_b"}  # conftest's celery_server: worker_b also serves default
ApiServer = Any  # conftest.ApiServer (a conftest is not imported by name)


@pytest.fixture(scope="module")
def owner(celery_server: ApiServer) -> Iterator[httpx.Client]:
    with celery_server.client("alice") as c:
        yield c


@pytest.fixture(scope="module")
def published(celery_server: ApiServer, owner: httpx.Client, service_body: Any) -> list[str]:
    for name, queue in QUEUES.items():
        create_with_table(owner, service_body(name, queue=queue))
        assert owner.post(f"/services/{name}/publish").status_code == 202
    for name in QUEUES:
        assert wait_status(owner, name)["status"] == "published"
    return list(QUEUES)


def run_and_wait(owner: httpx.Client, names: list[str], data_date: str, timeout: float = 240) -> dict[str, dict]:
    """Trigger a run of each service for ``data_date`` at once; their instances when all finished."""
    run_ids = {}
    for name in names:
        r = owner.post(f"/services/{name}/run", json={"data_date": data_date})
        assert r.status_code == 202, r.text
        run_ids[name] = r.json()["run_id"]

    def instances() -> dict[str, dict]:
        out = {}
        for name in names:
            items = owner.get(f"/services/{name}/instances").json()["items"]
            out[name] = next(i for i in items if i["run_id"] == run_ids[name])
        return out

    return wait_for(instances, lambda got: all(i["state"] in ("success", "failed") for i in got.values()),
                    timeout, f"runs of {names}")


def task_instance(server: ApiServer, name: str, run_id: str) -> dict[str, Any]:
    with server.airflow("admin") as af:
        r = af.get(f"/dags/tag_offline__{name}/dagRuns/{run_id}/taskInstances")
        assert r.status_code == 200, r.text
        return r.json()["task_instances"][0]


def test_services_run_on_both_workers_and_export_their_rows(celery_server: ApiServer, owner: httpx.Client,
                                                             published: list[str]) -> None:
    runs = run_and_wait(owner, published, "2026-01-02")
    assert {n: i["state"] for n, i in runs.items()} == dict.fromkeys(published, "success"), runs
    hosts = {n: task_instance(celery_server, n, i["run_id"])["hostname"] for n, i in runs.items()}
    assert hosts == {n: WORKER_OF_QUEUE[q] for n, q in QUEUES.items()}  # each on its queue's worker: both used
    for name in published:
        assert target_rows(celery_server, f"t_{name}") == expected("20260102")


class Readers:
    """Readers of the target polling ``count(*)`` while runs come and go: every read must succeed
    and see a whole table (never missing, never empty)."""

    def __init__(self, table: str, dbname: str):
        self.table, self.dbname = table, dbname
        self.reads = self.failures = self.empty = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with pg_connect(self.dbname) as conn:
            while not self.stop.is_set():
                try:
                    (n,) = conn.execute(f'SELECT count(*) FROM "{self.table}"').fetchone()  # type: ignore[misc]
                    self.reads += 1
                    self.empty += n == 0
                except psycopg.Error:
                    self.failures += 1
                time.sleep(0.05)


def test_a_worker_killed_mid_export_is_recovered_by_the_next_try(celery_server: ApiServer, owner: httpx.Client,
                                                                  published: list[str], tmp_path: Path) -> None:
    victim = "svc_cel_a1"
    table = f"t_{victim}"
    before = target_rows(celery_server, table)
    assert before == expected("20260102")
    stack = celery_server.stack
    marker = tmp_path / "paused"
    # worker_a again, now holding its exports in the middle of the load
    stack.kill("worker_a")
    stack.start_extra("worker_a", {"TAGOFFLINE_PAUSE_AT": f"during_load:{marker}"})
    readers = Readers(table, celery_server.pg_dbs["target"])
    readers.thread.start()
    try:
        r = owner.post(f"/services/{victim}/run", json={"data_date": "2026-01-03"})
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        wait_for(marker.exists, bool, 180, "the export to reach the middle of its load")
        task_pid = int(marker.read_text())
        stack.kill("worker_a")  # SIGKILL: the worker, its task supervisors and tasks
        wait_for(lambda: _alive(task_pid), lambda alive: not alive, 10, "the task to die with its worker")
        marker.unlink()
        assert target_rows(celery_server, table) == before  # readers still see the old table, whole
        assert f"{table}_dpfx_b" in _tables(celery_server)  # the half-made stage stays behind

        # Airflow notices the lost task (heartbeat timeout); an operator clears it to retry now.
        wait_for(lambda: task_instance(celery_server, victim, run_id)["state"],
                 lambda s: s in ("up_for_retry", "failed"), 180, "Airflow to notice the lost task")
        stack.start_extra("worker_a")
        with celery_server.airflow("admin") as af:
            cleared = af.post(f"/dags/tag_offline__{victim}/clearTaskInstances",
                              json={"dag_run_id": run_id, "dry_run": False, "only_failed": False,
                                    "reset_dag_runs": True})
            assert cleared.status_code == 200, cleared.text
        ti = wait_for(lambda: task_instance(celery_server, victim, run_id),
                      lambda t: t["state"] in ("success", "failed"), 240, "the cleared try")
        assert ti["state"] == "success" and ti["hostname"] == "worker_a" and ti["try_number"] >= 2, ti
    finally:
        readers.stop.set()
        readers.thread.join(timeout=10)
    assert target_rows(celery_server, table) == expected("20260103")
    assert not [t for t in _tables(celery_server) if "_dpfx_" in t]
    assert readers.reads > 50 and readers.failures == 0 and readers.empty == 0, vars(readers)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a killed process its parent has not reaped yet is a zombie: not running)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _tables(server: ApiServer) -> list[str]:
    with pg_connect(server.pg_dbs["target"], autocommit=False) as conn:
        return [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
