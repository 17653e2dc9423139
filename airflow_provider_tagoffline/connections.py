"""Airflow connections: the one place that reads them, and the one resolver of which database
family a service targets or reads.

Connections are resolved through Airflow (metadata DB, ``AIRFLOW_CONN_*`` variables or a
secrets backend), so a service and a rendered DAG only ever carry the connection id. Resolving a
connection whose family's Airflow provider is not installed fails there, with the one line naming
the extra to install: at the earliest point it is used (a save's validation, a run's preflight,
introspection), never deep inside a driver.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from airflow_provider_tagoffline import env_connections
from airflow_provider_tagoffline.contract.connection import WAREHOUSE, Resolved, RunConnections
from airflow_provider_tagoffline.dialects import (
    GENERIC,
    Dialect,
    family_of_connection,
    family_of_kind,
    get_dialect,
    kind_for_connection,
)
from airflow_provider_tagoffline.errors import ValidationFailed

if TYPE_CHECKING:
    from airflow_provider_tagoffline.runspec import RunSpec


def get_connection(conn_id: str, field: str = "conn_id") -> Any:
    """The Airflow ``Connection`` for ``conn_id``; a ValidationFailed naming ``field`` if unknown.

    A process that has not loaded Airflow (the CLI) reads an ``AIRFLOW_CONN_*`` variable as Airflow would,
    without importing it (``env_connections.py``): Airflow's import alone costs what ``airflow version``
    does. A process that has loaded it (a worker, the API server) asks Airflow, which also masks the
    connection's secrets in its logs."""
    if "airflow" not in sys.modules:
        found = env_connections.lookup(conn_id)
        if found is not None:
            return found
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException, or a secrets backend error
        if "isn't defined" in str(exc) or type(exc).__name__ == "AirflowNotFoundException":
            raise ValidationFailed.one(field, f"Airflow connection {conn_id!r} does not exist") from None
        raise


def require_installed(where: Resolved, field: str) -> None:
    """A ValidationFailed naming ``field`` when the Airflow provider of ``where``'s family does not
    import here, saying which extra of this package installs it."""
    if where.family.opens_without_provider(where.connection):
        return  # nothing of the provider is used for this connection
    missing = where.family.not_installed()
    if missing:
        raise ValidationFailed.one(field, f"connection {where.conn_id!r} ({where.connection.conn_type}): {missing}")


def resolve_connection(conn_id: str, field: str = "conn_id", *, connection: Any = None,
                       installed: bool = True) -> Resolved:
    """Any connection as what it is: a family's (as its flavour), or the generic family's.
    ``connection``: the Airflow connection of ``conn_id`` when the caller has read it already;
    ``installed``: also require its family's provider (``require_installed``)."""
    conn = connection if connection is not None else get_connection(conn_id, field)
    family = family_of_connection(conn.conn_type)
    if family is None:
        kind = (conn.conn_type or "").lower()
        return Resolved(conn_id, kind, GENERIC, GENERIC.dialect_for(kind), conn, read_by=GENERIC)
    try:
        kind = family.kind_of(conn.conn_type, conn.extra_dejson)
    except ValueError as exc:
        raise ValidationFailed.one(field, f"connection {conn_id!r}: {exc}") from None
    where = Resolved(conn_id, kind, family, family.dialect_for(kind), conn, read_by=GENERIC)
    if installed:
        require_installed(where, field)
    return where


def resolve_warehouse(conn_id: str | None = None, field: str = "warehouse_conn_id") -> Resolved:
    """The warehouse connection (``conn_id``, else the configured one)."""
    from airflow_provider_tagoffline import config

    return resolve_connection(conn_id or config.warehouse_conn_id(), field)


def resolve_target(conn_id: str, warehouse_conn_id: str | None = None, field: str = "target.conn_id", *,
                   connection: Any = None, installed: bool = True) -> Resolved:
    """A service's target connection (spec §2): kind ``warehouse`` when it is the warehouse itself
    (``warehouse_conn_id``, else the configured one), else the connection's own kind. A connection
    no family can write is a ValidationFailed naming ``field``; so is one whose family's provider is
    not installed, unless ``installed`` is False (listing connections, not using them)."""
    from airflow_provider_tagoffline import config

    if conn_id == (warehouse_conn_id or config.warehouse_conn_id()):
        where = resolve_connection(conn_id, field, connection=connection, installed=False)
        if where.family.target is None:
            raise ValidationFailed.one(field, f"the warehouse {conn_id!r} ({where.kind}) cannot be a target: "
                                              "its database family has no target support")
        where = Resolved(where.conn_id, WAREHOUSE, where.family, where.dialect, where.connection)
    else:
        conn = connection if connection is not None else get_connection(conn_id, field)
        try:
            kind = kind_for_connection(conn.conn_type, conn.extra_dejson)
        except ValueError as exc:
            raise ValidationFailed.one(field, f"connection {conn_id!r}: {exc}") from None
        family = family_of_kind(kind)
        where = Resolved(conn_id, kind, family, family.dialect_for(kind), conn)
    if installed:
        require_installed(where, field)
    return where


def resolve_run(spec: RunSpec) -> RunConnections:
    """The target and the warehouse of a run (or a preview) of ``spec``, resolved once: what its caller
    hands the engine."""
    return RunConnections(target=resolve_target(spec.target.conn_id, spec.warehouse_conn_id),
                          warehouse=resolve_warehouse(spec.warehouse_conn_id))


def dialect_of_kind(target_kind: str, warehouse_conn_id: str | None = None) -> Dialect:
    """The dialect of a declared target kind: a family kind's own, the warehouse's for ``warehouse``."""
    if target_kind == WAREHOUSE:
        return resolve_warehouse(warehouse_conn_id).dialect
    return get_dialect(target_kind)


# ---- notifications (notifications.py) ------------------------------------------------------------
#: the Airflow connection types a service's notifications go through (the SMTP provider's)
NOTIFY_CONN_TYPES = ("smtp",)


def notification_sender(conn_id: str, field: str = "notify.conn_id") -> str:
    """The sender address of notifications through ``conn_id``: the SMTP connection's ``from_email``
    extra, else Airflow's ``[email] from_email``. A ValidationFailed naming ``field`` when the
    connection is unknown, of another type, or no sender is set anywhere."""
    from airflow.configuration import conf

    conn = get_connection(conn_id, field)
    if (conn.conn_type or "").lower() not in NOTIFY_CONN_TYPES:
        raise ValidationFailed.one(field, f"connection {conn_id!r} is a {conn.conn_type!r} connection; notifications "
                                          f"go through an SMTP connection (type {', '.join(NOTIFY_CONN_TYPES)})")
    sender = (conn.extra_dejson or {}).get("from_email") or conf.get("email", "from_email", fallback=None)
    if not sender:
        raise ValidationFailed.one(field, f"connection {conn_id!r} has no sender: set from_email in its extra "
                                          "(or [email] from_email in Airflow's configuration)")
    return str(sender)
