"""Airflow's auth manager sees the applications: a real Airflow (API server with the plugin, dag-processor)
on the FAB auth manager, one stack for the module.

FAB users: ``admin`` (role Admin), ``alice`` (role ``tag_offline_crm``: admin of application crm) and
``mallory`` (role ``tag_offline_other``: admin of the rival application other); neither custom role holds
any global DAG permission. Published DAGs carry ``access_control`` for their application's role
(``[tag_offline] application_roles``, default ``tag_offline_{application}``): alice reads, triggers and
pauses her DAG; mallory gets 403 on each, and lists only her own; a publish whose application has no FAB
role is refused before anything is written. The access record the export task checks names FAB's admins.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import chromium, shot, signed_in_page
from conftest import CATALOG, make_service_body, server_home
from playwright.sync_api import expect
from stack import BIN, AirflowStack, run_cli

pytestmark = [pytest.mark.airflow]

FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
#: user → FAB role
USERS = {"admin": "Admin", "alice": "tag_offline_crm", "mallory": "tag_offline_other"}
ALICE_SVC, MALLORY_SVC, RISK_SVC = "fab_alice", "fab_mallory", "fab_risk"

CREATE_USERS = textwrap.dedent("""
    import json, sys
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    users = json.loads(sys.argv[1])
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        sm.sync_roles()  # FAB's own roles: Admin, Viewer, User, Op
        # an application's role: what a Viewer may, except the global "DAGs" permission (it opens every DAG)
        base = [p for p in sm.find_role("Viewer").permissions if p.resource.name != "DAGs"]
        for user, role in users.items():
            found = sm.find_role(role)
            if found is None:
                found = sm.add_role(role)
                for perm in base:
                    sm.add_permission_to_role(found, perm)
            sm.add_user(user, user, "test", f"{user}@example.com", found, f"{user}-pw")
""")


class FabServer:
    def __init__(self, stack: AirflowStack) -> None:
        self.stack, self.tokens = stack, {}  # type: ignore[var-annotated]

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    def token(self, user: str) -> str:
        if user not in self.tokens:
            r = httpx.post(f"{self.stack.base_url}/auth/token", json={"username": user, "password": f"{user}-pw"},
                           timeout=30)
            assert r.status_code in (200, 201), r.text
            self.tokens[user] = r.json()["access_token"]
        return str(self.tokens[user])

    def plugin(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=f"{self.stack.base_url}/tag-offline",
                            headers={"Authorization": f"Bearer {self.token(user)}"}, timeout=60)

    def airflow(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=f"{self.stack.base_url}/api/v2",
                            headers={"Authorization": f"Bearer {self.token(user)}"}, timeout=60)


@pytest.fixture(scope="module")
def fab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FabServer]:
    started = time.monotonic()
    home = tmp_path_factory.mktemp("fab_airflow_home")
    with server_home(home) as (port, env, _, _):
        env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER")}
        env["AIRFLOW__CORE__AUTH_MANAGER"] = FAB
        run_cli([str(BIN / "airflow"), "db", "migrate"], env)
        run_cli([str(BIN / "tagoffline"), "db", "migrate"], env)
        proc = subprocess.run([str(BIN / "python"), "-c", CREATE_USERS, json.dumps(USERS)], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        stack = AirflowStack(home=home, port=port, env=env, components=("api-server", "dag-processor"))
        server = FabServer(stack)
        try:
            stack.start(ready_path="/tag-offline/openapi.json")
            # risk (admin: admin) may write crm_sqlite too, and has no FAB role
            catalog = {**CATALOG, "target_grants": [*CATALOG["target_grants"],
                                                    {"application": "risk", "conn_id": "crm_sqlite"}],
                       "grants": [*CATALOG["grants"], {"application": "risk", "entity": "user",
                                                       "tags": ["gender", "gmv_30d"]}]}
            with server.plugin("admin") as admin:
                r = admin.post("/catalog/apply", json=catalog)
                assert r.status_code == 200, r.text
            print(f"\nFAB stack ready in {time.monotonic() - started:.0f} s")
            yield server
        finally:
            stack.stop()


def _publish(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/services", json=body)
    assert r.status_code == 201, r.text
    r = client.post(f"/services/{body['name']}/ddl", json={})  # one-click create table on the target
    assert r.status_code == 200, r.text
    r = client.post(f"/services/{body['name']}/publish")
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 180
    while (got := client.get(f"/services/{body['name']}").json())["status"] == "publishing":
        assert time.monotonic() < deadline, got
        time.sleep(1)
    assert got["status"] == "published", got
    return got


@pytest.fixture(scope="module")
def published(fab: FabServer) -> dict[str, str]:
    with fab.plugin("alice") as alice, fab.plugin("mallory") as mallory:
        a = _publish(alice, make_service_body(ALICE_SVC, conn_id="crm_sqlite"))
        m = _publish(mallory, make_service_body(MALLORY_SVC, owner="mallory", conn_id="crm_pg", application="other",
                                                target={"conn_id": "crm_pg", "table": f"t_{uuid.uuid4().hex[:8]}",
                                                        "load": "overwrite"}))
    return {"alice": a["dag_id"], "mallory": m["dag_id"]}


def _wait_dag_access(fab: FabServer, user: str, dag_id: str) -> None:
    """The dag-processor syncs a DAG's access_control into FAB's permissions right after it serialized it."""
    deadline = time.monotonic() + 60
    with fab.airflow(user) as af:
        while af.get(f"/dags/{dag_id}").status_code != 200:
            assert time.monotonic() < deadline, f"{user} never got access to {dag_id}"
            time.sleep(1)


def test_mallory_cannot_see_trigger_clear_or_pause_alices_dag(fab: FabServer, published: dict[str, str]) -> None:
    dag_a, dag_m = published["alice"], published["mallory"]
    _wait_dag_access(fab, "alice", dag_a)
    _wait_dag_access(fab, "mallory", dag_m)
    with fab.airflow("mallory") as af:
        refused = {
            "GET dag": af.get(f"/dags/{dag_a}"),
            "GET runs": af.get(f"/dags/{dag_a}/dagRuns"),
            "POST run": af.post(f"/dags/{dag_a}/dagRuns", json={
                "logical_date": None, "conf": {"data_date": "2026-01-01", "allow_older": True}}),
            "PATCH pause": af.patch(f"/dags/{dag_a}", params={"update_mask": "is_paused"}, json={"is_paused": True}),
            "POST clear": af.post(f"/dags/{dag_a}/clearTaskInstances", json={"dry_run": False}),
            "POST backfill": af.post("/backfills", json={"dag_id": dag_a, "from_date": "2026-01-01T00:00:00Z",
                                                          "to_date": "2026-01-02T00:00:00Z"}),
            "DELETE dag": af.delete(f"/dags/{dag_a}"),
        }
        assert {k: r.status_code for k, r in refused.items()} == {k: 403 for k in refused}, \
            {k: r.text[:200] for k, r in refused.items()}
        listed = af.get("/dags", params={"tags": "tag_offline"}).json()["dags"]
        assert [d["dag_id"] for d in listed] == [dag_m]  # her own only
    with fab.airflow("alice") as af:
        assert af.get(f"/dags/{dag_a}").status_code == 200
        assert [d["dag_id"] for d in af.get("/dags", params={"tags": "tag_offline"}).json()["dags"]] == [dag_a]
        r = af.post(f"/dags/{dag_a}/dagRuns", json={"logical_date": None, "conf": {"data_date": "2026-01-01"}})
        assert r.status_code == 200, r.text
        for paused in (True, False):
            r = af.patch(f"/dags/{dag_a}", params={"update_mask": "is_paused"}, json={"is_paused": paused})
            assert r.status_code == 200 and r.json()["is_paused"] is paused, r.text
        assert af.patch(f"/dags/{dag_m}", params={"update_mask": "is_paused"},
                        json={"is_paused": True}).status_code == 403
    # Airflow's UI: its DAG list (the UI's own API, then the page in a real browser) shows mallory hers only
    ui = httpx.get(f"{fab.base_url}/ui/dags", params={"tags": "tag_offline"},
                   headers={"Authorization": f"Bearer {fab.token('mallory')}"}, timeout=60)
    assert ui.status_code == 200 and [d["dag_id"] for d in ui.json()["dags"]] == [dag_m], ui.text[:500]
    with chromium() as browser:
        page = signed_in_page(browser, fab, "mallory")
        page.goto(f"{fab.base_url}/dags")
        expect(page.get_by_text(MALLORY_SVC, exact=True).first).to_be_visible(timeout=60_000)  # a loaded machine
        expect(page.get_by_text(ALICE_SVC, exact=True)).to_have_count(0)
        shot(page, "fab-mallory-sees-her-dag-only")
        page.context.close()
    with fab.plugin("alice") as alice:  # the plugin shows alice's own pause / unpause too: it was outside it
        pause = alice.get(f"/services/{ALICE_SVC}").json()["airflow_pause"]
        assert (pause["paused"], pause["by"]) == (False, "alice"), pause


def test_the_dag_and_the_access_record_say_who(fab: FabServer, published: dict[str, str]) -> None:
    dag_a = published["alice"]
    # FAB synced the DAG's access_control into the role: its DAG and its runs, nobody else's
    r = httpx.get(f"{fab.base_url}/auth/fab/v1/roles/tag_offline_crm",
                  headers={"Authorization": f"Bearer {fab.token('admin')}"}, timeout=60)
    assert r.status_code == 200, r.text
    held = {(p["action"]["name"], p["resource"]["name"]) for p in r.json()["actions"]}
    per_dag = {(a, res) for a, res in held if res.startswith(("DAG:", "DAG Run:"))}
    assert per_dag == {("can_read", f"DAG:{dag_a}"), ("can_edit", f"DAG:{dag_a}"), ("can_read", f"DAG Run:{dag_a}"),
                       ("can_create", f"DAG Run:{dag_a}"), ("can_delete", f"DAG Run:{dag_a}")}, per_dag
    assert not [a for a, res in held if res == "DAGs"]  # no global DAG permission
    with fab.airflow("admin") as af:
        record = json.loads(af.get(f"/variables/tag_offline__{ALICE_SVC}__access").json()["value"])
    assert (record["run"], record["allow_older"]) == (["alice"], ["alice"])  # bob, a member, does not own it
    assert record["airflow_admins"] == {"names": ["admin"], "everyone": False, "listed": True,
                                        "source": "FabAuthManager"}


def test_a_publish_whose_application_has_no_role_is_refused_before_anything_is_written(
        fab: FabServer, published: dict[str, str]) -> None:
    with fab.plugin("admin") as admin:
        r = admin.post("/services", json=make_service_body(RISK_SVC, owner="admin", application="risk",
                                                           conn_id="crm_sqlite"))
        assert r.status_code == 201, r.text
        r = admin.post(f"/services/{RISK_SVC}/publish")
        assert r.status_code == 422, r.text
        [err] = r.json()["detail"]
        assert err["field"] == "application" and err["message"] == (
            "application 'risk' maps to Airflow role 'tag_offline_risk' ([tag_offline] application_roles), which "
            "the auth manager does not have: create it (Security → Roles, or `airflow roles create "
            "tag_offline_risk`) and add the application's users, or change the mapping")
        assert admin.get(f"/services/{RISK_SVC}").json()["status"] == "editing"
    assert not (fab.stack.home / "dags" / "tag_offline" / f"tag_offline__{RISK_SVC}.py").exists()


def test_dag_files_hold_the_roles_and_no_secret(fab: FabServer, published: dict[str, str]) -> None:
    text = (Path(fab.stack.home) / "dags" / "tag_offline" / f"{published['alice']}.py").read_text()
    assert "'airflow_roles': ['tag_offline_crm']" in text and "alice-pw" not in text
