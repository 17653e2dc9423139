"""A real Airflow for integration tests and benches: API server, scheduler, dag-processor and triggerer.

Each component runs as its own process (``airflow api-server|scheduler|dag-processor``) in its own
process group, sharing one environment: an AIRFLOW_HOME, PostgreSQL as the metadata database (a
fresh database per stack; backfills on SQLite hit "database is locked"), LocalExecutor, and the
execution API on the API server's port. ``stop()`` ends every process group.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.live import free_port

BIN = Path(sys.executable).parent
# the triggerer runs the wait of a run whose source partition is late (operators/wait_trigger.py)
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def run_cli(cmd: list[str], env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def airflow_env(home: Path, port: int, metadata_url: str) -> dict[str, str]:
    """The environment every component and every CLI call of the stack shares."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # a waiting run looks at the warehouse every 2 s (60 s by default): tests wait on events, not minutes
        "AIRFLOW__TAG_OFFLINE__WAIT_POKE_INTERVAL": "2",
    })
    return env


def _pids_in_session(sid: int) -> list[int]:
    """Processes of session ``sid`` (field 6 of /proc/PID/stat), whatever process group they formed."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) == sid:
                found.append(int(d.name))
    return found


def celery_env(metadata_url: str) -> dict[str, str]:
    """CeleryExecutor on the machine's Redis (127.0.0.1:6379), under a key prefix of this stack's own
    so that stacks of concurrent test sessions never take each other's tasks; results in the
    metadata database; a lost worker's task noticed after 20 s instead of Airflow's 5 minutes."""
    prefix = f"tot_{uuid.uuid4().hex[:8]}:"
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": os.environ.get("TAGOFFLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": prefix,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url.replace("+psycopg2", ""),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    }


def celery_worker(name: str, queues: str, extra_env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """``airflow celery worker`` serving ``queues``; its task instances report ``name`` as their hostname
    (two workers on one machine would otherwise both be this machine), and it serves its logs on a
    port of its own."""
    args = ["celery", "worker", "--queues", queues, "--celery-hostname", f"{name}@tot", "--concurrency", "2"]
    env = {"TOT_WORKER_NAME": name, "PYTHONPATH": str(Path(__file__).parent),
           "AIRFLOW__CORE__HOSTNAME_CALLABLE": "celery_host.hostname",
           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()), **(extra_env or {})}
    return args, env


def simple_auth_env(home: Path, users: dict[str, str], passwords: dict[str, str]) -> dict[str, str]:
    """SimpleAuthManager with ``users`` (name -> role), their passwords written to a file first; one
    JWT secret for every component (the API server signs, the workers' tokens must verify)."""
    (home / "passwords.json").write_text(json.dumps(passwords))
    return {
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in users.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
        "AIRFLOW__API__SECRET_KEY": uuid.uuid4().hex,
    }


def bench_stack(home: Path, metadata_url: str, catalog_url: str,
                components: tuple[str, ...] = COMPONENTS) -> tuple[AirflowStack, httpx.Client]:
    """For the benches: Airflow with the plugin, user ``admin``, a DuckDB warehouse connection and a
    SQLite target ``app_db``, both databases migrated, started; and an admin client of the plugin."""
    (home / "dags" / "tag_offline").mkdir(parents=True)
    port = free_port()
    env = airflow_env(home, port, metadata_url)
    env.update(simple_auth_env(home, {"admin": "admin"}, {"admin": "admin-pw"}))
    env.update({
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": catalog_url,
        "AIRFLOW_CONN_TAG_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(home / "warehouse.duckdb")}),
        "AIRFLOW_CONN_APP_DB": json.dumps({"conn_type": "sqlite", "host": str(home / "target.db")}),
    })
    run_cli([str(BIN / "airflow"), "db", "migrate"], env)
    run_cli([str(BIN / "tagoffline"), "db", "migrate"], env)
    stack = AirflowStack(home=home, port=port, env=env, components=components)
    stack.start(ready_path="/tag-offline/openapi.json")
    token = httpx.post(f"{stack.base_url}/auth/token", json={"username": "admin", "password": "admin-pw"}).json()
    return stack, httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {token['access_token']}"},
                               timeout=60)


@dataclass
class AirflowStack:
    home: Path
    port: int
    env: dict[str, str]
    components: tuple[str, ...] = COMPONENTS
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: more processes (name -> airflow arguments, extra environment): Celery workers
    extra: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_path(self, component: str) -> Path:
        return self.home / f"{component}.log"

    def log_tail(self, component: str = "api-server", n: int = 4000) -> str:
        p = self.log_path(component)
        return p.read_text(errors="replace")[-n:] if p.exists() else ""

    def start(self, ready_path: str = "/api/v2/monitor/health", timeout: float = 150) -> None:
        for component in self.components:
            args = [str(BIN / "airflow"), component]
            if component == "api-server":
                args += ["--port", str(self.port), "--host", "127.0.0.1", "--workers", "1"]
            with open(self.log_path(component), "wb") as log:
                self.procs[component] = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                         start_new_session=True)
        for name in self.extra:
            self.start_extra(name)
        deadline = time.monotonic() + timeout
        while True:
            for component, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{component} exited with {proc.returncode}:\n{self.log_tail(component)}")
            try:
                if httpx.get(self.base_url + ready_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API server did not come up in {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.5)

    def start_extra(self, name: str, more_env: dict[str, str] | None = None) -> None:
        """Start (again) the extra process ``name``, e.g. a Celery worker, in its own process group."""
        args, env = self.extra[name]
        with open(self.log_path(name), "ab") as log:
            self.procs[name] = subprocess.Popen([str(BIN / "airflow"), *args],
                                                env={**self.env, **env, **(more_env or {})},
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, name: str) -> None:
        """SIGKILL ``name`` and everything of its session — Airflow's task supervisors and tasks form
        process groups of their own —: what a lost machine does to a worker and its tasks."""
        proc = self.procs.pop(name)
        for pid in [proc.pid, *_pids_in_session(proc.pid)]:  # started with a session of its own
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
