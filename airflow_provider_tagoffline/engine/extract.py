"""Extract: the one warehouse query of a run, built as pure SQL from the run spec.

``s0..sN`` are the tag source tables of the entity, each filtered on its own partition D. One
source is scanned as it is. Several are joined on the entity key so that an ID present in any of
them keeps its row (NULL for the tags of the others), in the plan the warehouse's engine runs best
(``Dialect.full_outer_join``, declared by each family's dialect):

* ``full_join`` (PostgreSQL family, DuckDB, Oracle, Spark/Hive/Trino and other ANSI engines)::

      SELECT COALESCE(s0.key, s1.key, ...) AS key, <outputs>
      FROM (s0 filtered on D) s0 FULL JOIN (s1 filtered on D) s1 ON s1.key = s0.key
           FULL JOIN (s2 filtered on D) s2 ON s2.key = COALESCE(s0.key, s1.key) ...
           LEFT JOIN <lookup tables> ...

  one hash join per source and nothing else: no key set to aggregate first;
* ``anti_join`` (MySQL/MariaDB: no FULL JOIN; SQLite before 3.39): one branch per source ``i``,
  ``UNION ALL``-ed, holding the IDs of ``si`` that no earlier source has for D::

      SELECT si.key, <outputs; NULL for s0..s(i-1)> FROM si LEFT JOIN s(i+1) ... LEFT JOIN sN ...
      WHERE <si on D> AND NOT EXISTS (SELECT 1 FROM s0 WHERE s0.key = si.key AND <s0 on D>) ...

  each ID comes from the first source holding it, and every join is an index lookup or a hash
  join on a base table; no distinct key set is materialized either.

A run may read the entity IDs in several passes (``Slice``): pass ``i`` of ``k`` keeps, in every
source's filter, the IDs whose hash modulo ``k`` is ``i`` (``Dialect.slice_of``). Equal IDs hash
alike, so each pass joins whole IDs and the passes together give every row once; the embedded
DuckDB warehouse uses them to bound a join's memory however many IDs there are
(``dialects/duckdb/warehouse.py``).

A source holding an entity ID twice for D is reduced to one row per ID (the physically last row
where the engine exposes row order) and the run reports how many rows were replaced
(``source_check_sql``). A table lookup joins on the columns' own types when the warehouse says
both have the same type (``native_lookups``), on their text otherwise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from airflow_provider_tagoffline.contract.dialect import Dialect
from airflow_provider_tagoffline.runspec import OutputSpec, RunSpec, SourceSpec

KEY_ALIAS = "tagoffline_key"
_FORMATS = {"yyyyMMdd": "%Y%m%d", "yyyy-MM-dd": "%Y-%m-%d", "yyyy/MM/dd": "%Y/%m/%d", "yyyy.MM.dd": "%Y.%m.%d"}

Plan = Literal["full_join", "anti_join"]


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
    #: hash joins and aggregates it runs (joined sources, dedupes, lookup tables): each holds some
    #: memory of its own per thread
    operators: int = 0


@dataclass(frozen=True)
class Slice:
    """Pass ``index`` of ``count`` over the entity IDs: those whose hash modulo ``count`` is ``index``."""

    count: int
    index: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"slice {self.index} of {self.count} does not exist")


@dataclass(frozen=True)
class LookupJoin:
    """One lookup-table join: the code names of ``column`` of source ``source`` in lookup ``lookup``."""

    lookup: str
    source: int
    column: str


@dataclass
class _Sql:
    """SQL text with its positional parameters, concatenated in order."""

    text: str = ""
    params: list[object] = field(default_factory=list)

    def add(self, text: str, *params: object) -> _Sql:
        self.text += text
        self.params.extend(params)
        return self

    def extend(self, other: _Sql) -> _Sql:
        return self.add(other.text, *other.params)


def plan_for(w: Dialect) -> Plan:
    """The plan joining several sources on warehouse ``w`` (one source is a scan in either)."""
    return "full_join" if w.full_outer_join else "anti_join"


def lookup_joins(spec: RunSpec) -> list[LookupJoin]:
    """The lookup-table joins the outputs need, one per (lookup, source, column), in output order."""
    joins: list[LookupJoin] = []
    for out in spec.outputs:
        tag = spec.tag(out.tag)
        if out.content == "codename" and tag.lookup and spec.lookups[tag.lookup].kind == "table":
            join = LookupJoin(tag.lookup, tag.source, tag.column)
            if join not in joins:
                joins.append(join)
    return joins


def _table(w: Dialect, name: str) -> str:
    return w.escape_for_params(w.qualify_dotted(name))


def _source_filter(w: Dialect, src: SourceSpec, alias: str, data_date: dt.date, part: Slice | None = None) -> _Sql:
    key = f"{alias}.{w.quote(src.key)}"
    out = _Sql().add(f"{key} IS NOT NULL")
    if part is not None:
        out.add(f" AND {w.slice_of(key, part.count)} = {w.placeholder}", part.index)
    if src.partition is not None:
        out.add(f" AND {alias}.{w.quote(src.partition.column)} = {w.placeholder}",
                format_date(data_date, src.partition.format))
    return out


def source_relation(w: Dialect, src: SourceSpec, alias: str, data_date: dt.date, *, dedupe: bool,
                    filtered: bool, part: Slice | None = None) -> _Sql:
    """``FROM`` item for one source: the table; ``filtered``: only its rows for D (and of ``part``);
    ``dedupe``: one row per ID of D (filtered whatever ``filtered`` says)."""
    table = _table(w, src.table)
    if dedupe:
        flt = _source_filter(w, src, "d", data_date, part)
        return _Sql().add(f"({w.last_row_per_key_sql(table, f'd.{w.quote(src.key)}', flt.text)}) {alias}",
                          *flt.params)
    if filtered:
        # Filtered before the join: a FULL JOIN keeps unmatched rows of both sides, so a filter in
        # its ON clause would not drop the other days' rows.
        return (_Sql().add(f"(SELECT * FROM {table} {alias} WHERE ")
                .extend(_source_filter(w, src, alias, data_date, part)).add(f") {alias}"))
    return _Sql().add(f"{table} {alias}")


def build_extract_query(spec: RunSpec, w: Dialect, data_date: dt.date,
                        dedupe_sources: frozenset[int] = frozenset(), *, booleans_as_int: bool = False,
                        native_lookups: frozenset[LookupJoin] = frozenset(), plan: Plan | None = None,
                        part: Slice | None = None) -> Query:
    """The extract query for data date D against warehouse dialect ``w``.

    ``dedupe_sources``: indexes of sources known to hold duplicate IDs for D. ``native_lookups``:
    the lookup joins whose code column has the tag column's type on the warehouse. ``plan``: the
    dialect's (``plan_for``) unless a test asks for another. ``part``: only the IDs of this pass
    (``Slice``). For a partitioned target the last column is the target partition's value of D.
    """
    if part is not None and w.slice_of("k", part.count) is None:
        raise ValueError(f"the {w.family} dialect cannot split the entity IDs into passes")
    n = len(spec.sources)
    plan = plan or plan_for(w)
    joins = lookup_joins(spec)
    if n == 1:
        q = _single(spec, w, data_date, 0 in dedupe_sources, joins, native_lookups, booleans_as_int, part)
    elif plan == "full_join":
        q = _full_join(spec, w, data_date, dedupe_sources, joins, native_lookups, booleans_as_int, part)
    else:
        q = _Sql()
        for i in range(n):
            if i:
                q.add(" UNION ALL ")
            q.extend(_anti_join_branch(spec, w, data_date, i, dedupe_sources, joins, native_lookups,
                                       booleans_as_int, part))
    target_part = spec.target.partition
    columns = [spec.entity_key.code] + [o.column for o in spec.outputs] + ([target_part.column] if target_part else [])
    return Query(sql=q.text, params=q.params, columns=columns,
                 scan_only=n == 1 and not dedupe_sources and not joins,
                 operators=hash_operators(spec, dedupe_sources))


def build_extract_passes(spec: RunSpec, w: Dialect, data_date: dt.date, dedupe_sources: frozenset[int],
                         passes: int, *, booleans_as_int: bool = False,
                         native_lookups: frozenset[LookupJoin] = frozenset()) -> list[Query]:
    """The extract as ``passes`` queries (``Slice`` i of ``passes`` each), or its one query."""
    return [build_extract_query(spec, w, data_date, dedupe_sources, booleans_as_int=booleans_as_int,
                                native_lookups=native_lookups, part=Slice(passes, i) if passes > 1 else None)
            for i in range(passes)]


def hash_operators(spec: RunSpec, dedupe_sources: frozenset[int]) -> int:
    """Hash joins and aggregates the extract runs: one per joined source and lookup table, two per
    dedupe (the engine may run it as an aggregate and a join back)."""
    return len(spec.sources) - 1 + 2 * len(dedupe_sources) + len(lookup_joins(spec))


def _alias(i: int) -> str:
    return f"s{i}"


def _key(w: Dialect, spec: RunSpec, i: int) -> str:
    return f"{_alias(i)}.{w.quote(spec.sources[i].key)}"


def _single(spec: RunSpec, w: Dialect, d: dt.date, dedupe: bool, joins: list[LookupJoin],
            native: frozenset[LookupJoin], booleans_as_int: bool, part: Slice | None) -> _Sql:
    q = _select(spec, w, d, _key(w, spec, 0), {0}, joins, booleans_as_int)
    q.add(" FROM ").extend(source_relation(w, spec.sources[0], _alias(0), d, dedupe=dedupe, filtered=False,
                                           part=part))
    q.extend(_lookup_joins(spec, w, joins, native, {0}))
    if dedupe:  # the filter already applied inside the dedupe subquery
        return q.add(f" WHERE {_key(w, spec, 0)} IS NOT NULL")
    return q.add(" WHERE ").extend(_source_filter(w, spec.sources[0], _alias(0), d, part))


def _full_join(spec: RunSpec, w: Dialect, d: dt.date, dedupe: frozenset[int], joins: list[LookupJoin],
               native: frozenset[LookupJoin], booleans_as_int: bool, part: Slice | None) -> _Sql:
    n = len(spec.sources)
    every = set(range(n))
    q = _select(spec, w, d, f"COALESCE({', '.join(_key(w, spec, i) for i in range(n))})", every, joins,
                booleans_as_int)
    q.add(" FROM ").extend(source_relation(w, spec.sources[0], _alias(0), d, dedupe=0 in dedupe, filtered=True,
                                           part=part))
    for i in range(1, n):
        # From the third source on, the key so far is whichever of the earlier sources has it.
        so_far = _key(w, spec, 0) if i == 1 else f"COALESCE({', '.join(_key(w, spec, j) for j in range(i))})"
        q.add(" FULL JOIN ").extend(source_relation(w, spec.sources[i], _alias(i), d, dedupe=i in dedupe,
                                                    filtered=True, part=part))
        q.add(f" ON {_key(w, spec, i)} = {so_far}")
    return q.extend(_lookup_joins(spec, w, joins, native, every))


def _anti_join_branch(spec: RunSpec, w: Dialect, d: dt.date, i: int, dedupe: frozenset[int],
                      joins: list[LookupJoin], native: frozenset[LookupJoin], booleans_as_int: bool,
                      part: Slice | None) -> _Sql:
    """The rows of the IDs source ``i`` holds and no source before it: joined to the sources after it."""
    n = len(spec.sources)
    later = set(range(i, n))
    q = _select(spec, w, d, _key(w, spec, i), later, joins, booleans_as_int)
    q.add(" FROM ").extend(source_relation(w, spec.sources[i], _alias(i), d, dedupe=i in dedupe, filtered=False,
                                           part=part))
    for j in range(i + 1, n):
        src = spec.sources[j]
        # Not sliced: joined on the ID, a later source's rows are of this pass's IDs anyway.
        q.add(" LEFT JOIN ").extend(source_relation(w, src, _alias(j), d, dedupe=j in dedupe, filtered=False))
        q.add(f" ON {_key(w, spec, j)} = {_key(w, spec, i)}")
        if src.partition is not None and j not in dedupe:
            q.add(f" AND {_alias(j)}.{w.quote(src.partition.column)} = {w.placeholder}",
                  format_date(d, src.partition.format))
    q.extend(_lookup_joins(spec, w, joins, native, later))
    if i in dedupe:
        q.add(f" WHERE {_key(w, spec, i)} IS NOT NULL")
    else:
        q.add(" WHERE ").extend(_source_filter(w, spec.sources[i], _alias(i), d, part))
    for j in range(i):
        src = spec.sources[j]
        q.add(f" AND NOT EXISTS (SELECT 1 FROM {_table(w, src.table)} a{j} WHERE "
              f"a{j}.{w.quote(src.key)} = {_key(w, spec, i)}")
        if src.partition is not None:
            q.add(f" AND a{j}.{w.quote(src.partition.column)} = {w.placeholder}", format_date(d, src.partition.format))
        q.add(")")
    return q


def _select(spec: RunSpec, w: Dialect, d: dt.date, key_expr: str, present: set[int], joins: list[LookupJoin],
            booleans_as_int: bool) -> _Sql:
    """``SELECT key, <outputs>[, partition value]``; outputs of sources not in ``present`` are NULL."""
    q = _Sql().add(f"SELECT {key_expr} AS {KEY_ALIAS}")
    for out in spec.outputs:
        expr = _output_expr(spec, w, out, present, joins)
        if booleans_as_int and out.content == "value" and out.type == "boolean":
            expr = _Sql(f"CAST({expr.text} AS INTEGER)", expr.params)
        q.add(", ").extend(expr)
    part = spec.target.partition
    if part is not None:
        q.add(f", {w.cast_text(w.placeholder)} AS {w.quote(part.column)}", format_date(d, part.format))
    return q


def _output_expr(spec: RunSpec, w: Dialect, out: OutputSpec, present: set[int], joins: list[LookupJoin]) -> _Sql:
    tag = spec.tag(out.tag)
    if tag.source not in present:
        return _Sql().add("NULL")
    value = f"{_alias(tag.source)}.{w.quote(tag.column)}"
    if out.content == "value":
        return _Sql().add(value)
    assert tag.lookup is not None
    lookup = spec.lookups[tag.lookup]
    if lookup.kind == "table":
        return _Sql().add(f"l{joins.index(LookupJoin(tag.lookup, tag.source, tag.column))}.tagoffline_name")
    values = lookup.values or {}
    if not values:
        return _Sql().add("CAST(NULL AS " + w.text_type + ")")
    expr = _Sql().add(f"CASE {w.cast_text(value)}")
    for code, name in values.items():
        expr.add(f" WHEN {w.placeholder} THEN {w.placeholder}", code, name)
    return expr.add(" END")


def _lookup_joins(spec: RunSpec, w: Dialect, joins: list[LookupJoin], native: frozenset[LookupJoin],
                  present: set[int]) -> _Sql:
    """One LEFT JOIN per lookup table, reduced to one name per code; on the columns' own type
    when both have it (an index or a hash join on the typed key), on their text otherwise."""
    q = _Sql()
    for index, join in enumerate(joins):
        if join.source not in present:
            continue
        lk = spec.lookups[join.lookup]
        assert lk.table and lk.code_column and lk.name_column
        code, tag_value = w.quote(lk.code_column), f"{_alias(join.source)}.{w.quote(join.column)}"
        if join not in native:
            code, tag_value = w.cast_text(code), w.cast_text(tag_value)
        alias = f"l{index}"
        q.add(f" LEFT JOIN (SELECT {code} AS tagoffline_code, MAX({w.quote(lk.name_column)}) AS tagoffline_name "
              f"FROM {_table(w, lk.table)} GROUP BY {w.quote(lk.code_column)}) {alias} "
              f"ON {alias}.tagoffline_code = {tag_value}")
    return q


def source_check_sql(w: Dialect, src: SourceSpec, data_date: dt.date, key_type: str | None = None) -> Query:
    """Rows of one source for D, and how many of them repeat an entity ID (the duplicates);
    ``key_type``: the entity key's value type, when the caller knows it."""
    flt = _source_filter(w, src, "s", data_date)
    relation = f"{_table(w, src.table)} s"
    return Query(sql=w.rows_and_duplicates_sql(relation, f"s.{w.quote(src.key)}", flt.text, key_type),
                 params=flt.params)


def type_probe_sql(w: Dialect, table: str, column: str) -> str:
    """A query returning no row whose one column is ``column`` of ``table``, for the cursor to
    describe its type (no parameters: it runs without any, so no ``%`` is doubled)."""
    return f"SELECT {w.quote(column)} FROM {w.qualify_dotted(table)} WHERE 1 = 0"
