"""A real Airflow with the plugin loaded, for the REST API and publishing tests (session-scoped).

* API server, scheduler and dag-processor as separate processes (``tests/stack.py``), PostgreSQL as
  Airflow's metadata database, LocalExecutor;
* SimpleAuthManager users ``admin`` (admin), ``alice`` and ``bob`` (user), ``carol`` (viewer),
  ``mallory`` (user; admin of the rival application ``other``) and ``oscar`` (op, in no application),
  with a passwords file written before the server starts; tokens from ``POST /auth/token``;
* the catalog store on a fresh PostgreSQL database (``tagoffline db migrate`` first);
* target connections as ``AIRFLOW_CONN_*`` variables: a fresh PostgreSQL database (``crm_pg``),
  a fresh MariaDB database (``crm_mysql``), a SQLite file (``crm_sqlite``) and the DuckDB warehouse
  (``tag_warehouse``) with three data dates, 2026-01-01 to 2026-01-03; ``crm_pg_alias`` is a second
  connection id of ``crm_pg``'s database, ``crm_gp`` a third, Greenplum-flavoured (``extra.flavor``);
  and ``crm_smtp``, an SMTP connection for services' notifications;
* every process group killed and every database dropped at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_data import PASSWORDS, PG_TARGET_PASSWORD, USERS, WAREHOUSE_DATES, warehouse_rows
from stack import (
    BIN,
    COMPONENTS,
    AirflowStack,
    airflow_env,
    celery_env,
    celery_worker,
    run_cli,
    simple_auth_env,
)

from tests.catalog_data import gender_tag, user_catalog
from tests.live import free_port, mysql_conn_json, mysql_database, pg_conn_json, pg_database, pg_url

CATALOG: dict[str, Any] = user_catalog(
    applications=[
        {"code": "crm", "name": "CRM", "admins": ["alice"], "members": ["bob"]},
        {"code": "risk", "name": "Risk engine", "admins": ["admin"], "members": []},
        {"code": "other", "name": "A rival application", "admins": ["mallory"], "members": []},
    ],
    tags=[
        gender_tag("dws_user_profile_d"),
        {"code": "gmv_30d", "name": "GMV 30d", "type": "decimal(18,2)", "id": "user_id",
         "source": {"table": "dws_user_trade_d", "key": "user_id", "column": "gmv_30d", "partition": "ds"}},
        {"code": "level", "name": "Level", "type": "bigint", "id": "user_id",
         "source": {"table": "dws_user_profile_d", "key": "user_id", "column": "level", "partition": "ds"}},
        {"code": "mobile_city", "name": "City by mobile", "type": "string", "id": "mobile",
         "source": {"table": "dws_mobile_d", "key": "mobile", "column": "city"}},
    ],
    grants=[{"application": "crm", "entity": "user", "tags": ["gender", "gmv_30d", "mobile_city"]},
            {"application": "other", "entity": "user", "tags": ["gender", "gmv_30d"]}],
    # crm writes its connections (crm_pg in two schemas, the warehouse in main, crm_gp in gp); other writes
    # crm_pg's public schema, and crm_pg's database again through crm_pg_alias
    target_grants=[{"application": "crm", "conn_id": "crm_pg", "schemas": ["crm", "public"]},
                   {"application": "crm", "conn_id": "crm_mysql"}, {"application": "crm", "conn_id": "crm_sqlite"},
                   {"application": "crm", "conn_id": "tag_warehouse", "schemas": ["main"]},
                   {"application": "crm", "conn_id": "crm_gp", "schemas": ["gp"]},
                   # crm's services notify through crm_smtp: a connection grant like a target's
                   {"application": "crm", "conn_id": "crm_smtp"},
                   {"application": "other", "conn_id": "crm_pg", "schemas": ["public"]},
                   {"application": "other", "conn_id": "crm_pg_alias"}],
)


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


@dataclass
class ApiServer:
    stack: AirflowStack
    catalog_url: str
    pg_dbs: dict[str, str]  # catalog, target, airflow
    mysql_db: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    @property
    def home(self) -> Path:
        return self.stack.home

    @property
    def env(self) -> dict[str, str]:
        return self.stack.env

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

    def airflow(self, user: str = "admin") -> httpx.Client:
        """A client of Airflow's own REST API (``/api/v2``)."""
        return httpx.Client(base_url=f"{self.base_url}/api/v2", headers={"Authorization": f"Bearer {self.token(user)}"},
                            timeout=60)

    def log_tail(self, component: str = "api-server", n: int = 4000) -> str:
        return self.stack.log_tail(component, n)


@contextmanager
def databases() -> Iterator[tuple[dict[str, str], str]]:
    """Fresh PostgreSQL databases (catalog, target, Airflow metadata) and a MariaDB database."""
    with ExitStack() as stack:
        names = {role: stack.enter_context(pg_database(f"tot_api_{role}")) for role in ("catalog", "target", "airflow")}
        yield names, stack.enter_context(mysql_database("tot_api", collation=None))


def _make_warehouse(path: Path) -> None:
    import duckdb

    db = duckdb.connect(str(path))
    try:
        db.execute("CREATE TABLE dws_user_profile_d (user_id BIGINT, gender VARCHAR, level BIGINT, ds VARCHAR)")
        db.execute("CREATE TABLE dws_user_trade_d (user_id BIGINT, gmv_30d DECIMAL(18,2), ds VARCHAR)")
        for ds in WAREHOUSE_DATES:
            for uid, (gender, level, gmv) in warehouse_rows(ds).items():
                db.execute("INSERT INTO dws_user_profile_d VALUES (?, ?, ?, ?)", [uid, gender, level, ds])
                if gmv is not None:
                    db.execute("INSERT INTO dws_user_trade_d VALUES (?, ?, ?)", [uid, gmv, ds])
    finally:
        db.close()


def server_env(home: Path, port: int, pg_dbs: dict[str, str], mysql_db: str) -> dict[str, str]:
    """The environment of every process of the stack: Airflow on ``pg_dbs["airflow"]``, the catalog
    store on ``pg_dbs["catalog"]``, and the connections the module docstring lists."""
    pg_target = pg_dbs["target"]
    pg_host = json.loads(pg_conn_json(pg_target))["host"]
    metadata_url = pg_url(pg_dbs["airflow"], driver="psycopg2")
    env = airflow_env(home, port, metadata_url)
    env.update(simple_auth_env(home, USERS, PASSWORDS))
    env.update({
        "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": pg_url(pg_dbs["catalog"], driver="psycopg"),
        "AIRFLOW__TAG_OFFLINE__DAGS_FOLDER": str(home / "dags" / "tag_offline"),
        "AIRFLOW__TAG_OFFLINE__WAREHOUSE_CONN_ID": "tag_warehouse",
        "AIRFLOW__TAG_OFFLINE__TIMEZONE": "Asia/Shanghai",
        "AIRFLOW_CONN_TAG_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(home / "warehouse.duckdb")}),
        "AIRFLOW_CONN_CRM_PG": pg_conn_json(pg_target, password=PG_TARGET_PASSWORD, extra={"sslmode": "disable"}),
        # another spelling of the same server where it is this machine
        "AIRFLOW_CONN_CRM_PG_ALIAS": pg_conn_json(pg_target, host="localhost" if pg_host == "127.0.0.1" else pg_host),
        # crm_pg's database again, flavoured: the flavour is ours and must never reach libpq
        "AIRFLOW_CONN_CRM_GP": pg_conn_json(pg_target, password=PG_TARGET_PASSWORD, extra={"flavor": "greenplum"}),
        "AIRFLOW_CONN_CRM_MYSQL": mysql_conn_json(mysql_db, extra={"flavor": "mariadb"}),
        "AIRFLOW_CONN_CRM_SQLITE": json.dumps({"conn_type": "sqlite", "host": str(home / "target.db")}),
        "AIRFLOW_CONN_NOT_A_TARGET": json.dumps({"conn_type": "http", "host": "example.com"}),
        # services' notifications (docs/notifications.md): a mail server nobody listens on
        "AIRFLOW_CONN_CRM_SMTP": json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": 2525,
                                             "password": "smtp-pw-never-shown",
                                             "extra": {"from_email": "tag-offline@example.com"}}),
    })
    return env


@contextmanager
def server_home(home: Path) -> Iterator[tuple[int, dict[str, str], dict[str, str], str]]:
    """``home`` made ready for an Airflow with the plugin: its DAG folder, the DuckDB warehouse, fresh
    databases (dropped on the way out) and a free port; yields (port, environment, pg_dbs, mysql_db)."""
    (home / "dags" / "tag_offline").mkdir(parents=True)
    _make_warehouse(home / "warehouse.duckdb")
    with databases() as (pg_dbs, mysql_db):
        port = free_port()
        yield port, server_env(home, port, pg_dbs, mysql_db), pg_dbs, mysql_db


@contextmanager
def running_api_server(home: Path, components: tuple[str, ...] = COMPONENTS,
                       celery_workers: dict[str, tuple[list[str], dict[str, str]]] | None = None,
                       ) -> Iterator[ApiServer]:
    """Airflow with the plugin (``components`` of it) on its own databases, with CATALOG applied;
    with ``celery_workers`` (name -> ``stack.celery_worker(...)``) on CeleryExecutor and those workers."""
    with server_home(home) as (port, env, pg_dbs, mysql_db):
        if celery_workers:
            env.update(celery_env(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]))
        run_cli([str(BIN / "airflow"), "db", "migrate"], env)
        run_cli([str(BIN / "tagoffline"), "db", "migrate"], env)
        stack = AirflowStack(home=home, port=port, env=env, components=components, extra=dict(celery_workers or {}))
        server = ApiServer(stack=stack, catalog_url=env["AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN"], pg_dbs=pg_dbs,
                           mysql_db=mysql_db)
        try:
            stack.start(ready_path="/tag-offline/openapi.json")
            r = server.client("admin").post("/catalog/apply", json=CATALOG)
            assert r.status_code == 200, r.text
            yield server
        finally:
            stack.stop()


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """API server, scheduler and dag-processor."""
    with running_api_server(tmp_path_factory.mktemp("api_airflow_home")) as server:
        yield server


@pytest.fixture(scope="module")
def celery_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The same Airflow on CeleryExecutor: two Celery workers, ``worker_a`` serving queue ``q_a`` and
    ``worker_b`` serving ``q_b`` and ``default`` (tests/api/test_celery_workers.py)."""
    workers = {"worker_a": celery_worker("worker_a", "q_a"), "worker_b": celery_worker("worker_b", "q_b,default")}
    with running_api_server(tmp_path_factory.mktemp("celery_airflow_home"), celery_workers=workers) as server:
        yield server


@pytest.fixture(scope="session")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The API server alone, on databases of its own: for generated requests that may change anything."""
    with running_api_server(tmp_path_factory.mktemp("fuzz_airflow_home"), components=("api-server",)) as server:
        yield server


@pytest.fixture(scope="session")
def pg_dbs(api_server: ApiServer) -> dict[str, str]:
    return api_server.pg_dbs


@pytest.fixture(scope="session")
def mysql_db(api_server: ApiServer) -> str:
    return api_server.mysql_db


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium driven by Playwright (tests/browser.py), one per test module."""
    from browser import chromium

    with chromium() as b:
        yield b


def _client_of(user: str | None, name: str) -> Any:
    """A session fixture ``name``: a client of the plugin's REST API as ``user`` (None: no token)."""
    @pytest.fixture(scope="session", name=name)
    def client(api_server: ApiServer) -> Iterator[httpx.Client]:
        with api_server.client(user) as c:
            yield c

    return client


admin = _client_of("admin", "admin")
alice = _client_of("alice", "alice")
bob = _client_of("bob", "bob")
carol = _client_of("carol", "carol")
mallory = _client_of("mallory", "mallory")  # an ordinary account: admin of the rival application ``other``
anon = _client_of(None, "anon")


@pytest.fixture(scope="session")
def service_body() -> Any:
    """``service_body(name, owner=..., conn_id=..., **field_overrides)``: a valid service definition."""
    return make_service_body
