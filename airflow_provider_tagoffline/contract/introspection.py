"""Schemas, tables and columns of a connection: the interface each family's ``introspect.py``
implements, and the SQLAlchemy inspector most of them build on.

Only catalog reads happen here; who may look inside which connection is ``service/permissions.py``'s
question, asked by the REST API before it gets here (``api/introspection.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from airflow_provider_tagoffline.errors import NotFound

if TYPE_CHECKING:
    from airflow_provider_tagoffline.contract.family import Family


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool | None = None
    primary_key: bool | None = None


class Introspection:
    """What is inside one Airflow connection ``conn`` of ``family``, as ``kind``."""

    def __init__(self, conn: Any, family: Family, kind: str):
        self.conn, self.family, self.kind = conn, family, kind

    def schemas(self) -> list[str]:
        """The schemas a target may be in (the database's own system schemas left out)."""
        raise NotImplementedError

    def tables(self, schema: str | None) -> list[str]:
        """Tables of ``schema`` (None: the connection's default one); NotFound for a missing schema."""
        raise NotImplementedError

    def columns(self, schema: str | None, table: str) -> list[Column]:
        """Columns of a table, in order; NotFound for a missing table."""
        raise NotImplementedError

    def has_table(self, schema: str | None, table: str) -> bool:
        try:
            self.columns(schema, table)
            return True
        except NotFound:
            return False


class SqlAlchemyIntrospection(Introspection):
    """Introspection through ``sqlalchemy.inspect`` on an engine the family makes (``create_engine``)."""

    #: the database's own schemas, never a target (compared lower-cased)
    system_schemas: ClassVar[frozenset[str]] = frozenset()
    #: prefixes of the database's own schema names
    system_prefixes: ClassVar[tuple[str, ...]] = ()

    def create_engine(self) -> sa.Engine:
        raise NotImplementedError

    def is_system_schema(self, name: str) -> bool:
        return name.lower() in self.system_schemas or name.lower().startswith(self.system_prefixes)

    @contextmanager
    def _engine(self) -> Iterator[sa.Engine]:
        engine = self.create_engine()
        try:
            yield engine
        finally:
            engine.dispose()

    def schemas(self) -> list[str]:
        with self._engine() as engine:
            names = sa.inspect(engine).get_schema_names()
        return sorted(n for n in names if not self.is_system_schema(n))

    def tables(self, schema: str | None) -> list[str]:
        with self._engine() as engine:
            insp = sa.inspect(engine)
            if schema is not None and schema not in insp.get_schema_names():
                raise NotFound("schema", schema)
            return sorted(insp.get_table_names(schema=schema))

    def columns(self, schema: str | None, table: str) -> list[Column]:
        with self._engine() as engine:
            insp = sa.inspect(engine)
            if not insp.has_table(table, schema=schema):
                raise NotFound("table", ".".join(p for p in (schema, table) if p))
            pk = set(insp.get_pk_constraint(table, schema=schema).get("constrained_columns") or [])
            return [Column(name=c["name"], type=str(c["type"]), nullable=c.get("nullable"),
                           primary_key=c["name"] in pk)
                    for c in insp.get_columns(table, schema=schema)]


def engine_over(creator: Callable[[], Any], driver_urls: Mapping[str, str],
                fallback: Callable[[], sa.Engine]) -> sa.Engine:
    """An engine whose connections are ``creator()``'s — the family's own way of opening the
    connection, so every option it honours (SSL, flavours, service names) applies — on the
    SQLAlchemy dialect of the driver module it returns (``driver_urls``: module → ``dialect+driver://``);
    ``fallback()`` for a driver not listed."""
    probe = creator()
    try:
        driver = type(probe).__module__.split(".")[0]
    finally:
        probe.close()
    url = driver_urls.get(driver)
    if url is None:
        return fallback()
    return sa.create_engine(url, creator=creator, poolclass=NullPool)
