"""1,000 published services on one Airflow: what the dag-processor and the scheduler pay, and how
long a publish takes at that size.

    .venv/bin/python -m bench.bench_scale [SERVICES] [WINDOW_SECONDS]   (default 1000 services, 60 s)

A real Airflow (``tests/stack.py``: API server, scheduler, dag-processor, LocalExecutor; metadata
database and catalog store on PostgreSQL; Airflow's defaults: ``min_file_process_interval`` 30 s,
``parsing_processes`` 2). SERVICES recurring services are created and published through the REST
API (daily at times that do not come up during the bench, so nothing runs). Printed:

* publishing them all: seconds until every one is ``published`` (every file parsed once);
* the parse loop: with every DAG loaded, the seconds until each has been parsed again (the longest
  a DAG file's edit waits for the dag-processor), and the dag-processor's CPU meanwhile;
* the scheduler's CPU over WINDOW_SECONDS with SERVICES DAGs to schedule;
* publish → published for three more services (median), at that size.

CPU is the processes' utime + stime (their whole session: the components' own children included)
per wall second: 1.0 is one core busy.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

from bench.common import ONE_TAG_CATALOG, airflow_stack
from tests.stack import AirflowStack

LOOP_GIVE_UP = 1800  # seconds: a loaded machine may never finish the loop in a bench's time


def service(i: int, daily_at: str) -> dict:
    return {"name": f"scale_{i:04d}", "application": "crm", "owner": "admin", "entity": "user",
            "entity_id": "user_id", "schedule": {"type": "recurring", "daily_at": daily_at, "timezone": "UTC"},
            "target": {"conn_id": "app_db", "table": f"t_{i:04d}"}, "mappings": [{"tag": "gender", "value": "gender"}]}


def cpu_seconds(stack: AirflowStack, component: str) -> float:
    """utime + stime of every process in ``component``'s session (it was started in one of its own)."""
    sid = stack.procs[component].pid
    ticks = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def parsed_times(af: httpx.Client) -> dict[str, str]:
    out: dict[str, str] = {}
    offset = 0
    while True:
        page = af.get("/dags", params={"dag_id_pattern": "tag_offline__scale", "limit": 100, "offset": offset}).json()
        out.update({d["dag_id"]: d["last_parsed_time"] for d in page["dags"]})
        offset += 100
        if offset >= page["total_entries"]:
            return out


def main(count: int, window: float) -> None:
    with airflow_stack("scale") as (stack, admin, _):
        client = httpx.Client(base_url=f"{stack.base_url}/tag-offline", headers=admin.headers, timeout=120)
        af = httpx.Client(base_url=f"{stack.base_url}/api/v2", headers=admin.headers, timeout=120)
        assert client.post("/catalog/apply", json=ONE_TAG_CATALOG).status_code == 200
        # Daily times 2 to 22 hours from now: no run starts while the bench measures.
        now = dt.datetime.now(dt.UTC)
        times = [(now + dt.timedelta(hours=2, minutes=(i * 1200) // count)).strftime("%H:%M") for i in range(count)]
        t = time.monotonic()
        for i in range(count):
            assert client.post("/services", json=service(i, times[i])).status_code == 201
        created = time.monotonic() - t
        t = time.monotonic()
        for i in range(count):
            r = client.post(f"/services/scale_{i:04d}/publish")
            assert r.status_code == 202, r.text
        written = time.monotonic() - t
        while True:
            page = client.get("/services", params={"status": "publishing", "page_size": 1}).json()
            if page["total"] == 0:
                break
            time.sleep(2)
        published_all = time.monotonic() - t
        failed = client.get("/services", params={"status": "publish_failed", "page_size": 1}).json()["total"]
        print(f"{count} services: created in {created:.1f} s, published (files written) in {written:.1f} s, "
              f"all parsed and published after {published_all:.1f} s; publish_failed: {failed}", flush=True)

        # The parse loop: how long until every DAG is parsed again, and what it costs the dag-processor.
        t0 = dt.datetime.now(dt.UTC).isoformat()
        cpu0, wall0 = cpu_seconds(stack, "dag-processor"), time.monotonic()
        while True:
            stale = [d for d, p in parsed_times(af).items() if (p or "") < t0]
            if not stale or time.monotonic() - wall0 > LOOP_GIVE_UP:
                break
            time.sleep(2)
        loop = time.monotonic() - wall0
        if stale:
            print(f"parse loop: {len(stale)} DAGs not parsed again after {loop:.0f} s (given up)", flush=True)
        dp_cpu = (cpu_seconds(stack, "dag-processor") - cpu0) / loop
        print(f"parse loop: every DAG parsed again within {loop:.1f} s; dag-processor CPU {dp_cpu:.2f} cores",
              flush=True)

        cpu0, wall0 = cpu_seconds(stack, "scheduler"), time.monotonic()
        dp0 = cpu_seconds(stack, "dag-processor")
        time.sleep(window)
        elapsed = time.monotonic() - wall0
        sched = (cpu_seconds(stack, "scheduler") - cpu0) / elapsed
        dp = (cpu_seconds(stack, "dag-processor") - dp0) / elapsed
        print(f"over {elapsed:.0f} s: scheduler CPU {sched:.2f} cores, dag-processor CPU {dp:.2f} cores", flush=True)

        seconds = []
        for i in range(count, count + 3):
            assert client.post("/services", json=service(i, times[0])).status_code == 201
            started = time.monotonic()
            assert client.post(f"/services/scale_{i:04d}/publish").status_code == 202
            while client.get(f"/services/scale_{i:04d}").json()["status"] == "publishing":
                time.sleep(0.2)
            seconds.append(time.monotonic() - started)
        print(f"publish -> published with {count} DAGs loaded: median {statistics.median(seconds):.2f} s "
              f"({', '.join(f'{s:.2f}' for s in seconds)})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000, float(sys.argv[2]) if len(sys.argv) > 2 else 60)
