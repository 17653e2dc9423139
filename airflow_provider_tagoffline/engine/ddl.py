"""One-click create table (spec §3): the target's ``CREATE TABLE`` from the mapped tags.

Column types come from the one mapping table in ``engine/types.py``; the primary key is the entity
ID (plus the partition column for partitioned targets); comments carry the tag names. Pure: the
statements are returned, never executed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_tagoffline.dialects import get_dialect
from airflow_provider_tagoffline.engine.types import COLUMN_TYPES, FAMILY_OF_KIND, column_type
from airflow_provider_tagoffline.runspec import RunSpec


@dataclass(frozen=True)
class _Style:
    inline_comments: bool  # MySQL: COMMENT '...' on columns and the table, in the CREATE itself
    comment_on: bool  # COMMENT ON TABLE / COLUMN statements
    table_options: str = ""
    #: partition clause; {col} is the quoted partition column, {first} the literal of a first value
    partition_clause: str = ""


_STYLES = {
    "postgres": _Style(inline_comments=False, comment_on=True, partition_clause="PARTITION BY LIST ({col})"),
    "mysql": _Style(inline_comments=True, comment_on=False, table_options="ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                    partition_clause="PARTITION BY LIST COLUMNS({col}) (PARTITION p_init VALUES IN ({first}))"),
    "oracle": _Style(inline_comments=False, comment_on=True,
                     partition_clause="PARTITION BY LIST ({col}) AUTOMATIC (PARTITION p_init VALUES ({first}))"),
    "sqlite": _Style(inline_comments=False, comment_on=False),
    "duckdb": _Style(inline_comments=False, comment_on=True),
}
#: the value of the placeholder first partition MySQL and Oracle require (never a real data date)
FIRST_PARTITION_VALUE = "19700101"


def create_table_sql(spec: RunSpec, dialect_kind: str) -> list[str]:
    """``CREATE TABLE`` (and comment statements) for the service's target on ``dialect_kind``."""
    d = get_dialect(dialect_kind)
    family = FAMILY_OF_KIND[dialect_kind]
    style = _STYLES[family]
    t = spec.target
    table = d.qualify(t.schema_, t.table)

    def comment(text: str) -> str:
        return f" COMMENT {d.quote_literal(text)}" if style.inline_comments else ""

    cols: list[tuple[str, str, str]] = [
        (t.key_column, column_type(spec.entity_key.type, dialect_kind, key=True) + " NOT NULL",
         spec.entity_key.name)]
    for o in spec.outputs:
        tag = spec.tag(o.tag)
        label = tag.name + (" (code name)" if o.content == "codename" else "")
        cols.append((o.column, column_type(o.type, dialect_kind), label))
    key = [t.key_column]
    if t.partition is not None:
        cols.append((t.partition.column, COLUMN_TYPES[family]["partition"] + " NOT NULL", "data date"))
        key.append(t.partition.column)

    pk_name = d.quote(f"{t.table}_pk")
    lines = [f"  {d.quote(c)} {typ}{comment(label)}" for c, typ, label in cols]
    pk = f"PRIMARY KEY ({', '.join(d.quote(k) for k in key)})"
    lines.append(f"  CONSTRAINT {pk_name} {pk}" if family in ("postgres", "oracle") else f"  {pk}")
    sql = f"CREATE TABLE {table} (\n" + ",\n".join(lines) + "\n)"
    if style.table_options:
        sql += " " + style.table_options
    if style.inline_comments:
        sql += comment(_table_comment(spec))
    if t.partition is not None and not d.supports_partitions:
        raise ValueError(f"{dialect_kind} targets cannot be partitioned")
    if t.partition is not None and style.partition_clause:  # DuckDB: a plain date column in the key
        sql += "\n" + style.partition_clause.format(col=d.quote(t.partition.column),
                                                    first=d.quote_literal(FIRST_PARTITION_VALUE))
    out = [sql]
    if style.comment_on:
        out.append(f"COMMENT ON TABLE {table} IS {d.quote_literal(_table_comment(spec))}")
        out += [f"COMMENT ON COLUMN {table}.{d.quote(c)} IS {d.quote_literal(label)}" for c, _, label in cols]
    return out


def _table_comment(spec: RunSpec) -> str:
    s = spec.service
    return f"Tags of {spec.entity_key.entity} by {spec.entity_key.code}, exported by tag offline service {s.name}"
