"""What a database family is: the declaration each package under ``dialects/`` makes as ``FAMILY``.

A family is the databases one body of code serves: PostgreSQL with its flavours Greenplum,
AnalyticDB for PostgreSQL and openGauss is one family, MySQL with MariaDB another. Its package
holds everything the family means, one module a concern:

* ``dialect.py``: the pure SQL facts (``contract/dialect.py``): quoting, identifier limits, column
  types, DDL style, how names compare; returns strings, never touches a connection;
* ``connect.py``: how to open it from an Airflow connection (flavours included);
* ``target.py``: how to load and swap it as a target (``engine/targets/base.py``);
* ``warehouse.py``: how to read it as a warehouse, where it has a faster path than ``fetchmany``
  (``engine/warehouse.py``); a family without one is read the generic way;
* ``introspect.py``: its schemas, tables and columns (``contract/introspection.py``).

The runtime parts are named ``"module:attribute"`` inside the package and imported when first used,
the way Airflow's provider.yaml names hook classes: reading the registry imports no driver and no
engine code, and an engine module may import the registry without a cycle. A family whose parts need
an Airflow provider the base install lacks names the extra of this distribution that installs it
(``extra``) and the modules that must import (``needs``): ``not_installed()`` says, in one line, what
to install when they do not.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from airflow_provider_tagoffline import DISTRIBUTION
from airflow_provider_tagoffline.contract.dialect import Dialect
from airflow_provider_tagoffline.errors import first_line

if TYPE_CHECKING:
    from airflow_provider_tagoffline.contract.introspection import Introspection
    from airflow_provider_tagoffline.engine.targets.base import Target
    from airflow_provider_tagoffline.engine.warehouse import Reader
    from airflow_provider_tagoffline.runspec import TargetSpec


@dataclass(frozen=True)
class Family:
    #: the family's name, which is also its first target kind
    name: str
    #: the target kinds it serves: its own name, then the flavours a connection declares in ``extra.flavor``
    kinds: tuple[str, ...]
    #: the Airflow connection types it claims (``postgres``, ``postgresql``)
    conn_types: tuple[str, ...]
    dialect: type[Dialect]
    #: the family's package (``__name__`` of its ``__init__``): where the parts below are
    package: str
    #: ``"module:function"``: ``(conn_id, connection, kind, read_only) -> DB-API connection`` in autocommit
    connect: str = "connect:open_connection"
    #: ``"module:Class"`` of its ``Target``; None: it cannot be a target
    target: str | None = None
    #: ``"module:Class"`` of its warehouse ``Reader``; None: read through the generic family's
    warehouse: str | None = None
    #: ``"module:Class"`` of its ``Introspection``; None: not listed or looked inside
    introspect: str | None = None
    #: ``"module:function"``: ``(connection) -> bool``, whether ``connect`` opens that connection without the
    #: Airflow provider (then ``needs`` do not apply to it); None: never
    without_provider: str | None = None
    #: other spellings of a flavour (``{"mariadb": "mysql"}``)
    flavor_aliases: Mapping[str, str] = field(default_factory=dict)
    #: the extra of this distribution installing the Airflow provider its parts use (``setup.cfg``);
    #: None: the base install has everything the family needs
    extra: str | None = None
    #: modules its parts cannot work without (the provider's hook): not importable = extra not installed
    needs: tuple[str, ...] = ()

    # ---- which connections are its, and as which kind ------------------------------------------
    def claims(self, conn_type: str | None) -> bool:
        """Whether an Airflow connection of ``conn_type`` belongs to this family."""
        return (conn_type or "").lower() in self.conn_types

    @property
    def flavors(self) -> tuple[str, ...]:
        """Every value ``extra.flavor`` may take on this family's connections."""
        return self.kinds + tuple(self.flavor_aliases)

    def kind_of(self, conn_type: str | None, extra: Mapping[str, Any] | None) -> str:
        """The target kind of one of its connections: the family, refined by ``extra.flavor``."""
        flavor = str((extra or {}).get("flavor") or "").lower()
        if not flavor:
            return self.name
        if flavor not in self.flavors:
            raise ValueError(f"extra.flavor {flavor!r} does not fit a {(conn_type or '').lower()} connection; "
                             f"expected one of {', '.join(self.flavors)}")
        return self.flavor_aliases.get(flavor, flavor)

    def dialect_for(self, kind: str) -> Dialect:
        return self.dialect(kind, family=self.name)

    def not_installed(self) -> str | None:
        """None when what the family needs imports here; else one line naming the extra to install."""
        problem = _import_problem(self.needs)
        if problem is None:
            return None
        install = f"pip install '{DISTRIBUTION}[{self.extra}]'" if self.extra else f"reinstall {DISTRIBUTION}"
        return f"its Airflow provider does not import here ({problem}); install it with {install}"

    def opens_without_provider(self, connection: Any) -> bool:
        """Whether ``open`` needs nothing of the family's Airflow provider for ``connection``."""
        return self.without_provider is not None and bool(self._load(self.without_provider)(connection))

    # ---- the runtime parts, imported when first used --------------------------------------------
    def open(self, conn_id: str, conn: Any, kind: str, *, read_only: bool = False) -> Any:
        """A DB-API connection to ``conn`` (the Airflow connection ``conn_id``), in autocommit mode;
        ``read_only`` where the family can promise it (a warehouse is only read)."""
        return self._load(self.connect)(conn_id, conn, kind, read_only)

    def make_target(self, spec: TargetSpec, conn: Any, kind: str) -> Target:
        if self.target is None:
            raise ValueError(f"{self.name} databases cannot be targets")
        target_class: type[Target] = self._load(self.target)
        return target_class(spec, conn, self.dialect_for(kind))

    def reader_class(self) -> type[Reader] | None:
        return self._load(self.warehouse) if self.warehouse else None

    def introspection(self, conn: Any, kind: str) -> Introspection:
        if self.introspect is None:
            raise ValueError(f"{self.name} connections cannot be looked inside")
        introspection_class: type[Introspection] = self._load(self.introspect)
        return introspection_class(conn, self, kind)


    def _load(self, ref: str) -> Any:
        return _load(f"{self.package}.{ref}")


@cache
def _import_problem(modules: tuple[str, ...]) -> str | None:
    """The first line of why one of ``modules`` does not import; None when all do."""
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # not installed (ImportError), or installed but broken
            return first_line(exc)
    return None


@cache
def _load(ref: str) -> Any:
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module), attribute)
