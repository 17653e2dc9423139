"""The `tagoffline` CLI attacked (issue 20, the fresh attacker pass). The CLI acts as the catalog store's owner
(docs/security.md), so what is tried is what its *files* can make it do when someone else wrote them (a service
file from an application team, a catalog file from a repository): run code through YAML tags, exhaust it with
aliases, smuggle SQL or paths through names, formats and an edited CREATE TABLE; that `tagoffline run` refuses
what the export task refuses; and that no connection or store password reaches its output, with or without
the debug traceback. Subprocesses on the demo's real files (DuckDB warehouse, SQLite target and catalog).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from command import tagoffline

from tests.live import pg_conn_json

DAY = "2026-11-23"

#: Many invocations of the entry point in one process, each with its own argv and environment changes: a
#: process start costs several seconds here, and these tests make about 70 calls.
BATCH = """
import contextlib, io, json, os, sys, traceback
from airflow_provider_tagoffline.cli import main as cli
out = []
for call in json.load(sys.stdin):
    saved = dict(os.environ)
    os.environ.update(call["env"])
    stdout, stderr, code = io.StringIO(), io.StringIO(), 0
    sys.argv = ["tagoffline", *call["argv"]]
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception:  # TAGOFFLINE_DEBUG=1: the traceback a user would see
            traceback.print_exc()
            code = 1
    os.environ.clear()
    os.environ.update(saved)
    out.append([call["argv"], code, stdout.getvalue(), stderr.getvalue()])
print(json.dumps(out))
"""


def tagoffline_many(calls: list[tuple[list[str], dict[str, str]]], env: dict[str, str]
                    ) -> list[subprocess.CompletedProcess[str]]:
    """Each (argv, env changes) of ``calls`` through the `tagoffline` entry point, in one process."""
    proc = subprocess.run([sys.executable, "-c", BATCH], input=json.dumps([{"argv": a, "env": e} for a, e in calls]),
                          capture_output=True, text=True, timeout=600, env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [subprocess.CompletedProcess(argv, code, out, err) for argv, code, out, err in json.loads(proc.stdout)]


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.args, proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, (proc.args, proc.stderr)
    return proc.stderr.rstrip("\n")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`tagoffline demo` once: its catalog, warehouse and target (user_tags holding DAY), and its service file."""
    home = tmp_path_factory.mktemp("attack") / "demo"
    proc = tagoffline("demo", "--home", str(home), "--users", "500", "--date", DAY)
    assert proc.returncode == 0, proc.stderr
    env = {"AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'catalog.db'}",
           "AIRFLOW__TAG_OFFLINE__WAREHOUSE_CONN_ID": "tag_warehouse",
           "AIRFLOW_CONN_TAG_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(home / "warehouse.duckdb")}),
           "AIRFLOW_CONN_DEMO_TARGET": json.dumps({"conn_type": "sqlite", "host": str(home / "target.db")})}
    shown = tagoffline("service", "show", "crm_user_tags", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    return {"home": home, "env": env, "service": json.loads(shown.stdout)["definition"]}


def _fingerprint(home: Path) -> tuple[str, str]:
    """The target file's and the catalog's bytes, to show nothing was written."""
    return tuple(hashlib.sha256((home / f).read_bytes()).hexdigest() for f in ("target.db", "catalog.db"))  # type: ignore[return-value]


# ---- YAML ---------------------------------------------------------------------------------------------------

def test_yaml_tags_cannot_run_code(demo: dict[str, Any], tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    payloads = [
        f"!!python/object/apply:os.system ['touch {marker}']",
        f"!!python/object/apply:subprocess.check_call [['touch', '{marker}']]",
        f"!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
        "!!python/name:os.system",
        "!!python/module:os",
        "!!python/object:pathlib.PosixPath {}",
    ]
    calls: list[tuple[list[str], dict[str, str]]] = []
    for i, payload in enumerate(payloads):
        for command, text in (("service", f"name: {payload}\n"), ("catalog", f"applications:\n  - code: {payload}\n")):
            f = tmp_path / f"evil_{command}_{i}.yaml"
            f.write_text(text)
            calls.append(([command, "apply", str(f)], {}))
    for proc in tagoffline_many(calls, demo["env"]):
        said = one_error_line(proc)
        assert "not valid YAML" in said and "could not determine a constructor" in said, said
    assert not marker.exists()
    print(f"\nYAML tags: {len(calls)} files, all refused, nothing run")


def test_an_alias_bomb_is_refused_quickly(demo: dict[str, Any], tmp_path: Path) -> None:
    """A billion-laughs file (9 levels of 9 aliases: 387 million strings if expanded) ends in one line, fast."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    bomb = "\n".join(lines)
    where = {"service": bomb + "\nname: x\nmappings: *a9\n",
             "catalog": bomb + "\napplications: *a9\nlookups: [{code: l, name: l, values: *a9}]\n"}
    for command, text in where.items():
        f = tmp_path / f"bomb_{command}.yaml"
        f.write_text(text)
        started = time.monotonic()
        proc = tagoffline(command, "apply", str(f), env=demo["env"], timeout=120)
        took = time.monotonic() - started
        one_error_line(proc)
        assert took < 60, f"{command} apply took {took:.0f} s"
        print(f"\nalias bomb, {command} apply: refused in {took:.1f} s: {proc.stderr.strip()[:160]}")


# ---- a service file that smuggles SQL or paths -------------------------------------------------------------

def _variant(service: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(service))
    *parents, leaf = path.split(".")
    node = out
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value
    return out


#: (field, value) pairs of a service file that try to put SQL, a path or code where a name goes
SMUGGLED: list[tuple[str, Any]] = [
    ("target.table", "user_tags; DROP TABLE user_tags; --"),
    ("target.table", 'user_tags" ; DROP TABLE "user_tags'),
    ("target.table", "../../etc/passwd"),
    ("target.table", "main.user_tags"),
    ("target.table", "user_tags\nDROP"),
    ("target.schema", "main"),  # SQLite has no schemas: an attached database would be one
    ("target.partition", {"field": "ds", "format": "yyyyMMdd'; DROP TABLE user_tags; --"}),
    ("target.partition", {"field": "ds", "format": "%Y%m%d"}),
    ("target.partition", {"field": "ds\x00", "format": "yyyyMMdd"}),
    ("target.conn_id", "../../demo_target"),
    ("target.conn_id", "demo_target; rm -rf /"),
    ("target.wait_for_lock", "1; DROP TABLE user_tags"),
    ("target.key_column", "user_id\n--"),
    ("schedule.daily_at", "00:00; DROP TABLE user_tags"),
    ("schedule.timezone", "../../../../etc/passwd"),
    ("pool", "default_pool; rm -rf /"),
    ("queue", "q\nx"),
    ("name", "../../dags/evil"),
    ("name", "x'); import os; os.system('id'); ('"),
    ("entity", "user'; DROP TABLE x; --"),
    ("application", "crm' OR '1'='1"),
]


def test_a_service_file_cannot_smuggle_sql_or_paths(demo: dict[str, Any], tmp_path: Path) -> None:
    before = _fingerprint(demo["home"])
    calls: list[tuple[list[str], dict[str, str]]] = []
    for i, (field, value) in enumerate(SMUGGLED):
        f = tmp_path / f"svc_{i}.yaml"
        f.write_text(yaml.safe_dump(_variant(demo["service"], field, value), allow_unicode=True))
        calls.append((["service", "apply", str(f)], {}))
    for (field, _), proc in zip(SMUGGLED, tagoffline_many(calls, demo["env"]), strict=True):
        said = one_error_line(proc)
        assert said.startswith(f"error: {field}") or f"; {field}" in said, (field, said)
    assert _fingerprint(demo["home"]) == before  # no service saved, no table touched
    print(f"\nsmuggled service files: {len(SMUGGLED)} tried, all refused naming the field, nothing written")


#: edited CREATE TABLE statements for `service ddl --sql FILE --execute` (SQLite target)
HOSTILE_DDL = [
    "DROP TABLE user_tags",
    "CREATE TABLE user_tags2 (user_id INTEGER PRIMARY KEY); DROP TABLE user_tags",
    "CREATE TABLE user_tags2 AS SELECT * FROM user_tags",
    "ATTACH DATABASE '/tmp/evil.db' AS evil",
    "CREATE TABLE evil.user_tags2 (user_id INTEGER PRIMARY KEY)",
    "CREATE TABLE other_table (user_id INTEGER PRIMARY KEY)",
    "CREATE TEMP TRIGGER t AFTER INSERT ON user_tags BEGIN DELETE FROM user_tags; END",
    "CREATE TABLE user_tags2 (user_id INTEGER PRIMARY KEY, x TEXT DEFAULT (load_extension('/tmp/x.so')))",
    "CREATE TABLE user_tags2 (user_id INTEGER PRIMARY KEY, x TEXT CHECK (x IN (SELECT name FROM sqlite_master)))",
    "CREATE VIEW user_tags2 AS SELECT * FROM user_tags",
    "PRAGMA writable_schema = 1",
    "VACUUM INTO '/tmp/copy.db'",
]


def test_an_edited_create_table_runs_nothing_else(demo: dict[str, Any], tmp_path: Path) -> None:
    env = demo["env"]
    second = _variant(_variant(demo["service"], "name", "crm_user_tags2"), "target.table", "user_tags2")
    f = tmp_path / "second.yaml"
    f.write_text(yaml.safe_dump(second))
    assert tagoffline("service", "apply", str(f), env=env).returncode == 0
    target = demo["home"] / "target.db"
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    calls: list[tuple[list[str], dict[str, str]]] = []
    for i, statement in enumerate(HOSTILE_DDL):
        sql = tmp_path / f"edit_{i}.sql"
        sql.write_text(statement + ";\n")
        calls.append((["service", "ddl", "crm_user_tags2", "--sql", str(sql), "--execute"], {}))
    for statement, proc in zip(HOSTILE_DDL, tagoffline_many(calls, env), strict=True):
        said = one_error_line(proc)
        assert "statements" in said or "CREATE TABLE" in said, (statement, said)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    assert not Path("/tmp/evil.db").exists() and not Path("/tmp/copy.db").exists()
    db = sqlite3.connect(target)
    try:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    finally:
        db.close()
    assert "user_tags" in names and "user_tags2" not in names and "other_table" not in names, names
    print(f"\nhostile CREATE TABLE edits: {len(HOSTILE_DDL)} tried, all refused, the target file unchanged")


# ---- tagoffline run refuses what the task refuses ------------------------------------------------------------

def test_run_refuses_what_the_task_refuses(demo: dict[str, Any]) -> None:
    env = demo["env"]
    before = _fingerprint(demo["home"])
    dates = ["2026-11-20", "2026-02-30", "20/11/2026", "2026-11-20'; DROP TABLE user_tags; --"]
    older, *bad, missing = tagoffline_many([(["run", "crm_user_tags", "--date", d], {}) for d in dates] +
                                           [(["run", "no_such_service", "--date", DAY], {})], env)
    said = one_error_line(older)
    assert "holds data date 2026-11-23" in said and "would roll it back" in said, said
    for proc in bad:
        assert "is not a date" in one_error_line(proc)
    assert "no_such_service" in one_error_line(missing)
    assert _fingerprint(demo["home"]) == before


# ---- no secret in the CLI's output -----------------------------------------------------------------------------

SECRET = "S3cret-never-shown"


def test_no_password_reaches_the_output_or_the_traceback(demo: dict[str, Any], tmp_path: Path) -> None:
    nobody = pg_conn_json("x", login="tot_nobody", password=SECRET)
    host, port = json.loads(nobody)["host"], json.loads(nobody)["port"]
    cases: dict[str, tuple[list[str], dict[str, str]]] = {
        "a target whose login fails": (["run", "crm_user_tags", "--date", DAY, "--allow-older"], {
            "AIRFLOW_CONN_DEMO_TARGET": nobody}),
        "a target server that is not there": (["service", "ddl", "crm_user_tags", "--execute"], {
            "AIRFLOW_CONN_DEMO_TARGET": f"mysql://root:{SECRET}@127.0.0.1:1/x"}),
        "a warehouse whose login fails": (["run", "crm_user_tags", "--date", DAY, "--allow-older"], {
            "AIRFLOW_CONN_TAG_WAREHOUSE": nobody}),
        "a catalog store whose login fails": (["service", "list"], {
            "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": f"postgresql+psycopg://tot_nobody:{SECRET}@{host}:{port}/x"}),
        "a catalog store that is not there": (["db", "migrate"], {
            "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": f"mysql+pymysql://root:{SECRET}@127.0.0.1:1/x"}),
    }
    calls = [(args, {**changes, "TAGOFFLINE_DEBUG": debug}) for args, changes in cases.values() for debug in ("", "1")]
    # what the CLI prints of a service, a catalog and its connections: ids, never secrets
    shown = {"AIRFLOW_CONN_DEMO_TARGET": json.dumps({"conn_type": "sqlite", "host": str(demo["home"] / "target.db"),
                                                     "password": SECRET})}
    prints = [(args, shown) for args in (["service", "show", "crm_user_tags", "--json"], ["service", "list", "--json"],
                                         ["catalog", "export"], ["service", "ddl", "crm_user_tags"])]
    results = tagoffline_many(calls + prints, demo["env"])
    for (args, changes), proc in zip(calls, results, strict=False):
        assert proc.returncode != 0, (args, proc.stdout)
        assert SECRET not in proc.stdout + proc.stderr, (args, changes, (proc.stdout + proc.stderr)[-3000:])
        if not changes["TAGOFFLINE_DEBUG"]:
            one_error_line(proc)
    for proc in results[len(calls):]:
        assert proc.returncode == 0 and SECRET not in proc.stdout + proc.stderr, (proc.args, proc.stderr)
    print(f"\nsecrets: {len(results)} commands (failing ones with and without the traceback), no password shown")
