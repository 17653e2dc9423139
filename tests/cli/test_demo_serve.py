"""`tagoffline demo --serve`: the demo, then Airflow standalone with the plugin and the published
demo DAG, whose scheduled run exports T-1 through Airflow; SIGTERM ends every process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from stack import free_port


def test_demo_serve_publishes_and_airflow_runs_the_demo_dag(tmp_path: Path) -> None:
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
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
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
