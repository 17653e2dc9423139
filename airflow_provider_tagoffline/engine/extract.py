"""Extract: the one warehouse query of a run, built as pure SQL from the run spec.

Shape (``s0..sN`` are the tag source tables of the entity, each filtered on its own partition D)::

    WITH k AS (SELECT key FROM s0 WHERE p0 = D UNION SELECT key FROM s1 WHERE p1 = D ...)
    SELECT k.key, <value or code-name expression per output>
    FROM k LEFT JOIN s0 ON ... AND p0 = D LEFT JOIN s1 ON ... LEFT JOIN <lookup tables> ...

so an entity ID present in only one source keeps its row (NULL for the other tags). With a single
source the key set is the source itself. A source holding an entity ID twice for D is reduced to
one row per ID (the physically last row where the engine exposes row order) and the run reports
how many rows were replaced (``source_check_sql``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from airflow_provider_tagoffline.dialects import Dialect
from airflow_provider_tagoffline.runspec import LookupSpec, OutputSpec, RunSpec, SourceSpec

KEY_ALIAS = "tagoffline_key"
_FORMATS = {"yyyyMMdd": "%Y%m%d", "yyyy-MM-dd": "%Y-%m-%d", "yyyy/MM/dd": "%Y/%m/%d", "yyyy.MM.dd": "%Y.%m.%d"}


def format_date(d: dt.date, fmt: str) -> str:
    """Data date ``d`` as a partition value in ``fmt`` (one of the spec's four formats)."""
    try:
        return d.strftime(_FORMATS[fmt])
    except KeyError:
        raise ValueError(f"unknown date format {fmt!r}; expected one of {', '.join(_FORMATS)}") from None


@dataclass
class Query:
    sql: str
    params: list[object] = field(default_factory=list)
    #: names of the result columns: the entity ID, then one per output in RunSpec.outputs order
    columns: list[str] = field(default_factory=list)
    #: whether the query only scans and filters (one source, no dedupe, no lookup-table join):
    #: it needs no working memory however many rows it returns
    scan_only: bool = False


@dataclass
class _Sql:
    """SQL text with its positional parameters, concatenated in order."""

    text: str = ""
    params: list[object] = field(default_factory=list)

    def add(self, text: str, *params: object) -> _Sql:
        self.text += text
        self.params.extend(params)
        return self


def _source_filter(w: Dialect, src: SourceSpec, alias: str, data_date: dt.date) -> _Sql:
    out = _Sql().add(f"{alias}.{w.quote(src.key)} IS NOT NULL")
    if src.partition is not None:
        out.add(f" AND {alias}.{w.quote(src.partition.column)} = {w.placeholder}",
                format_date(data_date, src.partition.format))
    return out


def _source_relation(w: Dialect, src: SourceSpec, alias: str, data_date: dt.date, dedupe: bool) -> _Sql:
    """``FROM`` item for one source: the table, or when it holds duplicates, one row per ID."""
    table = w.escape_for_params(w.qualify_dotted(src.table))
    if not dedupe:
        return _Sql().add(f"{table} {alias}")
    order = w.dedupe_order(f"d.{w.quote(src.key)}")
    # Keep the last row of each ID: PARTITION BY key, newest physical row first.
    where = _source_filter(w, src, "d", data_date)
    inner = _Sql().add(
        f"(SELECT * FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d.{w.quote(src.key)}{order}) "
        f"AS tagoffline_rn FROM {table} d WHERE "
    )
    inner.add(where.text, *where.params)
    return inner.add(f") r WHERE tagoffline_rn = 1) {alias}")


def _lookup_expr(w: Dialect, value: str, lookup: LookupSpec, lookup_alias: str) -> _Sql:
    if lookup.kind == "inline":
        values = lookup.values or {}
        if not values:
            return _Sql().add("CAST(NULL AS " + w.text_type + ")")
        out = _Sql().add(f"CASE {w.cast_text(value)}")
        for code, name in values.items():
            out.add(f" WHEN {w.placeholder} THEN {w.placeholder}", code, name)
        return out.add(" END")
    return _Sql().add(f"{lookup_alias}.tagoffline_name")


def build_extract_query(spec: RunSpec, w: Dialect, data_date: dt.date,
                        dedupe_sources: frozenset[int] = frozenset(), *, booleans_as_int: bool = False) -> Query:
    """The extract query for data date D against warehouse dialect ``w``.

    ``dedupe_sources``: indexes of sources known to hold duplicate IDs for D. For a partitioned
    target the last column is the target partition's value of D.
    """
    sources = spec.sources
    aliases = [f"s{i}" for i in range(len(sources))]
    single = len(sources) == 1

    # Table lookups used by code-name outputs: one LEFT JOIN each, reduced to one name per code.
    table_lookups: dict[tuple[str, int], str] = {}  # (lookup code, source index) -> alias
    for out in spec.outputs:
        tag = spec.tag(out.tag)
        if out.content == "codename" and tag.lookup and spec.lookups[tag.lookup].kind == "table":
            table_lookups.setdefault((tag.lookup, tag.source), f"l{len(table_lookups)}")

    def key_of(i: int) -> str:
        return f"{aliases[i]}.{w.quote(sources[i].key)}"

    key_expr = key_of(0) if single else f"k.{KEY_ALIAS}"
    q = _Sql()
    if not single:
        selects: list[str] = []
        key_params: list[object] = []
        for i, src in enumerate(sources):
            flt = _source_filter(w, src, aliases[i], data_date)
            selects.append(f"SELECT {key_of(i)} AS {KEY_ALIAS} FROM "
                           f"{w.escape_for_params(w.qualify_dotted(src.table))} {aliases[i]} WHERE {flt.text}")
            key_params.extend(flt.params)
        q.add(f"WITH k AS ({w.distinct_union(selects, KEY_ALIAS)}) ", *key_params)

    q.add(f"SELECT {key_expr} AS {KEY_ALIAS}")
    for out in spec.outputs:
        q.add(", ")
        expr = _output_expr(spec, w, out, aliases, table_lookups)
        if booleans_as_int and out.content == "value" and out.type == "boolean":
            expr = _Sql(f"CAST({expr.text} AS INTEGER)", expr.params)
        q.add(expr.text, *expr.params)
    part = spec.target.partition
    if part is not None:
        q.add(f", {w.cast_text(w.placeholder)} AS {w.quote(part.column)}", format_date(data_date, part.format))

    if single:
        q.add(" FROM ")
        rel = _source_relation(w, sources[0], aliases[0], data_date, 0 in dedupe_sources)
        q.add(rel.text, *rel.params)
    else:
        q.add(" FROM k")
        for i, src in enumerate(sources):
            rel = _source_relation(w, src, aliases[i], data_date, i in dedupe_sources)
            q.add(" LEFT JOIN ").add(rel.text, *rel.params)
            q.add(f" ON {key_of(i)} = k.{KEY_ALIAS}")
            if src.partition is not None and i not in dedupe_sources:
                q.add(f" AND {aliases[i]}.{w.quote(src.partition.column)} = {w.placeholder}",
                      format_date(data_date, src.partition.format))

    for (code, src_index), alias in table_lookups.items():
        lk = spec.lookups[code]
        assert lk.table and lk.code_column and lk.name_column
        tag_col = next(t.column for t in spec.tags if t.lookup == code and t.source == src_index)
        q.add(
            f" LEFT JOIN (SELECT {w.cast_text(w.quote(lk.code_column))} AS tagoffline_code, "
            f"MAX({w.quote(lk.name_column)}) AS tagoffline_name "
            f"FROM {w.escape_for_params(w.qualify_dotted(lk.table))} GROUP BY {w.quote(lk.code_column)}) {alias} "
            f"ON {alias}.tagoffline_code = {w.cast_text(aliases[src_index] + '.' + w.quote(tag_col))}"
        )

    if single:
        flt = _source_filter(w, sources[0], aliases[0], data_date)
        if 0 in dedupe_sources:  # the filter already applied inside the dedupe subquery
            flt = _Sql().add(f"{aliases[0]}.{w.quote(sources[0].key)} IS NOT NULL")
        q.add(" WHERE ").add(flt.text, *flt.params)
    columns = [spec.entity_key.code] + [o.column for o in spec.outputs] + ([part.column] if part else [])
    return Query(sql=q.text, params=q.params, columns=columns,
                 scan_only=single and not dedupe_sources and not table_lookups)


def _output_expr(spec: RunSpec, w: Dialect, out: OutputSpec, aliases: list[str],
                 table_lookups: dict[tuple[str, int], str]) -> _Sql:
    tag = spec.tag(out.tag)
    value = f"{aliases[tag.source]}.{w.quote(tag.column)}"
    if out.content == "value":
        return _Sql().add(value)
    assert tag.lookup is not None
    return _lookup_expr(w, value, spec.lookups[tag.lookup], table_lookups.get((tag.lookup, tag.source), ""))


def source_check_sql(w: Dialect, src: SourceSpec, data_date: dt.date) -> Query:
    """Rows of one source for D, and how many of them repeat an entity ID (the duplicates)."""
    flt = _source_filter(w, src, "s", data_date)
    relation = f"{w.escape_for_params(w.qualify_dotted(src.table))} s"
    return Query(sql=w.rows_and_duplicates_sql(relation, f"s.{w.quote(src.key)}", flt.text), params=flt.params)
