"""A ``TableDesign`` as the statements of a dialect: every name quoted, every text a quoted literal.

Pure: statements are returned, never executed here. Generated and edited tables both come out of
``render``, so an edit can change names, types, keys and comments but not what kind of SQL runs.
"""

from __future__ import annotations

from airflow_provider_tagoffline.create_table.design import TableDesign
from airflow_provider_tagoffline.dialects import Dialect

#: the value of the placeholder first partition MySQL and Oracle require (never a real data date)
FIRST_PARTITION_VALUE = "19700101"


def render(design: TableDesign, dialect: Dialect) -> list[str]:
    """``CREATE TABLE`` (and, where the dialect comments that way, ``COMMENT ON`` statements)."""
    d = dialect
    table = d.qualify(design.schema, design.table)

    def inline_comment(text: str | None) -> str:
        return f" COMMENT {d.quote_literal(text)}" if d.ddl_inline_comments and text else ""

    lines = []
    for c in design.columns:
        collate = f" COLLATE {c.collation}" if c.collation else ""
        lines.append(f"  {d.quote(c.name)} {c.type_sql}{collate}{' NOT NULL' if c.not_null else ''}"
                     f"{inline_comment(c.comment)}")
    if design.primary_key:
        pk = f"PRIMARY KEY ({', '.join(d.quote(k) for k in design.primary_key)})"
        if d.ddl_named_primary_key:
            pk = f"CONSTRAINT {d.quote(design.primary_key_name or design.table + '_pk')} {pk}"
        lines.append(f"  {pk}")
    sql = f"CREATE TABLE {table} (\n" + ",\n".join(lines) + "\n)"
    if d.ddl_engine:
        sql += f" ENGINE={d.ddl_engine} DEFAULT CHARSET={design.charset or 'utf8mb4'}"
        if design.collation:
            sql += f" COLLATE={design.collation}"
    sql += inline_comment(design.comment)
    if design.partition_column is not None:
        if not d.supports_partitions:
            raise ValueError(f"{d.kind} targets cannot be partitioned")
        if d.ddl_partition_clause:  # DuckDB: a plain date column in the key
            sql += "\n" + d.ddl_partition_clause.format(col=d.quote(design.partition_column),
                                                        first=d.quote_literal(FIRST_PARTITION_VALUE))
    out = [sql]
    if d.ddl_comment_on:
        if design.comment:
            out.append(f"COMMENT ON TABLE {table} IS {d.quote_literal(design.comment)}")
        out += [f"COMMENT ON COLUMN {table}.{d.quote(c.name)} IS {d.quote_literal(c.comment)}"
                for c in design.columns if c.comment]
    return out
