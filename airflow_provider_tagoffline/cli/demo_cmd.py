"""``tagoffline demo``: the embedded quickstart, no server needed; ``--serve`` adds Airflow.

Everything lives in one folder (default ``./tagoffline-demo``): the catalog store (SQLite), a
DuckDB warehouse with ~100k users, the SQLite target and an AIRFLOW_HOME of its own (``airflow/``),
so the demo never touches another Airflow installation. Connections are given to Airflow as
``AIRFLOW_CONN_*`` variables of this process and its children; the demo prints them (and writes
them to ``env.sh`` in its folder) so that another shell's ``tagoffline`` reaches the same catalog.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import typer

from airflow_provider_tagoffline.cli.common import actor, print_json
from airflow_provider_tagoffline.cli.lazy import catalog_admin, data_date, demo_run, httpx, lifecycle, store, yaml_io
from airflow_provider_tagoffline.cli.output import echo
from airflow_provider_tagoffline.cli.quiet import child_env

ADMIN_USER = "admin"
#: how often the serving demo looks for Airflow's scheduler (``_serve_until_stopped``)
SCHEDULER_CHECK_SECONDS = 3


def _setup_environment(home: Path, port: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    airflow_home = home / "airflow"
    (airflow_home / "dags").mkdir(parents=True, exist_ok=True)
    os.environ.update({
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(airflow_home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'catalog.db'}",
        "AIRFLOW__TAG_OFFLINE__WAREHOUSE_CONN_ID": "tag_warehouse",
        "AIRFLOW_CONN_TAG_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(home / "warehouse.duckdb")}),
        "AIRFLOW_CONN_DEMO_TARGET": json.dumps({"conn_type": "sqlite", "host": str(home / "target.db")}),
    })
    # LocalExecutor starts [core] parallelism workers (32 by default): as many as the machine has cores
    os.environ.setdefault("AIRFLOW__CORE__PARALLELISM", str(demo_parallelism()))


#: what another shell needs to reach this demo: Airflow's home, the catalog store, the warehouse and the target
SHELL_VARIABLES = ("AIRFLOW_HOME", "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN", "AIRFLOW__TAG_OFFLINE__WAREHOUSE_CONN_ID",
                   "AIRFLOW_CONN_TAG_WAREHOUSE", "AIRFLOW_CONN_DEMO_TARGET")


ENV_FILE = "env.sh"


def shell_lines() -> list[str]:
    """The ``export`` lines that point a new shell's ``tagoffline`` (and ``airflow``) at this demo."""
    return [f"export {key}={shlex.quote(os.environ[key])}" for key in SHELL_VARIABLES]


def _say_how_to_reach(home: Path, service: str) -> None:
    echo(f"To reach this demo from another shell (e.g. `tagoffline service show {service}`), "
         f"run `source {shlex.quote(str(home / ENV_FILE))}` or paste:")
    for line in shell_lines():
        echo(f"  {line}")


def demo_parallelism() -> int:
    """Task slots of the demo's Airflow: the machine's cores, at least 2 (a run and a backfill), at most 8."""
    return max(2, min(os.cpu_count() or 2, 8))


def demo(
    home: Path = typer.Option(Path("tagoffline-demo"), "--home", help="Folder for the demo's files."),
    users: int = typer.Option(100_000, "--users", min=1, help="Users in the demo warehouse."),
    date: str | None = typer.Option(None, "--date", help="Data date to export (default: yesterday); the "
                                    "warehouse holds it and the 13 days before. A date older than the one the "
                                    "demo's table holds is exported too, as asked."),
    json_out: bool = typer.Option(False, "--json", help="Print the run report as JSON."),
    serve: bool = typer.Option(False, "--serve", help="Then publish the demo service and start Airflow "
                               "(standalone) with the plugin; Ctrl-C stops it."),
    port: int = typer.Option(8080, "--port", help="Port of Airflow's API server and UI (with --serve)."),
) -> None:
    """Build a demo warehouse, apply the demo catalog and service, export one data date."""
    home = home.resolve()
    _setup_environment(home, port)
    examples = resources.files("airflow_provider_tagoffline") / "examples"
    store.migrate()
    with store.session_scope() as s:
        catalog = yaml_io.parse_catalog(yaml_io.load_yaml_text((examples / "demo_catalog.yaml").read_text()))
        plan = catalog_admin.apply_catalog(s, actor(), catalog)
        service = yaml_io.load_yaml_text((examples / "demo_service.yaml").read_text())
        svc, outcome = lifecycle.apply_service(s, actor(), service)
        name = svc.name
        timezone = svc.definition["schedule"].get("timezone") or "UTC"
    # T-1 in the service's timezone, as its scheduled run will export it
    day = data_date.parse_data_date(date, "--date") if date else data_date.yesterday(timezone)
    if not json_out:
        s_ = plan.summary()
        echo(f"demo folder: {home}")
        echo(f"catalog: created {s_['create']}, updated {s_['update']}, unchanged {s_['unchanged']}; "
                   f"service {name}: {outcome}")

    # A date given on the command line is the user's choice: an older one than the table holds goes through.
    report = demo_run.run_demo(service_name=name, data_date=day, users=users,
                               echo=(lambda _m: None) if json_out else echo, by=actor().username,
                               allow_older=date is not None)
    (home / ENV_FILE).write_text("\n".join(shell_lines()) + "\n")
    if json_out:
        print_json(report)
    else:
        _say_how_to_reach(home, name)
    if serve:
        _serve(home, name, port)


def _tagoffline() -> str:
    return str(Path(sys.executable).parent / "tagoffline")


def _serve(home: Path, service: str, port: int) -> None:
    """Migrate Airflow's database, publish the demo service, run ``airflow standalone``."""
    airflow_home = Path(os.environ["AIRFLOW_HOME"])
    passwords = airflow_home / "passwords.json"
    if not passwords.exists():
        passwords.write_text(json.dumps({ADMIN_USER: secrets.token_urlsafe(12)}))
    password = json.loads(passwords.read_text())[ADMIN_USER]
    bin_dir = str(Path(sys.executable).parent)
    airflow = str(Path(bin_dir) / "airflow")
    # standalone starts its components as `airflow ...` from PATH: this installation's first
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    echo("airflow: migrating its database")
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, env=child_env())
    proc = subprocess.run([_tagoffline(), "service", "publish", service, "--no-wait"], capture_output=True, text=True,
                          env=child_env())
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.strip())
    echo(f"published: {service} (its DAG file is in {airflow_home / 'dags' / 'tag_offline'})")
    log_path = airflow_home / "standalone.log"
    with open(log_path, "ab") as log:
        # child_env: the CLI's quiet logging is its own; task logs hold the run report at INFO
        standalone = subprocess.Popen([airflow, "standalone"], stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True, env=child_env())  # its children die with the group

    #: schedulers started again by the demo (each a process group of its own)
    restarted: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        for group in [standalone, *restarted]:
            try:
                os.killpg(group.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def on_sigterm(*_: object) -> None:
        stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    url = f"http://localhost:{port}"
    try:
        echo(f"airflow: starting (standalone; log {log_path})")
        deadline = time.monotonic() + 180
        status = ""
        while time.monotonic() < deadline and standalone.poll() is None:
            try:
                token = httpx.post(f"{url}/auth/token", json={"username": ADMIN_USER, "password": password},
                                   timeout=5).json()["access_token"]
                body = httpx.get(f"{url}/tag-offline/services/{service}", timeout=10,
                                 headers={"Authorization": f"Bearer {token}"}).json()
                status = body.get("status", "")
                if status != "publishing":
                    break
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(1)
        if standalone.poll() is not None:
            raise SystemExit(f"airflow standalone exited ({standalone.returncode}); see {log_path}")
        echo(f"service {service}: {status or 'unknown (Airflow not ready yet)'}")
        echo(f"Airflow UI: {url}  login: {ADMIN_USER} / {password}")
        echo(f"Tag offline REST API: {url}/tag-offline/docs")
        echo(f"Another shell reaches this demo after `source {shlex.quote(str(home / ENV_FILE))}`.")
        echo("Ctrl-C stops Airflow.")
        _serve_until_stopped(standalone, [airflow, "scheduler"], log_path, restarted)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for group in [standalone, *restarted]:
            _end_group(group)


def _serve_until_stopped(standalone: subprocess.Popen[bytes], scheduler: list[str], log_path: Path,
                         restarted: list[subprocess.Popen[bytes]]) -> None:
    """Wait for ``standalone``, starting Airflow's scheduler again whenever none runs: on its SQLite database a
    backfill created while the scheduler's loop runs can end that loop (Airflow answers such a request "Backfill
    creation is not supported on SQLite under concurrent access"), and standalone does not restart it — the
    demo's backfills would stay queued for ever. Where there is no /proc to look in, only waits."""
    while standalone.poll() is None:
        time.sleep(SCHEDULER_CHECK_SECONDS)
        if not Path("/proc").is_dir() or standalone.poll() is not None:
            continue
        if any(p.poll() is None for p in restarted) or _scheduler_in_group(standalone.pid):
            continue
        echo(f"airflow: its scheduler exited (see {log_path}); starting it again")
        with open(log_path, "ab") as log:
            restarted.append(subprocess.Popen(scheduler, stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True, env=child_env()))


def _scheduler_in_group(pgid: int) -> bool:
    """Whether a live process of process group ``pgid`` runs ``airflow scheduler`` (read from /proc)."""
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            fields = (proc_dir / "stat").read_text().rsplit(") ", 1)[1].split()
            args = (proc_dir / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid and b"scheduler" in args and \
                any(a.endswith(b"airflow") for a in args):
            return True
    return False


def _end_group(proc: subprocess.Popen[bytes], grace: float = 20) -> None:
    """Wait for every process of the group (components outlive standalone's own exit), then kill."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
