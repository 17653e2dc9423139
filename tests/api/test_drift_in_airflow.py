"""Catalog drift through the session's real Airflow (API server with the plugin, scheduler,
dag-processor) and a real browser.

A published service exports; an admin revokes one of its grants: the REST list and details say
`needs attention` with the reason, the plugin refuses to run it, the Airflow Variable the export
task reads is written by the API server after the commit, and a run triggered from Airflow's own
API fails with one line naming the change while the target keeps its content. The web view shows the
badge (screenshot). Granting again clears it; a retyped tag is listed by `catalog apply --dry-run`,
shown by `tagoffline service list`, and cleared by republishing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import chromium, shot, signed_in_page
from playwright.sync_api import expect
from test_publishing import create_with_table, tagoffline, wait_for, wait_runs, wait_status

pytestmark = [pytest.mark.airflow]

NAME = "drift_svc"
REVOKED = "tag user.drift_level: grant to application 'crm' is revoked, not approved"
RETYPED = "tag user.drift_level was retyped from bigint to string"


def drift_tag(type_: str = "bigint") -> dict[str, Any]:
    return {"code": "drift_level", "name": "Level (drift test)", "type": type_, "id": "user_id",
            "source": {"table": "dws_user_profile_d", "key": "user_id", "column": "level", "partition": "ds"}}


def catalog(type_: str = "bigint") -> dict[str, Any]:
    """This module's own tag, granted to crm: the other tests' services never see it change."""
    ids = [{"code": "user_id", "name": "User ID", "type": "bigint"}]
    return {"entities": [{"code": "user", "name": "User", "ids": ids, "tags": [drift_tag(type_)]}],
            "grants": [{"application": "crm", "entity": "user", "tags": ["drift_level"]}]}


def level_rows(api_server: Any) -> list[tuple[Any, ...]]:
    from tests.live import pg_connect

    db = json.loads(api_server.env["AIRFLOW_CONN_CRM_PG"])["schema"]
    with pg_connect(db, autocommit=False) as conn:
        return conn.execute('SELECT user_id, gender, drift_level FROM "t_drift_svc" ORDER BY user_id').fetchall()


@pytest.fixture(scope="module")
def live(api_server: Any, admin: httpx.Client, alice: httpx.Client, service_body: Any) -> Iterator[str]:
    assert admin.post("/catalog/apply", json=catalog()).status_code == 200
    create_with_table(alice, service_body(NAME, mappings=[{"tag": "gender", "value": "gender"},
                                                          {"tag": "drift_level", "value": "drift_level"}]))
    assert alice.post(f"/services/{NAME}/publish").status_code == 202
    assert wait_status(alice, NAME)["status"] == "published"
    assert alice.post(f"/services/{NAME}/run", json={"data_date": "2026-01-02"}).status_code == 202
    assert wait_runs(alice, NAME, 1)[0]["state"] == "success"
    yield NAME
    alice.post(f"/services/{NAME}/unpublish")
    alice.delete(f"/services/{NAME}")


def test_a_revoked_grant_needs_attention_everywhere_and_a_run_refuses(
        api_server: Any, admin: httpx.Client, alice: httpx.Client, live: str) -> None:
    before = level_rows(api_server)
    assert [r[2] for r in before] == [2, 2, 2]  # data date 2026-01-02: level is the day
    assert alice.get(f"/services/{NAME}").json()["attention"] is None
    r = admin.post("/catalog/grants/crm/user/drift_level/revoke")
    assert r.status_code == 200, r.text

    body = alice.get(f"/services/{NAME}").json()
    assert (body["attention"], body["attention_reasons"]) == (REVOKED, [REVOKED])
    assert "run" not in body["actions"] and REVOKED in body["refusals"]["run"]
    assert body["refusals"]["publish"].startswith(f"service '{NAME}' cannot be published: it needs attention: "
                                                  f"{REVOKED}")
    [row] = [i for i in alice.get("/services", params={"name": NAME}).json()["items"] if i["name"] == NAME]
    assert row["attention"] == REVOKED
    r = alice.post(f"/services/{NAME}/run", json={"data_date": "2026-01-03"})
    assert r.status_code == 409 and REVOKED in r.json()["detail"][0]["message"]

    # The API server wrote the record the export task reads, after the revoke committed
    key = f"tag_offline__{NAME}__attention"
    with api_server.airflow("admin") as af:
        var = af.get(f"/variables/{key}")
        assert var.status_code == 200, var.text
        assert json.loads(var.json()["value"])["service"] == NAME and REVOKED in var.json()["value"]
        # a run from Airflow's own API (the plugin is not asked): the task refuses before the target
        r = af.post(f"/dags/tag_offline__{NAME}/dagRuns", json={"logical_date": None,
                                                                 "conf": {"data_date": "2026-01-03"}})
        assert r.status_code == 200, r.text
    runs = wait_runs(alice, NAME, 2)
    failed = next(i for i in runs if i["run_id"] == r.json()["dag_run_id"])
    assert failed["state"] == "failed" and failed["data_date"] == "2026-01-03"
    assert failed["error"].startswith(f"service '{NAME}' needs attention: {REVOKED}; ")
    assert "the target is untouched" in failed["error"] and "\n" not in failed["error"]
    assert level_rows(api_server) == before
    assert alice.get(f"/services/{NAME}").json()["execution_status"] == "failed"


def test_the_web_view_shows_the_badge_and_the_reason(api_server: Any, alice: httpx.Client, live: str) -> None:
    assert alice.get(f"/services/{NAME}").json()["attention"] == REVOKED  # left by the test above
    with chromium() as browser:
        page = signed_in_page(browser, api_server, "alice")
        page.goto(f"{api_server.base_url}/tag-offline/ui/")
        page.fill("#f-name", NAME)
        row = page.locator(f"tr[data-service={NAME}]")
        badge = row.locator("[data-attention]")
        expect(badge).to_have_text("needs attention")
        expect(badge).to_have_attribute("title", REVOKED)
        run = row.locator("button[data-action=run]")
        expect(run).to_be_disabled()
        expect(run).to_have_attribute("title", re.compile(re.escape(REVOKED)))
        row.locator("a", has_text=NAME).click()
        expect(page.locator("#attention li")).to_have_text([REVOKED])
        expect(page.locator(".row [data-attention]")).to_have_attribute("title", REVOKED)
        expect(page.locator("button[data-action=run]")).to_be_disabled()
        shot(page, "needs-attention")
        page.context.close()


def test_granting_again_clears_it_and_a_retype_clears_on_republish(
        api_server: Any, admin: httpx.Client, alice: httpx.Client, live: str, tmp_path: Path) -> None:
    assert alice.post("/catalog/grants", json={"application": "crm", "entity": "user", "tag": "drift_level"}
                      ).status_code == 201
    assert admin.post("/catalog/grants/crm/user/drift_level/approve").status_code == 200
    assert alice.get(f"/services/{NAME}").json()["attention"] is None
    with api_server.airflow("admin") as af:
        assert REVOKED not in af.get(f"/variables/tag_offline__{NAME}__attention").json()["value"]

    # catalog apply --dry-run: which services the retype would affect; nothing written
    file = tmp_path / "retype.yaml"
    file.write_text(json.dumps(catalog("string")))
    out = tagoffline(api_server, "catalog", "apply", "--dry-run", str(file))
    assert out.returncode == 0, out.stderr
    assert (f"  update    tag          user.drift_level (type)\n"
            f"            -> {NAME} would need attention: {RETYPED}\n") in out.stdout, out.stdout
    assert alice.get(f"/services/{NAME}").json()["attention"] is None
    r = admin.post("/catalog/apply", params={"dry_run": True}, json=catalog("string"))
    [item] = [i for i in r.json()["items"] if i["key"] == "user.drift_level"]
    assert item["affects"] == [{"service": NAME, "reason": RETYPED}]

    out = tagoffline(api_server, "catalog", "apply", str(file))
    assert out.returncode == 0, out.stderr
    listed = tagoffline(api_server, "service", "list", "--name", NAME)
    assert "published (needs attention)" in listed.stdout and f"{NAME} needs attention: {RETYPED}" in listed.stdout
    assert json.loads(tagoffline(api_server, "service", "show", NAME, "--json").stdout)["attention"] == RETYPED
    out = tagoffline(api_server, "run", NAME, "--date", "2026-01-03")
    assert out.returncode == 1 and out.stderr.startswith(f"error: service '{NAME}' needs attention: {RETYPED}")

    assert alice.post(f"/services/{NAME}/publish").status_code == 202  # a retype: republishing is the fix
    wait_for(lambda: alice.get(f"/services/{NAME}").json(),
             lambda b: b["status"] == "published" and b["attention"] is None, 120, f"republished {NAME}")
