"""Shared pieces of the benchmarks: the 10-tag warehouse, the run spec, databases, timing.

Each bench script builds its own databases (dropped at the end), measures our engine and a
reference in the same run on the same rows, and prints the ratio last. The servers are the tests'
(``tests/live.py``: the same environment variables point both elsewhere).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from tests import live
from tests.live import mysql_conn_json, mysql_connect, pg_conn_json, pg_connect, pg_url
from tests.stack import COMPONENTS, AirflowStack, bench_stack

DAY = "2026-11-23"
TAGS = [  # (code, type, DuckDB expression over i, PostgreSQL expression over i)
    ("gender", "string", "['M','F','U'][1 + (i % 3)::INT]", "(ARRAY['M','F','U'])[1 + (i % 3)]"),
    ("level", "bigint", "1 + (i * 7) % 5", "1 + (i * 7) % 5"),
    ("city", "string", "'city_' || (i % 1000)", "'city_' || (i % 1000)"),
    ("gmv_30d", "decimal(18,2)", "((i * 37) % 1000000) / 100.0", "((i * 37) % 1000000) / 100.0"),
    ("orders_30d", "bigint", "(i * 13) % 200", "(i * 13) % 200"),
    ("score", "double", "(i % 10007) / 7.0", "(i % 10007) / 7.0"),
    ("vip", "boolean", "i % 7 = 0", "i % 7 = 0"),
    ("birthday", "date", "DATE '1970-01-01' + (i % 15000)::INT", "DATE '1970-01-01' + (i % 15000)::INT"),
    ("last_login", "datetime", "TIMESTAMP '2026-01-01' + INTERVAL (i % 86400) SECOND",
     "TIMESTAMP '2026-01-01' + (i % 86400) * INTERVAL '1 second'"),
    ("nickname", "string", "'user ' || i || ' 用户'", "'user ' || i || ' 用户'"),
]
SQL_TYPES = {"string": "varchar", "bigint": "bigint", "decimal(18,2)": "decimal(18,2)", "double": "double",
             "boolean": "boolean", "date": "date", "datetime": "timestamp"}
PG_TYPES = {**SQL_TYPES, "string": "text", "double": "double precision"}
#: the catalog of the benches that publish services: one tag, and the SQLite target app_db of bench_stack
ONE_TAG_CATALOG = {
    "applications": [{"code": "crm", "name": "CRM", "admins": ["admin"], "members": []}],
    "entities": [{"code": "user", "name": "User", "ids": [{"code": "user_id", "name": "User ID", "type": "bigint"}],
                  "tags": [{"code": "gender", "name": "Gender", "type": "string", "id": "user_id",
                            "source": {"table": "dws_user_d", "key": "user_id", "column": "gender",
                                       "partition": "ds"}}]}],
    "grants": [{"application": "crm", "entity": "user", "tags": ["gender"]}],
    "target_grants": [{"application": "crm", "conn_id": "app_db"}],
}


def spec_dict(conn_id: str, kind: str, warehouse_conn_id: str, table: str = "user_tags") -> dict[str, Any]:
    return {
        "service": {"name": "bench", "slug": "bench", "application": "bench", "owner": "bench", "version": 1},
        "entity_key": {"entity": "user", "code": "user_id", "name": "User ID", "type": "bigint"},
        "warehouse_conn_id": warehouse_conn_id,
        "sources": [{"table": "dws_user_tags_d", "key": "user_id",
                     "partition": {"column": "ds", "format": "yyyyMMdd"}}],
        "tags": [{"code": c, "name": c, "type": t, "source": 0, "column": c} for c, t, _, _ in TAGS],
        "outputs": [{"column": c, "tag": c, "content": "value", "type": t} for c, t, _, _ in TAGS],
        "target": {"conn_id": conn_id, "kind": kind, "table": table, "key_column": "user_id"},
        "gates": {}, "schedule": {"type": "manual", "timezone": "UTC"},
    }


def build_duckdb_warehouse(path: str, users: int) -> None:
    import duckdb

    con = duckdb.connect(path)
    cols = ", ".join(f"{c} {SQL_TYPES[t]}" for c, t, _, _ in TAGS)
    con.execute(f"CREATE OR REPLACE TABLE dws_user_tags_d (user_id BIGINT, {cols}, ds VARCHAR)")
    exprs = ", ".join(e for _, _, e, _ in TAGS)
    con.execute(f"INSERT INTO dws_user_tags_d SELECT i, {exprs}, '20261123' FROM range(1, {users} + 1) t(i)")
    con.close()


def build_pg_warehouse(dbname: str, users: int) -> None:
    with pg_connect(dbname) as con:
        cols = ", ".join(f"{c} {PG_TYPES[t]}" for c, t, _, _ in TAGS)
        con.execute(f"CREATE TABLE dws_user_tags_d (user_id bigint, {cols}, ds text)")
        exprs = ", ".join(e for _, _, _, e in TAGS)
        con.execute(f"INSERT INTO dws_user_tags_d SELECT i, {exprs}, '20261123' FROM generate_series(1, {users}) i")
        con.execute("ANALYZE dws_user_tags_d")


def target_ddl_pg(table: str = "user_tags") -> str:
    cols = ", ".join(f"{c} {PG_TYPES[t]}" for c, t, _, _ in TAGS)
    return f"CREATE TABLE {table} (user_id bigint NOT NULL, {cols}, CONSTRAINT {table}_pk PRIMARY KEY (user_id))"


def target_ddl_mysql(table: str = "user_tags") -> str:
    types = {**SQL_TYPES, "string": "varchar(255)", "datetime": "datetime(6)", "boolean": "tinyint(1)"}
    cols = ", ".join(f"`{c}` {types[t]}" for c, t, _, _ in TAGS)
    return f"CREATE TABLE {table} (user_id bigint NOT NULL, {cols}, PRIMARY KEY (user_id)) DEFAULT CHARSET=utf8mb4"


def pg_database() -> contextlib.AbstractContextManager[str]:
    """A fresh PostgreSQL database named bench_..., dropped on the way out."""
    return live.pg_database("bench")


def mysql_database() -> contextlib.AbstractContextManager[str]:
    """A fresh MariaDB database (utf8mb4, the server's default collation) named bench_..., dropped on the way out."""
    return live.mysql_database("bench", collation=None)


def duckdb_conn_json(path: str | Path, **extra: Any) -> str:
    """An Airflow connection to the DuckDB file ``path`` (``extra``: the connection's extra fields)."""
    return json.dumps({"conn_type": "duckdb", "host": str(path), **({"extra": extra} if extra else {})})


@contextlib.contextmanager
def pg_warehouse(users: int) -> Iterator[str]:
    """A fresh PostgreSQL database holding the 10-tag warehouse of ``users`` users; yields its name."""
    with pg_database() as name:
        build_pg_warehouse(name, users)
        yield name


class Targets(NamedTuple):
    pg: str  # the PostgreSQL target database
    my: str  # the MariaDB one
    env: dict[str, str]  # their Airflow connections: bench_pg, bench_my


@contextlib.contextmanager
def targets(*tables: str, mysql: bool = True) -> Iterator[Targets]:
    """A fresh PostgreSQL and (unless ``mysql`` is false) MariaDB target database, each holding the
    empty 10-tag tables ``tables`` (default ``user_tags``), with their Airflow connections."""
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(pg_database())
        with pg_connect(pg) as c:
            for table in tables or ("user_tags",):
                c.execute(target_ddl_pg(table))
        env = {"AIRFLOW_CONN_BENCH_PG": pg_conn_json(pg)}
        my = ""
        if mysql:
            my = stack.enter_context(mysql_database())
            con = mysql_connect(my)
            for table in tables or ("user_tags",):
                con.cursor().execute(target_ddl_mysql(table))
            con.close()
            env["AIRFLOW_CONN_BENCH_MY"] = mysql_conn_json(my)
        yield Targets(pg, my, env)


class Airflow(NamedTuple):
    stack: AirflowStack
    admin: httpx.Client  # the admin's client of the server (plugin routes under /tag-offline)
    catalog_db: str  # the catalog store's PostgreSQL database ("" when it is a SQLite file)


@contextlib.contextmanager
def airflow_stack(name: str, catalog_on_postgres: bool = True,
            components: tuple[str, ...] = COMPONENTS) -> Iterator[Airflow]:
    """A real Airflow with the plugin (``tests/stack.py``'s ``bench_stack``) in a home of its own, its
    metadata database fresh on PostgreSQL, the catalog store too (or in a SQLite file in the home);
    stopped, its home removed and its databases dropped at the end."""
    home = Path(tempfile.mkdtemp(prefix=f"tagoffline-bench-{name}-"))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, home, ignore_errors=True)
        metadata = pg_url(cleanup.enter_context(pg_database()), driver="psycopg2")
        catalog_db = cleanup.enter_context(pg_database()) if catalog_on_postgres else ""
        catalog = pg_url(catalog_db, driver="psycopg") if catalog_db else f"sqlite:///{home / 'catalog.db'}"
        stack, admin = bench_stack(home, metadata, catalog, components)
        cleanup.callback(stack.stop)
        yield Airflow(stack, admin, catalog_db)


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


#: one run_export of $BENCH_SPEC for DAY in a fresh process, as a worker runs it: the modules an Airflow
#: worker has loaded are imported before the clock starts; prints seconds, peak and start RSS, the report
RUN_CODE = (
    "import json, os, sys, time; from airflow_provider_tagoffline.runs import run_export; "
    "import airflow.providers.postgres.hooks.postgres, airflow.providers.mysql.hooks.mysql, "
    "airflow.providers.duckdb.hooks.duckdb; "
    "kb = lambda key: int([l for l in open('/proc/self/status') if l.startswith(key)][0].split()[1]); "
    "start = kb('VmRSS'); "
    "t = time.perf_counter(); r = run_export(json.loads(os.environ['BENCH_SPEC']), '" + DAY + "'); "
    "el = time.perf_counter() - t; "
    "print(json.dumps({'seconds': el, 'rss': kb('VmHWM') * 1024, 'rss_start': start * 1024, "
    "'report': r.to_dict()}))"
)


class ExportRun(NamedTuple):
    seconds: float
    peak_rss: int  # VmHWM of the run's process, bytes
    rss_start: int  # VmRSS when the run started (Airflow and the hooks imported), bytes
    report: dict[str, Any]


def run_export_subprocess(spec: dict[str, Any], env: dict[str, str]) -> ExportRun:
    """One run in a fresh process, as a worker would run it.

    Peak RSS is VmHWM of the run's process (ru_maxrss would include the parent's, inherited at fork).
    """

    proc = subprocess.run([sys.executable, "-c", RUN_CODE], env={**os.environ, **env, "BENCH_SPEC": json.dumps(spec)},
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return ExportRun(out["seconds"], out["rss"], out["rss_start"], out["report"])


def tmpdir() -> Path:
    d = Path(os.environ.get("TMPDIR", "/tmp")) / f"tagoffline-bench-{uuid.uuid4().hex[:6]}"
    d.mkdir(parents=True)
    return d


def timed_command(argv: list[str], env: dict[str, str], cwd: Path | str) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of one run of the command ``argv``; exits on its failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, cwd=cwd)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed:\n{proc.stderr[-3000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stdout


def costliest_imports(script: list[str], env: dict[str, str], cwd: Path | str,
                      count: int = 6) -> tuple[float, list[tuple[str, float]]]:
    """Total import time of ``python -X importtime`` running ``script`` (a path and its arguments, or
    ``-c CODE``), and the (at most ``count``) costliest imports it makes directly (depth 0), each at least
    3% of the total."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *script], capture_output=True, text=True, env=env,
                          timeout=600, cwd=cwd)
    direct = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        if not name.startswith("  "):  # nesting is indented by two spaces per level
            direct.append((name.strip(), int(cumulative) / 1e6))
    direct.sort(key=lambda item: -item[1])
    total = sum(seconds for _, seconds in direct)
    return total, [(name, seconds) for name, seconds in direct[:count] if seconds >= 0.03 * total]
