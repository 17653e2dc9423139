"""Seconds from `publish` to `published`: median of 10 new services (issue 4).

Starts a real Airflow (API server, scheduler, dag-processor; PostgreSQL metadata database; the
same launcher as the integration tests, ``tests/stack.py``), then publishes 10 new services one
after another through the REST API and polls ``GET /tag-offline/services/NAME`` every 0.2 s until
each is ``published``. The reference is what a new DAG file costs without the parse request:
the bundle refresh interval, ``[dag_processor] refresh_interval`` (300 s by default).

    .venv/bin/python -m bench.bench_publish_latency [COUNT]
"""

from __future__ import annotations

import statistics
import sys
import time

import httpx

from bench.common import ONE_TAG_CATALOG, airflow_stack


def main(count: int) -> None:
    with airflow_stack("publish", catalog_on_postgres=False) as (stack, admin, _):
        client = httpx.Client(base_url=f"{stack.base_url}/tag-offline", headers=admin.headers, timeout=60)
        assert client.post("/catalog/apply", json=ONE_TAG_CATALOG).status_code == 200
        seconds = []
        for i in range(count):
            name = f"bench_publish_{i}"
            body = {"name": name, "application": "crm", "owner": "admin", "entity": "user", "entity_id": "user_id",
                    "schedule": {"type": "manual"}, "target": {"conn_id": "app_db", "table": f"t_{i}"},
                    "mappings": [{"tag": "gender", "value": "gender"}]}
            assert client.post("/services", json=body).status_code == 201
            started = time.monotonic()
            assert client.post(f"/services/{name}/publish").status_code == 202
            while (status := client.get(f"/services/{name}").json()["status"]) == "publishing":
                time.sleep(0.2)
            took = time.monotonic() - started
            if status != "published":
                raise SystemExit(f"{name}: {status}: {client.get(f'/services/{name}').json()['status_message']}")
            seconds.append(took)
            print(f"{name}: published after {took:.2f} s", flush=True)
    median = statistics.median(seconds)
    print(f"min {min(seconds):.2f} s, max {max(seconds):.2f} s; reference: bundle refresh interval 300 s")
    print(f"publish -> published, median of {count}: {median:.2f} s ({300 / median:.0f}x faster than waiting "
          "for the bundle refresh)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
