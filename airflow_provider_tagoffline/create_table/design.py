"""A table to create, as data: what generation produces and what parsing an edited statement yields."""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_tagoffline.dialects import Dialect
from airflow_provider_tagoffline.runspec import RunSpec


@dataclass(frozen=True)
class ColumnDesign:
    name: str
    #: the type as the dialect writes it; made only by trusted code (``Dialect.column_types``, ``DdlType.render``)
    type_sql: str
    not_null: bool = False
    comment: str | None = None
    #: MySQL: a column collation (letters, digits and ``_`` only, checked by the parser)
    collation: str | None = None


@dataclass(frozen=True)
class TableDesign:
    schema: str | None
    table: str
    columns: tuple[ColumnDesign, ...]
    primary_key: tuple[str, ...] = ()
    primary_key_name: str | None = None  # default: "{table}_pk" where the dialect names it
    comment: str | None = None
    partition_column: str | None = None
    #: MySQL: the table's default character set and collation
    charset: str | None = None
    collation: str | None = None

    def column(self, name: str, dialect: Dialect) -> ColumnDesign | None:
        return next((c for c in self.columns if dialect.same_identifier(c.name, name)), None)


def design_for(spec: RunSpec, dialect: Dialect) -> TableDesign:
    """The table of the service's target: entity ID first (the primary key), then every output
    column, then the date partition column; comments carry the tag names."""
    kind = dialect.kind
    t = spec.target
    cols = [ColumnDesign(t.key_column, dialect.column_type(spec.entity_key.type, key=True), True,
                         spec.entity_key.name)]
    for o in spec.outputs:
        tag = spec.tag(o.tag)
        label = tag.name + (" (code name)" if o.content == "codename" else "")
        cols.append(ColumnDesign(o.column, dialect.column_type(o.type), False, label))
    key = [t.key_column]
    if t.partition is not None:
        if not dialect.supports_partitions:
            raise ValueError(f"{kind} targets cannot be partitioned")
        cols.append(ColumnDesign(t.partition.column, dialect.column_types["partition"], True,
                                 "data date"))
        key.append(t.partition.column)
    s = spec.service
    comment = f"Tags of {spec.entity_key.entity} by {spec.entity_key.code}, exported by tag offline service {s.name}"
    return TableDesign(schema=t.schema_, table=t.table, columns=tuple(cols), primary_key=tuple(key),
                       comment=comment, partition_column=t.partition.column if t.partition else None)
