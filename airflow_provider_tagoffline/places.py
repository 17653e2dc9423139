"""Where a target table really is: its *place* (spec §2, docs/target-grants.md "Claims").

A place is the physical database a connection points at (``Dialect.database_identity``: two
connection ids of one database are one place), the schema with an unset one resolved to the family's
default (``Dialect.default_schema``), and the table, with names compared as the family compares them
(``Dialect.name_key``: exactly where quoted names keep their case, else ignoring it).

``TargetPlace.claim_key`` is what the catalog stores and keeps unique (``TargetClaim.place_key``):
one service per place, decided by the store's UNIQUE constraint. Connections are resolved through
Airflow (``connections.py``). Below the service layer: the catalog's migrations use it too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from airflow_provider_tagoffline import connections
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
    def claim_key(self) -> str:
        """The key as stored: a fixed-length digest, so any database identity fits a unique index."""
        database, schema, table = self.key
        raw = json.dumps([list(database), schema, table], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()

    @property
    def database_label(self) -> str:
        """The database identity as people read it (``postgres/localhost/5432/crm``)."""
        return "/".join(self.database)

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


def schema_on(conn_id: str, schema: str | None) -> tuple[Dialect, str | None] | None:
    """The dialect of a connection and the schema a name lands in there; None when the connection is
    unknown or no target (introspection then says so)."""
    try:
        where = connections.resolve_target(conn_id, field="conn_id")
    except ValidationFailed:
        return None
    return where.dialect, resolve_schema(where.connection, where.dialect, schema)
