"""Where a service's target table really is, and which service owns it (spec §2: "a target table
belongs to the one service that claims it").

A target's place is the physical database its connection points at (``Dialect.database_identity``:
two connection ids of one database are one place), the schema with an unset one resolved to the
family's default (``Dialect.default_schema``), and the table, with names compared as the family
compares them (``Dialect.name_key``: exactly where quoted names keep their case, else ignoring it).

Claims are not stored: the oldest service (lowest id) targeting a place owns it, so catalogs from
before claims keep one owner per table and every younger sharer is refused at its next save or
publish. Connections are resolved through Airflow when the rule is checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from airflow_provider_tagoffline import connections
from airflow_provider_tagoffline.catalog.models import Service
from airflow_provider_tagoffline.dialects import Dialect
from airflow_provider_tagoffline.errors import ValidationFailed


@dataclass(frozen=True)
class TargetPlace:
    conn_id: str
    database: tuple[str, ...]
    schema: str | None  # resolved: the default schema when the service leaves it unset
    table: str
    dialect: Dialect = field(compare=False, repr=False)

    @property
    def key(self) -> tuple[tuple[str, ...], str | None, str]:
        d = self.dialect
        return (self.database, d.name_key(self.schema) if self.schema is not None else None,
                d.name_key(self.table))

    @property
    def full_name(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table


def resolve_schema(conn: object, dialect: Dialect, schema: str | None) -> str | None:
    """``schema``, or where an unqualified name lands on ``conn``; None for kinds without schemas."""
    if not dialect.has_schemas:
        return None
    return schema or dialect.default_schema(getattr(conn, "login", None))


def place_of(conn_id: str, schema: str | None, table: str) -> TargetPlace | None:
    """The place of a target, or None when Airflow does not know the connection (any more) or it is
    no target."""
    try:
        where = connections.resolve_target(conn_id)
    except ValidationFailed:
        return None
    conn, dialect = where.connection, where.dialect
    return TargetPlace(conn_id, dialect.database_identity(conn), resolve_schema(conn, dialect, schema), table, dialect)


def owner_of(session: Session, place: TargetPlace, service_id: int | None) -> tuple[Service, TargetPlace] | None:
    """The service that owns ``place`` when it is not the one with ``service_id`` (None: a new
    service), with that service's own view of the place; None when the place is free or its own."""
    # Names compared case-insensitively by some families: narrow in SQL, decide per family below.
    q = select(Service).where(func.lower(Service.target_table) == place.table.lower()).order_by(Service.id)
    if service_id is not None:
        q = q.where(Service.id < service_id)  # an older sharer owns the table; a younger one does not
    places: dict[tuple[str, str | None, str], TargetPlace | None] = {}
    for svc in session.scalars(q):
        key = (svc.target_conn_id, svc.target_schema, svc.target_table)
        if key not in places:
            places[key] = place_of(*key)
        other = places[key]
        if other is not None and other.key == place.key:
            return svc, other
    return None
