"""A real Airflow API server with the plugin loaded, for the REST API tests (session-scoped).

* its own AIRFLOW_HOME (SQLite metadata database: enough for the API server alone);
* SimpleAuthManager users ``admin`` (admin), ``alice`` and ``bob`` (user), ``carol`` (viewer), with
  a passwords file written before the server starts; tokens from ``POST /auth/token``;
* the catalog store on a fresh PostgreSQL database (``tagoffline db migrate`` first);
* target connections as ``AIRFLOW_CONN_*`` variables: a fresh PostgreSQL database (``crm_pg``),
  a fresh MariaDB database (``crm_mysql``), a SQLite file (``crm_sqlite``) and the DuckDB warehouse
  (``tag_warehouse``);
* ``airflow api-server`` started in its own process group (setsid) on a free port, and the whole
  group killed at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from dbs import PG_ADMIN_URL, _mysql_connect

BIN = Path(sys.executable).parent
USERS = {"admin": "admin", "alice": "user", "bob": "user", "carol": "viewer"}
PASSWORDS = {u: f"{u}-pw" for u in USERS}
PG_TARGET_PASSWORD = "s3cret-never-shown"

CATALOG: dict[str, Any] = {
    "applications": [
        {"code": "crm", "name": "CRM", "admins": ["alice"], "members": ["bob"]},
        {"code": "risk", "name": "Risk engine", "admins": ["admin"], "members": []},
    ],
    "lookups": [{"code": "gender_codes", "name": "Gender", "values": {"M": "Male", "F": "Female"}}],
    "entities": [{
        "code": "user", "name": "User",
        "ids": [{"code": "user_id", "name": "User ID", "type": "bigint"},
                {"code": "mobile", "name": "Mobile", "type": "string"}],
        "tags": [
            {"code": "gender", "name": "Gender", "type": "string", "id": "user_id", "lookup": "gender_codes",
             "source": {"table": "dws_user_profile_d", "key": "user_id", "column": "gender", "partition": "ds"}},
            {"code": "gmv_30d", "name": "GMV 30d", "type": "decimal(18,2)", "id": "user_id",
             "source": {"table": "dws_user_trade_d", "key": "user_id", "column": "gmv_30d", "partition": "ds"}},
            {"code": "level", "name": "Level", "type": "bigint", "id": "user_id",
             "source": {"table": "dws_user_profile_d", "key": "user_id", "column": "level", "partition": "ds"}},
            {"code": "mobile_city", "name": "City by mobile", "type": "string", "id": "mobile",
             "source": {"table": "dws_mobile_d", "key": "mobile", "column": "city"}},
        ]}],
    "grants": [{"application": "crm", "entity": "user", "tags": ["gender", "gmv_30d", "mobile_city"]}],
}


def make_service_body(name: str, owner: str = "alice", conn_id: str = "crm_pg", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name, "application": "crm", "owner": owner, "entity": "user", "entity_id": "user_id",
        "description": "tags for the CRM",
        "schedule": {"type": "manual"},
        "target": {"conn_id": conn_id, "table": f"t_{name}"[:40], "load": "overwrite"},
        "mappings": [{"tag": "gender", "value": "gender", "codename": "gender_codename"},
                     {"tag": "gmv_30d", "value": "gmv_30d"}],
    }
    body.update(changes)
    return body


def _pg_connect() -> Any:
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], env: dict[str, str], timeout: int = 180) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


@dataclass
class ApiServer:
    base_url: str
    home: Path
    env: dict[str, str]
    catalog_url: str
    log_path: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, user: str) -> str:
        if user not in self.tokens:
            r = httpx.post(f"{self.base_url}/auth/token", json={"username": user, "password": PASSWORDS[user]},
                           timeout=30)
            assert r.status_code in (200, 201), r.text
            self.tokens[user] = r.json()["access_token"]
        return self.tokens[user]

    def client(self, user: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return httpx.Client(base_url=f"{self.base_url}/tag-offline", headers=headers, timeout=60)

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""


@pytest.fixture(scope="session")
def pg_dbs() -> Iterator[dict[str, str]]:
    names = {"catalog": f"tot_api_cat_{uuid.uuid4().hex[:8]}", "target": f"tot_api_tgt_{uuid.uuid4().hex[:8]}"}
    with _pg_connect() as conn:
        for n in names.values():
            conn.execute(f'CREATE DATABASE "{n}"')
    try:
        yield names
    finally:
        with _pg_connect() as conn:
            for n in names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')


@pytest.fixture(scope="session")
def mysql_db() -> Iterator[str]:
    name = f"tot_api_{uuid.uuid4().hex[:8]}"
    conn = _mysql_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    finally:
        conn.close()
    try:
        yield name
    finally:
        conn = _mysql_connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()


def _make_warehouse(path: Path) -> None:
    import duckdb

    db = duckdb.connect(str(path))
    try:
        db.execute("CREATE TABLE dws_user_profile_d (user_id BIGINT, gender VARCHAR, level BIGINT, ds VARCHAR)")
        db.execute("INSERT INTO dws_user_profile_d VALUES (1, 'M', 1, '20260101'), (2, 'F', 2, '20260101')")
        db.execute("CREATE TABLE dws_user_trade_d (user_id BIGINT, gmv_30d DECIMAL(18,2), ds VARCHAR)")
        db.execute("INSERT INTO dws_user_trade_d VALUES (1, 10.5, '20260101')")
    finally:
        db.close()


def server_env(home: Path, catalog_url: str, pg_target: str, mysql_db: str) -> dict[str, str]:
    pg_base = PG_ADMIN_URL.rsplit("/", 1)[0]
    host_port = pg_base.split("@", 1)[1]
    pg_host, pg_port = host_port.split(":")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRFLOW_CONN_"))}
    (home / "passwords.json").write_text(json.dumps(PASSWORDS))
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
        "AIRFLOW__API__SECRET_KEY": uuid.uuid4().hex,
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": catalog_url,
        "AIRFLOW__TAG_OFFLINE__DAGS_FOLDER": str(home / "dags" / "tag_offline"),
        "AIRFLOW__TAG_OFFLINE__WAREHOUSE_CONN_ID": "tag_warehouse",
        "AIRFLOW__TAG_OFFLINE__TIMEZONE": "Asia/Shanghai",
        "AIRFLOW_CONN_TAG_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(home / "warehouse.duckdb")}),
        "AIRFLOW_CONN_CRM_PG": json.dumps({"conn_type": "postgres", "host": pg_host, "port": int(pg_port),
                                           "login": "postgres", "password": PG_TARGET_PASSWORD,
                                           "schema": pg_target, "extra": {"sslmode": "disable"}}),
        "AIRFLOW_CONN_CRM_MYSQL": json.dumps({"conn_type": "mysql", "host": "127.0.0.1", "port": 3306,
                                              "login": "root", "schema": mysql_db,
                                              "extra": {"flavor": "mariadb"}}),
        "AIRFLOW_CONN_CRM_SQLITE": json.dumps({"conn_type": "sqlite", "host": str(home / "target.db")}),
        "AIRFLOW_CONN_NOT_A_TARGET": json.dumps({"conn_type": "http", "host": "example.com"}),
    })
    return env


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory, pg_dbs: dict[str, str], mysql_db: str) -> Iterator[ApiServer]:
    home = tmp_path_factory.mktemp("api_airflow_home")
    (home / "dags" / "tag_offline").mkdir(parents=True)
    _make_warehouse(home / "warehouse.duckdb")
    catalog_url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + \
        f"/{pg_dbs['catalog']}"
    env = server_env(home, catalog_url, pg_dbs["target"], mysql_db)
    _run([str(BIN / "airflow"), "db", "migrate"], env)
    _run([str(BIN / "tagoffline"), "db", "migrate"], env)
    port = _free_port()
    log_path = home / "api-server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(BIN / "airflow"), "api-server", "--port", str(port), "--host", "127.0.0.1",
                                 "--workers", "1"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = ApiServer(base_url=f"http://127.0.0.1:{port}", home=home, env=env, catalog_url=catalog_url,
                       log_path=log_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"api-server exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                if httpx.get(f"{server.base_url}/tag-offline/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"api-server did not come up in 120 s:\n{server.log_tail()}")
            time.sleep(0.5)
        r = server.client("admin").post("/catalog/apply", json=CATALOG)
        assert r.status_code == 200, r.text
        yield server
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="session")
def admin(api_server: ApiServer) -> Iterator[httpx.Client]:
    with api_server.client("admin") as c:
        yield c


@pytest.fixture(scope="session")
def alice(api_server: ApiServer) -> Iterator[httpx.Client]:
    with api_server.client("alice") as c:
        yield c


@pytest.fixture(scope="session")
def bob(api_server: ApiServer) -> Iterator[httpx.Client]:
    with api_server.client("bob") as c:
        yield c


@pytest.fixture(scope="session")
def carol(api_server: ApiServer) -> Iterator[httpx.Client]:
    with api_server.client("carol") as c:
        yield c


@pytest.fixture(scope="session")
def anon(api_server: ApiServer) -> Iterator[httpx.Client]:
    with api_server.client() as c:
        yield c


@pytest.fixture(scope="session")
def service_body() -> Any:
    """``service_body(name, owner=..., conn_id=..., **field_overrides)``: a valid service definition."""
    return make_service_body
