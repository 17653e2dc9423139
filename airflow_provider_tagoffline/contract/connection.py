"""A connection resolved to its database family: which connection a service writes or reads, as which
kind, with which dialect (``Resolved``), and the pair a run uses (``RunConnections``). Built by the one
resolver (``connections.py``, which reads Airflow's connections and asks the registry); the engine only
opens them and asks their family for a target or a reader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_tagoffline.contract.dialect import Dialect
from airflow_provider_tagoffline.contract.family import Family
from airflow_provider_tagoffline.errors import RunFailed, first_line

if TYPE_CHECKING:
    from airflow_provider_tagoffline.engine.targets.base import Target
    from airflow_provider_tagoffline.engine.warehouse import Reader
    from airflow_provider_tagoffline.runspec import TargetSpec

#: the target kind of a service writing into the warehouse itself (the data never leaves it)
WAREHOUSE = "warehouse"


@dataclass(frozen=True)
class Resolved:
    """Which connection a service writes or reads, and the family and dialect it has there."""

    #: the connection to open: the warehouse's for a ``warehouse`` target
    conn_id: str
    #: as declared by a service: ``warehouse``, or the connection's own kind (``greenplum``, ``mysql``, ...)
    kind: str
    family: Family
    #: of the connection's own kind (a ``warehouse`` target has the warehouse's)
    dialect: Dialect
    #: the Airflow ``Connection``
    connection: Any
    #: the family whose ``Reader`` reads it as a warehouse when its own family has none (the generic one)
    read_by: Family | None = None

    @property
    def in_warehouse(self) -> bool:
        """Whether the target is the warehouse itself: one connection reads and writes."""
        return self.kind == WAREHOUSE

    def open(self, *, read_only: bool = False) -> Any:
        """A DB-API connection in autocommit mode, opened the family's one way (flavours included)."""
        try:
            return self.family.open(self.conn_id, self.connection, self.dialect.kind, read_only=read_only)
        except RunFailed:
            raise
        except Exception as exc:
            first = first_line(exc)
            raise RunFailed(f"cannot connect to {self.conn_id!r} ({self.dialect.kind}): {first}") from None

    def target(self, spec: TargetSpec, conn: Any) -> Target:
        """The family's target object for ``spec`` on the open connection ``conn``."""
        return self.family.make_target(spec, conn, self.dialect.kind)

    def reader_class(self) -> type[Reader] | None:
        """The ``Reader`` class reading it as a warehouse: its family's, else ``read_by``'s; None: the plain one."""
        return self.family.reader_class() or (self.read_by.reader_class() if self.read_by else None)


@dataclass(frozen=True)
class RunConnections:
    """The two connections of one run or preview, resolved once by its caller (``connections.resolve_run``)
    and handed to the engine, which never resolves one itself."""

    #: where the run writes (for a ``warehouse`` target: the warehouse's connection, as kind ``warehouse``)
    target: Resolved
    #: where the run reads
    warehouse: Resolved
