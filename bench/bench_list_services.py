"""p95 latency of listing 5,000 services with filters through the REST API (issue 5).

Starts Airflow's API server with the plugin (``tests/stack.py``; catalog store and Airflow's
metadata DB on PostgreSQL), creates one service through the API and clones it in SQL into
5,000 services spread over 3 applications, 50 owners, every task status, both schedule types
and 3 target kinds (some published, so execution status is read from Airflow for each page).
Then it times ``GET /tag-offline/services`` for a set of filter combinations, each REPEAT
times, and the same number of ``GET /api/v2/dags?limit=50`` on the same server as the
reference: Airflow's own authenticated list endpoint.

    .venv/bin/python -m bench.bench_list_services [SERVICES] [REPEAT]
"""

from __future__ import annotations

import statistics
import sys
import time

from airflow_provider_tagoffline.runspec import RunSpec
from bench.common import airflow_stack
from tests.live import pg_connect

APPS = ("crm", "risk", "ads")
CATALOG = {
    "applications": [{"code": a, "name": a.upper(), "admins": ["admin"], "members": []} for a in APPS],
    "entities": [{"code": "user", "name": "User", "ids": [{"code": "user_id", "name": "User ID", "type": "bigint"}],
                  "tags": [{"code": "gender", "name": "Gender", "type": "string", "id": "user_id",
                            "source": {"table": "dws_user_d", "key": "user_id", "column": "gender",
                                       "partition": "ds"}}]}],
    "grants": [{"application": a, "entity": "user", "tags": ["gender"]} for a in APPS],
    "target_grants": [{"application": a, "conn_id": "app_db"} for a in APPS],
}
#: the run spec the published clones run (svc_0 as publishing would freeze it)
LIVE_SPEC = RunSpec.model_validate({
    "service": {"name": "svc_0", "slug": "svc_0", "application": "crm", "owner": "admin", "version": 1},
    "entity_key": {"entity": "user", "code": "user_id", "name": "User ID", "type": "bigint"},
    "warehouse_conn_id": "tag_warehouse",
    "sources": [{"table": "dws_user_d", "key": "user_id", "partition": {"column": "ds", "format": "yyyyMMdd"}}],
    "tags": [{"code": "gender", "name": "Gender", "type": "string", "source": 0, "column": "gender"}],
    "outputs": [{"column": "gender", "tag": "gender", "content": "value", "type": "string"}],
    "target": {"conn_id": "app_db", "kind": "sqlite", "table": "t_0", "key_column": "user_id"},
    "schedule": {"type": "manual"},
})
STATUSES = ("editing", "published", "offline", "publish_failed", "unpublish_failed", "published", "editing")
QUERIES = {
    "first page": {},
    "name search": {"name": "svc_12"},
    "application + status": {"application": "risk", "status": "published"},
    "entity + id + kind": {"entity": "user", "entity_id": "user_id", "target_kind": "mysql"},
    "schedule + execution": {"schedule_type": "recurring", "execution_status": "none"},
    "only mine, page 20": {"mine": "true", "page": "20", "page_size": "20"},
    "sorted by update, page 50": {"sort": "updated_at", "order": "desc", "page": "50"},
}


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main(count: int, repeat: int) -> None:
    with airflow_stack("list", components=("api-server",)) as (_, client, catalog_db):
        assert client.post("/tag-offline/catalog/apply", json=CATALOG).status_code == 200
        body = {"name": "svc_0", "application": "crm", "owner": "admin", "entity": "user", "entity_id": "user_id",
                "schedule": {"type": "manual"}, "target": {"conn_id": "app_db", "table": "t_0"},
                "mappings": [{"tag": "gender", "value": "gender"}]}
        assert client.post("/tag-offline/services", json=body).status_code == 201
        clone(catalog_db, count)
        timings: dict[str, list[float]] = {}
        totals: dict[str, int] = {}
        for label, params in QUERIES.items():
            client.get("/tag-offline/services", params=params)  # warm-up
            for _ in range(repeat):
                started = time.perf_counter()
                r = client.get("/tag-offline/services", params=params)
                timings.setdefault(label, []).append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
                totals[label] = r.json()["total"]
        reference = []
        client.get("/api/v2/dags", params={"limit": 50})
        for _ in range(repeat):
            started = time.perf_counter()
            assert client.get("/api/v2/dags", params={"limit": 50}).status_code == 200
            reference.append(time.perf_counter() - started)
    every = [t for ts in timings.values() for t in ts]
    for label, ts in timings.items():
        print(f"{label:28s} total {totals[label]:5d}  p50 {statistics.median(ts) * 1000:6.1f} ms  "
              f"p95 {p95(ts) * 1000:6.1f} ms")
    print(f"reference GET /api/v2/dags?limit=50: p50 {statistics.median(reference) * 1000:.1f} ms, "
          f"p95 {p95(reference) * 1000:.1f} ms")
    print(f"list of {count} services, all filters: p95 {p95(every) * 1000:.1f} ms "
          f"({p95(every) / p95(reference):.2f}x Airflow's own list endpoint)")


def clone(catalog_db: str, count: int) -> None:
    """svc_1 .. svc_{count-1}: copies of svc_0 spread over applications, owners, states and kinds."""
    with pg_connect(catalog_db) as conn:
        apps = dict(conn.execute("SELECT code, id FROM tagoffline_application").fetchall())
        statuses = "ARRAY[" + ",".join(f"'{s}'" for s in STATUSES) + "]"
        app_ids = "ARRAY[" + ",".join(str(apps[a]) for a in APPS) + "]"
        conn.execute(f"""
            INSERT INTO tagoffline_service (name, slug, application_id, owner, entity_code, entity_id_code,
                schedule_type, description, target_conn_id, target_kind, target_schema, target_table, status,
                status_message, execution_status, tag_codes, definition, version, published_version, published_spec,
                ever_published, created_by, created_at, updated_by, updated_at)
            SELECT 'svc_' || i, 'svc_' || i, ({app_ids})[1 + i %% 3],
                CASE WHEN i %% 50 = 0 THEN 'admin' ELSE 'user_' || (i %% 50) END, entity_code, entity_id_code,
                CASE WHEN i %% 2 = 0 THEN 'manual' ELSE 'recurring' END, 'service number ' || i, target_conn_id,
                (ARRAY['sqlite','postgres','mysql'])[1 + i %% 3], target_schema, 't_' || i,
                ({statuses})[1 + i %% {len(STATUSES)}], '', 'none', tag_codes,
                jsonb_set(definition::jsonb, '{{name}}', to_jsonb('svc_' || i))::json, 1, NULL, NULL,
                ({statuses})[1 + i %% {len(STATUSES)}] IN ('published', 'offline', 'unpublish_failed'),
                'admin', now() - i * interval '1 minute', 'admin', now() - i * interval '1 minute'
            FROM tagoffline_service, generate_series(1, %s) AS i WHERE name = 'svc_0'
        """, [count - 1])
        # the published ones run a version: each list page asks whether the catalog changed under it
        conn.execute("UPDATE tagoffline_service SET live_spec = %s, published_spec = %s, published_version = 1 "
                     "WHERE status IN ('published', 'unpublish_failed')", [LIVE_SPEC.to_json(), LIVE_SPEC.to_json()])
        conn.execute("ANALYZE tagoffline_service")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000, int(sys.argv[2]) if len(sys.argv) > 2 else 40)
