"""Seconds from `publish` to `published`: median of 10 new services (issue 4).

Starts a real Airflow (API server, scheduler, dag-processor; PostgreSQL metadata database; the
same launcher as the integration tests, ``tests/stack.py``), then publishes 10 new services one
after another through the REST API and polls ``GET /tag-offline/services/NAME`` every 0.2 s until
each is ``published``. The reference is what a new DAG file costs without the parse request:
the bundle refresh interval, ``[dag_processor] refresh_interval`` (300 s by default).

    .venv/bin/python bench/bench_publish_latency.py [COUNT]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from stack import bench_stack

PG_BASE = "postgresql://postgres@127.0.0.1:5432"
CATALOG = {
    "applications": [{"code": "crm", "name": "CRM", "admins": ["admin"], "members": []}],
    "entities": [{"code": "user", "name": "User", "ids": [{"code": "user_id", "name": "User ID", "type": "bigint"}],
                  "tags": [{"code": "gender", "name": "Gender", "type": "string", "id": "user_id",
                            "source": {"table": "dws_user_d", "key": "user_id", "column": "gender",
                                       "partition": "ds"}}]}],
    "grants": [{"application": "crm", "entity": "user", "tags": ["gender"]}],
    "target_grants": [{"application": "crm", "conn_id": "app_db"}],
}


def main(count: int) -> None:
    db = f"tot_bench_af_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    home = Path(tempfile.mkdtemp(prefix="tagoffline-bench-publish-"))
    stack = None
    try:
        stack, admin = bench_stack(home, f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}",
                                   f"sqlite:///{home / 'catalog.db'}")
        client = httpx.Client(base_url=f"{stack.base_url}/tag-offline", headers=admin.headers, timeout=60)
        assert client.post("/catalog/apply", json=CATALOG).status_code == 200
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
    finally:
        if stack is not None:
            stack.stop()
        with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    median = statistics.median(seconds)
    print(f"min {min(seconds):.2f} s, max {max(seconds):.2f} s; reference: bundle refresh interval 300 s")
    print(f"publish -> published, median of {count}: {median:.2f} s ({300 / median:.0f}x faster than waiting "
          "for the bundle refresh)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
