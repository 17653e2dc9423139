"""What a `tagoffline` command imports, read from ``sys.modules`` of a fresh interpreter: `--help` only typer,
the catalog and service commands no Airflow and no driver, `run` (up to its export) not the REST API.

An import lasts for the process, so only a process of its own can tell (this one has Airflow loaded).
The times themselves are measured by bench/bench_cli_startup.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent / "tagoffline"
EXAMPLES = Path(str(resources.files("airflow_provider_tagoffline") / "examples"))

#: the brief of issue 14: a catalog command pays for none of these
ENGINE_AND_API = ("airflow", "duckdb", "psycopg", "psycopg2", "MySQLdb", "pymysql", "oracledb", "sqlglot", "fastapi")

# Runs the CLI's entry point as `tagoffline ARGS` would, then prints what was imported. With "stop",
# `run` ends where the export would start (the export opens the warehouse and the target: drivers).
PROBE = r"""
import json, sys
args, stop = json.loads(sys.argv[1]), sys.argv[2] == "stop"
import airflow_provider_tagoffline.cli.main as cli
if stop:
    from airflow_provider_tagoffline.cli import lazy
    def reached_export(*_a, **_k):
        raise SystemExit(75)
    lazy.runs.run_export = reached_export
sys.argv = ["tagoffline", *args]
code = 0
try:
    cli.main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__TAG_OFFLINE__", "AIRFLOW_CONN_"))}
    return {**env, "AIRFLOW_HOME": str(home / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'catalog.db'}",
            "AIRFLOW_CONN_CRM_MYSQL": json.dumps({"conn_type": "mysql", "host": "127.0.0.1", "schema": "crm"}),
            "AIRFLOW_CONN_TAG_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(home / "dw.duckdb")}),
            "TAGOFFLINE_USER": "tester"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A SQLite catalog store holding the example catalog and service (made by the CLI itself)."""
    env = _env(tmp_path_factory.mktemp("cli_startup"))
    for args in (("db", "migrate"), ("catalog", "apply", str(EXAMPLES / "catalog.yaml")),
                 ("service", "apply", str(EXAMPLES / "service.yaml"))):
        proc = subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
    return env


def probe(env: dict[str, str], *args: str, stop_at_export: bool = False) -> tuple[int, list[str], str]:
    """Exit code, imported modules and output of `tagoffline ARGS` in a fresh interpreter."""
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), "stop" if stop_at_export else ""],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.stdout.strip(), proc.stderr
    *output, last = proc.stdout.strip().splitlines()
    result: dict[str, Any] = json.loads(last)
    return result["code"], result["modules"], "\n".join(output) + proc.stderr


def loaded(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    """The packages of ``packages`` that are among ``modules`` (a package counts when any of it is)."""
    return sorted({p for p in packages for m in modules if m == p or m.startswith(p + ".")})


def test_help_imports_typer_and_nothing_heavy(store: dict[str, str]) -> None:
    code, modules, output = probe(store, "--help")
    assert code == 0 and "catalog" in output and "service" in output
    assert loaded(modules, (*ENGINE_AND_API, "sqlalchemy", "pydantic", "alembic", "yaml")) == []
    assert loaded(modules, tuple(f"airflow_provider_tagoffline.{p}" for p in ("catalog", "engine", "dialects"))) == []


@pytest.mark.parametrize("args", [("catalog", "export"), ("service", "list"), ("service", "export", "crm_user_tags"),
                                  ("db", "check")])
def test_catalog_and_service_commands_import_no_airflow_and_no_driver(store: dict[str, str],
                                                                      args: tuple[str, ...]) -> None:
    code, modules, output = probe(store, *args)
    assert code == 0, output
    assert "crm" in output or "up to date" in output, output  # the command did its work
    # nor Alembic: whether the store is up to date is read without it (catalog/store.py)
    assert loaded(modules, (*ENGINE_AND_API, "alembic")) == []


def test_run_up_to_its_export_imports_no_rest_api(store: dict[str, str]) -> None:
    """`run` needs Airflow (connections) but neither the plugin's REST API nor FastAPI, the one-click-create
    parser, or a driver before the export opens its connections; nor Airflow's ORM models of runs and assets:
    the data date a table holds is the table's own record, read by the export (issue 21)."""
    code, modules, output = probe(store, "run", "crm_user_tags", "--date", "2026-11-01", stop_at_export=True)
    assert code == 75, output
    assert loaded(modules, ("airflow",)) == ["airflow"]
    assert loaded(modules, ("fastapi", "airflow_provider_tagoffline.api", "airflow_provider_tagoffline.ui",
                            "sqlglot", "duckdb", "MySQLdb", "oracledb", "airflow.models.asset", "airflow.models.dagrun",
                            "airflow.assets.manager", "airflow_provider_tagoffline.airflow_bridge")) == []


def test_each_lazy_name_is_the_module_mypy_checks_it_as() -> None:
    """cli/lazy.py names each module twice: imported for mypy, a LazyModule at run time; both must agree."""
    import ast
    import importlib

    from airflow_provider_tagoffline.cli import lazy

    checked: dict[str, str] = {}
    for node in ast.walk(ast.parse(Path(lazy.__file__).read_text(encoding="utf-8"))):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                if isinstance(imp, ast.Import):
                    checked.update({a.asname or a.name: a.name for a in imp.names})
                elif isinstance(imp, ast.ImportFrom):
                    checked.update({a.asname or a.name: f"{imp.module}.{a.name}" for a in imp.names})
    at_run_time = {name: value.__name__ for name, value in vars(lazy).items() if isinstance(value, lazy.LazyModule)}
    assert at_run_time == checked
    for name, module in at_run_time.items():  # each imports, and reads through to, its module
        assert getattr(lazy, name).__file__ == importlib.import_module(module).__file__


# ---- `run` on the embedded setup of `tagoffline demo` (issue 21): no Airflow import at all -------------
DEMO_DATE = "2026-11-23"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """`tagoffline demo` (DuckDB warehouse, SQLite target, connections as AIRFLOW_CONN_* variables), and the
    environment its env.sh gives another shell."""
    home = tmp_path_factory.mktemp("cli_startup_demo")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_HOME"))}
    proc = subprocess.run([str(BIN), "demo", "--home", str(home), "--users", "300", "--date", DEMO_DATE, "--json"],
                          capture_output=True, text=True, env=base, timeout=300)
    assert proc.returncode == 0, proc.stderr
    env = dict(base)
    for line in (home / "env.sh").read_text().splitlines():  # export NAME='value'
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value[1:-1] if value.startswith("'") else value
    return env


def test_run_on_the_embedded_setup_imports_no_airflow(demo: dict[str, str]) -> None:
    """The whole run, DuckDB to SQLite, with the connections as AIRFLOW_CONN_* variables: read and opened as
    Airflow would (env_connections.py, dialects/duckdb/connect.py), without importing Airflow — whose import
    alone is what `airflow version` costs."""
    code, modules, output = probe(demo, "run", "crm_user_tags", "--date", DEMO_DATE, "--json")
    assert code == 0, output
    report = json.loads(output[output.index("{"):])
    assert (report["status"], report["rows_written"], report["data_date"]) == ("success", 300, DEMO_DATE)
    assert loaded(modules, ("airflow", "duckdb")) == ["duckdb"]


def test_run_with_a_secrets_backend_asks_airflow(demo: dict[str, str], tmp_path: Path) -> None:
    """A configured secrets backend comes before the variables in Airflow's search: then Airflow answers (this
    one holds no connection, so the variables do, through Airflow)."""
    empty = tmp_path / "connections.json"
    empty.write_text("{}")
    env = {**demo, "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
           "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_file_path": str(empty)})}
    code, modules, output = probe(env, "run", "crm_user_tags", "--date", DEMO_DATE, "--json")
    assert code == 0, output
    assert json.loads(output[output.index("{"):])["status"] == "success"
    assert loaded(modules, ("airflow", "airflow.providers.duckdb")) == ["airflow", "airflow.providers.duckdb"]


def test_run_into_postgresql_imports_no_airflow(demo: dict[str, str], pg_database: str, tmp_path: Path) -> None:
    """The demo's service pointed at a PostgreSQL target (an AIRFLOW_CONN_* variable with its flavour only):
    opened as PostgresHook opens it, without Airflow (dialects/postgres/connect.py)."""
    from tests.live import pg_conn_json

    env = {**demo, "AIRFLOW_CONN_STARTUP_PG": pg_conn_json(pg_database, extra={"flavor": "postgres"})}

    def cli(*args: str) -> str:
        proc = subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    (tmp_path / "grant.yaml").write_text("target_grants:\n- application: crm\n  conn_id: startup_pg\n")
    cli("catalog", "apply", str(tmp_path / "grant.yaml"))
    service = cli("service", "export", "crm_user_tags")
    assert "conn_id: demo_target" in service and service.startswith("name: crm_user_tags\n")
    (tmp_path / "pg.yaml").write_text(service.replace("name: crm_user_tags\n", "name: crm_pg\n", 1)
                                      .replace("conn_id: demo_target", "conn_id: startup_pg"))
    cli("service", "apply", str(tmp_path / "pg.yaml"))
    cli("service", "ddl", "crm_pg", "--execute")
    # the first run into a table that records no data date yet also asks Airflow's asset events (service/held.py)
    cli("run", "crm_pg", "--date", DEMO_DATE)
    code, modules, output = probe(env, "run", "crm_pg", "--date", DEMO_DATE, "--json")
    assert code == 0, output
    report = json.loads(output[output.index("{"):])
    assert (report["status"], report["rows_written"], report["target"]) == ("success", 300, "startup_pg:user_tags")
    assert loaded(modules, ("airflow", "psycopg")) == ["psycopg"]
