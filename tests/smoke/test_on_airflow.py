"""The package inside a real Airflow, from the base install (no extra), on every Airflow minor it
supports: the normal suite runs this module, and CI runs it again on the oldest supported minor
(``scripts/install_oldest.sh`` builds ``.venv-oldest``; ``scripts/smoke_oldest.sh`` runs ``-m smoke``).

One demo folder for the module: ``tagoffline demo`` (the quickstart's path: DuckDB warehouse →
SQLite target, catalog store migrated, catalog and service applied, one export in-process), then
Airflow's own database, the service published into Airflow's DAG folder, the DAG file parsed by
Airflow's DagBag and run by ``airflow dags test``, and Airflow's API server (alone, on SQLite) with
the plugin's REST API mounted.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from stack import BIN, AirflowStack, airflow_env, run_cli, simple_auth_env

from tests.live import free_port

pytestmark = [pytest.mark.smoke, pytest.mark.airflow]

#: a fixed data date (the demo's warehouse holds it and the 13 days before it, whatever today is)
D = dt.date(2026, 11, 23)
USERS = 300
SERVICE = "crm_user_tags"  # airflow_provider_tagoffline/examples/demo_service.yaml
DAG_ID = f"tag_offline__{SERVICE}"


@dataclass
class Demo:
    home: Path
    env: dict[str, str]
    report: dict

    @property
    def dags(self) -> Path:
        return self.home / "airflow" / "dags" / "tag_offline"

    def target_rows(self) -> int:
        with sqlite3.connect(self.home / "target.db") as db:
            return int(db.execute("SELECT count(*) FROM user_tags").fetchone()[0])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo folder after ``tagoffline demo``, Airflow's database migrated and the service published."""
    home = tmp_path_factory.mktemp("smoke")
    airflow_home = home / "airflow"
    airflow_home.mkdir()
    env = airflow_env(airflow_home, free_port(), f"sqlite:///{airflow_home / 'airflow.db'}")
    # `airflow dags test` starts its run as user dag_test: an Airflow admin here, so the service's access
    # record (written at publish) lets that manual run export (tests/service/test_run_access.py)
    env.update(simple_auth_env(airflow_home, {"admin": "admin", "dag_test": "admin"},
                               {"admin": "admin-pw", "dag_test": "dag-test-pw"}))
    env.update({  # what `tagoffline demo` sets for itself (cli/demo_cmd.py), for the commands after it
        "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'catalog.db'}",
        "AIRFLOW__TAG_OFFLINE__WAREHOUSE_CONN_ID": "tag_warehouse",
        "AIRFLOW_CONN_TAG_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(home / "warehouse.duckdb")}),
        "AIRFLOW_CONN_DEMO_TARGET": json.dumps({"conn_type": "sqlite", "host": str(home / "target.db")}),
    })
    proc = run_cli([str(BIN / "tagoffline"), "demo", "--home", str(home), "--users", str(USERS),
                    "--date", D.isoformat(), "--json"], env, timeout=300)
    report = json.loads(proc.stdout[proc.stdout.index("{"):])
    run_cli([str(BIN / "airflow"), "db", "migrate"], env, timeout=300)
    run_cli([str(BIN / "tagoffline"), "service", "publish", SERVICE, "--no-wait"], env)
    return Demo(home, env, report)


def test_the_demo_exports_from_the_base_install(demo: Demo) -> None:
    assert (demo.report["status"], demo.report["data_date"], demo.report["rows_written"]) == \
        ("success", D.isoformat(), USERS)
    assert demo.target_rows() == USERS


def test_airflow_parses_the_published_dag(demo: Demo) -> None:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow < 3.3
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef,attr-defined]

    bag = DagBag(dag_folder=str(demo.dags))
    assert bag.import_errors == {}
    dag = bag.dags[DAG_ID]
    assert [t.task_id for t in dag.tasks] == ["export"]
    assert [o.uri for o in dag.get_task("export").outlets] == ["tagoffline://demo_target/user_tags"]


def test_airflow_runs_the_dag_with_dags_test(demo: Demo) -> None:
    """``airflow dags test`` (dag.test() in its own process) runs the export task: the run after
    D+1 00:00 UTC covers [D, D+1) and so exports data date D again, into the SQLite target."""
    with sqlite3.connect(demo.home / "target.db") as db:
        db.execute("DELETE FROM user_tags")  # the table stays; only what this run writes fills it
    proc = subprocess.run([str(BIN / "airflow"), "dags", "test", DAG_ID,
                           f"{D + dt.timedelta(days=1)}T00:00:00+00:00"],
                          env=demo.env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert f"SUCCESS: crm_user_tags data date {D.isoformat()} -> demo_target:user_tags" in out, out[-4000:]
    assert demo.target_rows() == USERS


@pytest.fixture(scope="module")
def api_server(demo: Demo) -> Iterator[AirflowStack]:
    port = free_port()
    env = {**demo.env, "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/"}
    stack = AirflowStack(home=demo.home / "airflow", port=port, env=env, components=("api-server",))
    try:
        stack.start(ready_path="/tag-offline/openapi.json")
        yield stack
    finally:
        stack.stop()


def test_the_api_server_mounts_the_rest_api(api_server: AirflowStack) -> None:
    base = api_server.base_url
    assert httpx.get(f"{base}/tag-offline/services/{SERVICE}", timeout=30).status_code == 401
    token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": "admin-pw"},
                       timeout=30).json()["access_token"]
    r = httpx.get(f"{base}/tag-offline/services/{SERVICE}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == SERVICE

