"""Connections of supported kinds, and the schemas, tables and columns behind them.

Listing reads Airflow's connections (metadata database, then ``AIRFLOW_CONN_*`` variables) and
returns only non-secret fields: never a password, a login or the extras. Introspection goes
through each connection's own Airflow hook:

* PostgreSQL family, MySQL/MariaDB, Oracle: ``sqlalchemy.inspect(hook.get_sqlalchemy_engine())``.
* DuckDB (no SQLAlchemy dialect installed): the hook's DB-API connection, opened read-only, and
  ``information_schema``.
* SQLite (no Airflow provider needed): SQLAlchemy on the file the connection names (host, else
  schema).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from airflow_provider_tagoffline import airflow_bridge as af
from airflow_provider_tagoffline import config, connections
from airflow_provider_tagoffline.api.schemas import ColumnOut, ConnectionOut
from airflow_provider_tagoffline.dialects import get_dialect, kind_for_connection
from airflow_provider_tagoffline.errors import NotFound, ValidationFailed, redacted_first_line

#: DB-API module of a hook's connection → the SQLAlchemy dialect+driver to inspect it with
DRIVER_URLS = {"psycopg": "postgresql+psycopg://", "psycopg2": "postgresql+psycopg2://",
               "MySQLdb": "mysql+mysqldb://", "pymysql": "mysql+pymysql://",
               "mysql": "mysql+mysqlconnector://", "oracledb": "oracle+oracledb://"}
SYSTEM_SCHEMAS = {"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys",
                  "pg_internal", "gp_toolkit", "db4ai", "dbe_perf", "snapshot", "blockchain", "sqladvisor",
                  "dbe_pldebugger", "dbe_pldeveloper", "dbe_sql_util", "cstore", "pkg_service"}


def _kind(conn: Any, warehouse: str) -> str | None:
    if conn.conn_id == warehouse:
        return "warehouse"
    try:
        return kind_for_connection(conn.conn_type, conn.extra_dejson)
    except (ValueError, TypeError):
        return None


def _dialect_kind(conn: Any, kind: str) -> str:
    if kind != "warehouse":
        return kind
    ct = (conn.conn_type or "").lower()
    return {"postgresql": "postgres"}.get(ct, ct)


def _has_schemas(conn: Any, kind: str) -> bool:
    try:
        return get_dialect(_dialect_kind(conn, kind)).has_schemas
    except ValueError:
        return False


def _port(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def list_connections() -> list[ConnectionOut]:
    """Airflow connections whose kind is a supported target, sorted by id, without secrets."""
    warehouse = config.warehouse_conn_id()
    found: dict[str, Any] = {c.conn_id: c for c in af.stored_connections()}
    for key in os.environ:
        if key.startswith("AIRFLOW_CONN_"):
            conn_id = key[len("AIRFLOW_CONN_"):].lower()
            if conn_id not in found:
                try:
                    found[conn_id] = connections.get_connection(conn_id)
                except Exception:  # an unparsable variable is Airflow's problem, not the list's
                    continue
    out = []
    for conn_id in sorted(found):
        conn = found[conn_id]
        kind = _kind(conn, warehouse)
        if kind is None:
            continue
        out.append(ConnectionOut(conn_id=conn_id, conn_type=conn.conn_type or "", kind=kind,
                                 host=conn.host or None, port=_port(conn.port), database=conn.schema or None,
                                 description=getattr(conn, "description", None) or None,
                                 has_schemas=_has_schemas(conn, kind)))
    return out


def _connection(conn_id: str) -> tuple[Any, str]:
    try:
        conn = connections.get_connection(conn_id, "conn_id")
    except ValidationFailed:
        raise NotFound("connection", conn_id) from None
    kind = _kind(conn, config.warehouse_conn_id())
    if kind is None:
        raise ValidationFailed.one("conn_id", f"connection {conn_id!r} is of type {conn.conn_type!r}, not a "
                                              f"supported target kind")
    return conn, kind


class _Introspector:
    """Schemas, tables and columns of one connection, through SQLAlchemy or a DB-API connection."""

    def __init__(self, conn: Any):
        self.conn = conn
        self.conn_type = (conn.conn_type or "").lower()

    @contextmanager
    def _engine(self) -> Iterator[sa.Engine]:
        if self.conn_type == "sqlite":
            path = self.conn.host or self.conn.schema
            if not path:
                raise ValidationFailed.one("conn_id", f"sqlite connection {self.conn.conn_id!r} names no file")
            engine = sa.create_engine(f"sqlite:///{path}")
        else:
            engine = self._hook_engine()
        try:
            yield engine
        finally:
            engine.dispose()

    def _hook_engine(self) -> sa.Engine:
        """An engine whose connections are the hook's own ``get_conn()`` (so every connection option
        the hook honours — SSL, flavours, service names — applies), on the matching SQLAlchemy dialect.

        ``hook.get_sqlalchemy_engine()`` is the fallback: some hooks put every extra into the URL
        (MySqlHook passes ``flavor`` on to the driver, which refuses it).
        """
        hook = self.conn.get_hook()
        probe = hook.get_conn()
        try:
            driver = type(probe).__module__.split(".")[0]
        finally:
            probe.close()
        url = DRIVER_URLS.get(driver)
        if url is None:
            return hook.get_sqlalchemy_engine()
        return sa.create_engine(url, creator=hook.get_conn, poolclass=NullPool)

    @contextmanager
    def _duckdb(self) -> Iterator[Any]:
        from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

        db = DuckDBHook(duckdb_conn_id=self.conn.conn_id, read_only=True).get_conn()
        try:
            db.execute("SET enable_external_access = false")  # catalog reads only: no files, no network
            yield db
        finally:
            db.close()

    def schemas(self) -> list[str]:
        if self.conn_type == "duckdb":
            with self._duckdb() as db:
                rows = db.execute("SELECT DISTINCT schema_name FROM information_schema.schemata "
                                  "WHERE catalog_name = current_database() ORDER BY 1").fetchall()
            return [r[0] for r in rows if r[0] not in SYSTEM_SCHEMAS]
        with self._engine() as engine:
            names = sa.inspect(engine).get_schema_names()
        return sorted(n for n in names if n.lower() not in SYSTEM_SCHEMAS and not n.lower().startswith("pg_"))

    def tables(self, schema: str | None) -> list[str]:
        if self.conn_type == "duckdb":
            with self._duckdb() as db:
                rows = db.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = "
                                  "current_database() AND table_schema = coalesce(?, current_schema()) "
                                  "ORDER BY 1", [schema]).fetchall()
            return [r[0] for r in rows]
        with self._engine() as engine:
            insp = sa.inspect(engine)
            if schema is not None and schema not in insp.get_schema_names():
                raise NotFound("schema", schema)
            return sorted(insp.get_table_names(schema=schema))

    def columns(self, schema: str | None, table: str) -> list[ColumnOut]:
        if self.conn_type == "duckdb":
            with self._duckdb() as db:
                rows = db.execute("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                                  "WHERE table_catalog = current_database() AND table_schema = "
                                  "coalesce(?, current_schema()) AND table_name = ? ORDER BY ordinal_position",
                                  [schema, table]).fetchall()
            if not rows:
                raise NotFound("table", ".".join(p for p in (schema, table) if p))
            return [ColumnOut(name=r[0], type=str(r[1]), nullable=r[2] == "YES") for r in rows]
        with self._engine() as engine:
            insp = sa.inspect(engine)
            if not insp.has_table(table, schema=schema):
                raise NotFound("table", ".".join(p for p in (schema, table) if p))
            pk = set(insp.get_pk_constraint(table, schema=schema).get("constrained_columns") or [])
            return [ColumnOut(name=c["name"], type=str(c["type"]), nullable=c.get("nullable"),
                              primary_key=c["name"] in pk)
                    for c in insp.get_columns(table, schema=schema)]

    def has_table(self, schema: str | None, table: str) -> bool:
        try:
            self.columns(schema, table)
            return True
        except NotFound:
            return False


def _introspect(conn_id: str) -> _Introspector:
    conn, _kind_ = _connection(conn_id)
    return _Introspector(conn)


def _wrap(conn_id: str, func: Any, *args: Any) -> Any:
    """Run an introspection; database errors become a 422 naming the connection."""
    try:
        return func(*args)
    except (NotFound, ValidationFailed):
        raise
    except Exception as exc:
        raise ValidationFailed.one("conn_id", f"cannot read connection {conn_id!r}: "
                                              f"{redacted_first_line(exc)}") from None


def schemas(conn_id: str) -> list[str]:
    intro = _introspect(conn_id)
    return _wrap(conn_id, intro.schemas)


def tables(conn_id: str, schema: str | None) -> list[str]:
    intro = _introspect(conn_id)
    return _wrap(conn_id, intro.tables, schema)


def columns(conn_id: str, schema: str | None, table: str) -> list[ColumnOut]:
    intro = _introspect(conn_id)
    return _wrap(conn_id, intro.columns, schema, table)


def has_table(conn_id: str, schema: str | None, table: str) -> bool:
    intro = _introspect(conn_id)
    return bool(_wrap(conn_id, intro.has_table, schema, table))


def target_conn_id(conn_id: str, target_kind: str) -> str:
    """The connection a target lives on (the warehouse's for ``warehouse`` targets)."""
    return config.warehouse_conn_id() if target_kind == "warehouse" else conn_id
