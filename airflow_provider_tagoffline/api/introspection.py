"""Connections of supported kinds, and the schemas, tables and columns behind them.

Listing reads Airflow's connections (metadata database, then ``AIRFLOW_CONN_*`` variables) and
returns only non-secret fields: never a password, a login or the extras. Introspection is each
family's (``dialects/<family>/introspect.py``, on the interface of ``contract/introspection.py``), opened the
family's one way, so a flavoured connection reads as it runs.
"""

from __future__ import annotations

import os
from typing import Any

from airflow_provider_tagoffline import airflow_bridge as af
from airflow_provider_tagoffline import config, connections
from airflow_provider_tagoffline.api.schemas import ColumnOut, ConnectionOut, KindOut
from airflow_provider_tagoffline.contract.introspection import Introspection
from airflow_provider_tagoffline.dialects import TARGET_KINDS, WAREHOUSE, Dialect, get_dialect
from airflow_provider_tagoffline.errors import NotFound, ValidationFailed, redacted_first_line


def _target(conn: Any, warehouse: str) -> connections.Resolved | None:
    """``conn`` as a target (``warehouse`` for the warehouse itself), or None when it is none; its
    family's provider may be missing (listed all the same: using it says which extra to install)."""
    try:
        return connections.resolve_target(conn.conn_id, warehouse, connection=conn, installed=False)
    except (ValidationFailed, ValueError, TypeError):
        return None


def _kind_out(kind: str, dialect: Dialect) -> KindOut:
    return KindOut(kind=kind, family=dialect.family, title=dialect.title if kind != WAREHOUSE else kind,
                   has_schemas=dialect.has_schemas, supports_partitions=dialect.supports_partitions,
                   default_schema=dialect.default_schema(None))


def kinds() -> list[KindOut]:
    """Every target kind of the registry; ``warehouse`` with the configured warehouse's facts, when
    that warehouse can be a target."""
    out = [_kind_out(k, get_dialect(k)) for k in TARGET_KINDS if k != WAREHOUSE]
    try:
        warehouse = connections.resolve_target(config.warehouse_conn_id(), field="warehouse_conn_id")
    except ValidationFailed:
        return out
    return out + [_kind_out(WAREHOUSE, warehouse.dialect)]


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
        where = _target(conn, warehouse)
        if where is None:
            continue
        out.append(ConnectionOut(conn_id=conn_id, conn_type=conn.conn_type or "", kind=where.kind,
                                 host=conn.host or None, port=_port(conn.port), database=conn.schema or None,
                                 description=getattr(conn, "description", None) or None,
                                 has_schemas=where.dialect.has_schemas))
    return out


def _introspect(conn_id: str) -> Introspection:
    try:
        conn = connections.get_connection(conn_id, "conn_id")
    except ValidationFailed:
        raise NotFound("connection", conn_id) from None
    where = _target(conn, config.warehouse_conn_id())
    if where is None:
        raise ValidationFailed.one("conn_id", f"connection {conn_id!r} is of type {conn.conn_type!r}, not a "
                                              f"supported target kind")
    connections.require_installed(where, "conn_id")
    return where.family.introspection(where.connection, where.dialect.kind)


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
    return [ColumnOut(name=c.name, type=c.type, nullable=c.nullable, primary_key=bool(c.primary_key))
            for c in _wrap(conn_id, intro.columns, schema, table)]


def has_table(conn_id: str, schema: str | None, table: str) -> bool:
    intro = _introspect(conn_id)
    return bool(_wrap(conn_id, intro.has_table, schema, table))
