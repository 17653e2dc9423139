"""The export task attacked through Airflow's own doors (issue 20, the fresh attacker pass), on the session's
real Airflow (SimpleAuthManager) and real PostgreSQL target.

alice's manual service holds data date NEWEST in a whole table. The attempts: materializing the table's
asset (a run type that is neither manual nor a backfill) with ``allow_older``, run ids Airflow would let a
caller choose with SQL or paths in them, and hostile ``conf`` (data dates that are SQL, markup, impossible or
of the wrong type; keys the task does not know, pretending to be a run spec). Each ends at Airflow's door or
in the task before the target is opened, except a well-formed run, which writes alice's own table only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from late_data import finished
from test_airflow_doors import _publish
from test_attacker_pass import _target_tables
from test_publishing import expected, target_rows

pytestmark = [pytest.mark.airflow]

SERVICE, TABLE = "att_task", "t_att_task"
NEWEST, OLDER = "2026-01-03", "2026-01-01"


@pytest.fixture(scope="module")
def dag_id(api_server: Any, alice: httpx.Client, service_body: Any) -> Iterator[str]:
    dag = _publish(alice, service_body(SERVICE, target={"conn_id": "crm_pg", "table": TABLE, "load": "overwrite"}))
    r = alice.post(f"/services/{SERVICE}/run", json={"data_date": NEWEST})
    assert r.status_code == 202, r.text
    assert finished(alice, SERVICE, r.json()["run_id"])["state"] == "success"
    assert target_rows(api_server, TABLE) == expected("20260103")
    yield dag
    alice.post(f"/services/{SERVICE}/unpublish")
    alice.delete(f"/services/{SERVICE}")


def _asset_id(af: httpx.Client) -> int:
    r = af.get("/assets", params={"uri_pattern": TABLE})
    assert r.status_code == 200, r.text
    [asset] = [a for a in r.json()["assets"] if a["uri"].endswith(f"/{TABLE}")]
    return int(asset["id"])


def test_materializing_alices_table_is_no_way_around_the_tasks_check(
        api_server: Any, alice: httpx.Client, dag_id: str) -> None:
    """oscar (Airflow role ``op``, in no application) may not run alice's service: a manual run of his is
    refused by the task. Airflow also lets him "materialize" the table's asset, which makes a run of another
    type (``asset_materialization``) with his conf: the DAG does not allow that type, and were a DAG file
    without that restriction still deployed, the task checks every run type but the schedule's."""
    with api_server.airflow("oscar") as af:
        r = af.post(f"/assets/{_asset_id(af)}/materialize",
                    json={"conf": {"data_date": OLDER, "allow_older": True}})
    assert r.status_code == 400 and "does not allow asset materialization runs" in r.text, r.text
    assert target_rows(api_server, TABLE) == expected("20260103")
    with api_server.airflow("admin") as af:
        dag = af.get(f"/dags/{dag_id}/details").json()
    assert sorted(dag["allowed_run_types"]) == ["backfill", "manual", "scheduled"], dag.get("allowed_run_types")


#: run ids a caller may choose on Airflow's trigger: SQL, a path, markup, a line break, a name too long
ODD_RUN_IDS = ["x'; DROP TABLE t_att_task; --", "../../../etc/passwd", "<img src=x onerror=alert(1)>",
               "run\nid", "ünïcode", "a" * 300]


def test_odd_run_ids_stop_at_airflows_door(api_server: Any, dag_id: str) -> None:
    """The engine never sees a run id (nor a user name): they reach only Airflow's records and the access
    record's JSON. Airflow refuses these before a run exists ([scheduler] allowed_run_id_pattern)."""
    seen: Counter[int] = Counter()
    with api_server.airflow("alice") as af:
        for run_id in ODD_RUN_IDS:
            r = af.post(f"/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": None,
                                                        "conf": {"data_date": NEWEST}})
            seen[r.status_code] += 1
            assert r.status_code in (400, 422), (run_id, r.status_code, r.text)
            assert af.get(f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}").status_code == 404
    assert target_rows(api_server, TABLE) == expected("20260103")
    print(f"\nodd run ids: {len(ODD_RUN_IDS)} triggers, {dict(seen)}")


#: data dates a trigger may carry, as conf or the trigger form's param
BAD_DATA_DATES: list[Any] = [
    "2026-01-01'; DROP TABLE t_att_task; --", "<img src=x onerror=alert(1)>", "2026-02-30", "20260101",
    "2026-01-01T00:00:00", " 2026-01-02", "", 20260101, ["2026-01-01"], {"$gt": ""}, True,
]
#: allow_older spelled so that one check might read it as set and another not
ODD_ALLOW_OLDER: list[Any] = ["yes", "TRUE ", 1, "1", [True], {"value": True}]


def test_hostile_conf_from_airflows_trigger(api_server: Any, alice: httpx.Client, dag_id: str) -> None:
    """alice may run her service, so what is tested is what the task makes of the conf itself: a data date
    that is not one ends at Airflow's door (the param's schema) or in the task's one-line refusal, before the
    target is opened; unknown keys change nothing of what a run writes."""
    outcomes: Counter[str] = Counter()
    runs: list[tuple[Any, str]] = []
    with api_server.airflow("alice") as af:
        for value in BAD_DATA_DATES:
            r = af.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": {"data_date": value}})
            if r.status_code == 200:
                runs.append((value, r.json()["dag_run_id"]))
            else:
                assert r.status_code in (400, 422), (value, r.status_code, r.text)
                outcomes[f"door {r.status_code}"] += 1
        for value in ODD_ALLOW_OLDER:
            r = af.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None,
                                                        "conf": {"data_date": OLDER, "allow_older": value}})
            if r.status_code == 200:
                runs.append((value, r.json()["dag_run_id"]))
            else:
                assert r.status_code in (400, 422), (value, r.status_code, r.text)
                outcomes[f"door {r.status_code}"] += 1
        smuggled = {"data_date": NEWEST, "run_spec": {"target": {"conn_id": "crm_pg", "table": "smuggled"}},
                    "target": {"table": "smuggled"}, "table": "smuggled", "batch_size": -1, "params": {"x": 1}}
        r = af.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": smuggled})
    for value, run_id in runs:
        done = finished(alice, SERVICE, run_id, timeout=180)
        outcomes[f"run {done['state']}"] += 1
        if value != "":  # an empty data date is T-1: a date the warehouse has no data for
            assert done["state"] == "failed", (value, done)
        assert done["error"] and "\n" not in done["error"] and "Traceback" not in done["error"], done
        assert "untouched" in done["error"] or "is not a date" in done["error"] or \
            "not there" in done["error"] or "no rows" in done["error"], done
    assert target_rows(api_server, TABLE) == expected("20260103")
    if r.status_code == 200:  # Airflow took the unknown keys: the run writes alice's table, and only it
        assert finished(alice, SERVICE, r.json()["dag_run_id"], timeout=180)["state"] == "success"
        outcomes["smuggled keys: run success"] += 1
    else:
        outcomes[f"smuggled keys: door {r.status_code}"] += 1
    assert target_rows(api_server, TABLE) == expected("20260103")
    assert "smuggled" not in _target_tables(api_server.pg_dbs)
    print(f"\nhostile conf: {len(BAD_DATA_DATES) + len(ODD_ALLOW_OLDER) + 1} triggers, {dict(outcomes)}")
