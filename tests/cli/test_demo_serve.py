"""`tagoffline demo --serve`: the demo, then Airflow standalone with the plugin and the published
demo DAG, whose scheduled run exports T-1 through Airflow with the run report in its task log (the
CLI's quiet logging stays the CLI's); Airflow's own backfill dialog then runs 3 earlier days, allowed
to take the whole-table target back; task slots match the machine; SIGTERM ends every process."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
from browser import chromium, shot
from playwright.sync_api import expect

from airflow_provider_tagoffline.cli.demo_cmd import demo_parallelism
from tests.live import free_port


def test_demo_serve_publishes_and_airflow_runs_the_demo_dag(tmp_path: Path) -> None:
    started = dt.datetime.now(dt.UTC).date()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "tagoffline"), "demo", "--home", str(tmp_path),
                             "--users", "500", "--serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("Ctrl-C stops Airflow"):
                break
        out = "\n".join(lines)
        assert "SUCCESS: crm_user_tags" in out and "service crm_user_tags: published" in out, out
        password = json.loads((tmp_path / "airflow" / "passwords.json").read_text())["admin"]
        assert f"Airflow UI: http://localhost:{port}  login: admin / {password}" in out

        base = f"http://localhost:{port}"
        token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": password}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}

        def runs() -> list[dict]:
            r = httpx.get(f"{base}/tag-offline/services/crm_user_tags/instances", headers=headers, timeout=30)
            return list(r.json()["items"])

        deadline = time.monotonic() + 120
        while not [r for r in runs() if r["state"] in ("success", "failed")] and time.monotonic() < deadline:
            time.sleep(1)
        [run] = runs()  # unpaused with catchup=False: the latest interval runs at once
        assert run["state"] == "success" and run["run_type"] == "scheduled" and run["rows_written"] == 500, run
        # daily at 00:00 UTC (the demo service's timezone): the latest interval is yesterday's at any
        # hour, the T-1 the demo exported in-process (the day may turn while the test runs)
        t1 = dt.date.fromisoformat(run["data_date"])
        assert t1 in {started - dt.timedelta(days=1), dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)}, run

        # the task log holds the run report at INFO: the CLI's quiet default did not reach Airflow
        log = httpx.get(f"{base}/api/v2/dags/tag_offline__crm_user_tags/dagRuns/{quote(run['run_id'], safe='')}"
                        "/taskInstances/export/logs/1", params={"full_content": "true"}, timeout=30,
                        headers={**headers, "Accept": "application/json"}).json()["content"]
        text = "\n".join(line.get("event", "") for line in log if isinstance(line, dict))
        assert f"SUCCESS: crm_user_tags data date {t1} -> demo_target:user_tags" in text, text[-2000:]
        assert "rows read 500, written 500" in text and "gates passed: not empty, min_rows 1" in text
        airflow_pids = processes_with_env(f"AIRFLOW_HOME={tmp_path / 'airflow'}")
        airflow_env = [environ(pid) for pid in airflow_pids]
        assert airflow_env and all(e.get("AIRFLOW__CORE__PARALLELISM") == str(demo_parallelism())
                                   and "AIRFLOW__LOGGING__LOGGING_LEVEL" not in e for e in airflow_env)

        # Airflow's scheduler ends (on SQLite a backfill created while its loop runs can end it, and standalone
        # does not restart it): the demo starts it again, and the backfill below still runs
        killed = [pid for pid in airflow_pids if b"scheduler" in cmdline(pid)]
        assert killed, "no scheduler process found"
        for pid in killed:
            os.kill(pid, signal.SIGKILL)

        # Airflow's own backfill dialog: 3 earlier days, taking the whole table back (allow_older)
        backfill_in_airflows_ui(base, token["access_token"], t1 - dt.timedelta(days=4), t1 - dt.timedelta(days=2))
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            backfilled = [r for r in runs() if r["run_type"] == "backfill"]
            if len(backfilled) == 3 and all(r["state"] in ("success", "failed") for r in backfilled):
                break
            time.sleep(1)
        assert sorted((r["data_date"], r["state"]) for r in backfilled) == [
            ((t1 - dt.timedelta(days=k)).isoformat(), "success") for k in (4, 3, 2)], backfilled
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.stdout is not None
    assert "airflow: its scheduler exited" in proc.stdout.read(), "the demo did not say it started the scheduler again"
    deadline = time.monotonic() + 40
    while leftovers := processes_with_env(f"AIRFLOW_HOME={tmp_path / 'airflow'}"):
        assert time.monotonic() < deadline, f"processes outlived `tagoffline demo --serve`: {leftovers}"
        time.sleep(0.5)


def processes_with_env(entry: str) -> list[int]:
    """Live (not zombie) processes whose environment holds ``entry``."""
    found = []
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            if f"\0{entry}\0" in "\0" + (proc_dir / "environ").read_text(errors="replace") and \
                    (proc_dir / "stat").read_text().split(") ", 1)[1][0] != "Z":
                found.append(int(proc_dir.name))
        except OSError:
            continue
    return found


def cmdline(pid: int) -> list[bytes]:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def environ(pid: int) -> dict[str, str]:
    try:
        raw = (Path("/proc") / str(pid) / "environ").read_text(errors="replace")
    except OSError:
        return {}
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def backfill_in_airflows_ui(base: str, token: str, start: dt.date, end: dt.date) -> None:
    """Trigger → Backfill in Airflow's UI: the days [start, end] (UTC, the demo service's timezone),
    with the run parameter allow_older switched on (the form sends params only when told to)."""
    with chromium() as browser:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, timezone_id="UTC", locale="en-US")
        ctx.add_cookies([{"name": "_token", "value": token, "url": base}])
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{base}/dags/tag_offline__crm_user_tags")
        page.get_by_role("button", name="Trigger").first.click()
        form = page.locator("[role=dialog][data-state=open]")
        form.get_by_text("Backfill", exact=True).click()
        for i, (day, at) in enumerate(((start, "00:00"), (end, "23:59"))):
            form.get_by_test_id("datetime-input").nth(i).click()
            picker = page.locator("[data-scope=popover][data-part=content][data-state=open]")
            picker.get_by_placeholder("YYYY/MM/DD").fill(day.strftime("%Y/%m/%d"))
            picker.get_by_placeholder("HH:mm").fill(at)
            page.keyboard.press("Escape")
        expect(form.get_by_text("3 runs will be triggered")).to_be_visible()
        form.get_by_text("Override parameters on existing runs").click()
        form.locator("label", has=page.locator("input[name=element_allow_older]")).click()
        expect(form.locator("input[name=element_allow_older]")).to_be_checked()
        shot(page, "airflow-backfill-form", full_page=False)
        form.get_by_role("button", name="Run Backfill").click()
        expect(form).to_have_count(0)
        ctx.close()
