"""The DDL diff of a preview: the mapping against the live table's columns (missing, extra, types that
cannot hold a tag), and values too long or too wide for their column, found while the rows stream."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from airflow_provider_tagoffline.engine.preview.result import ColumnDiff
from airflow_provider_tagoffline.engine.types import ColumnType, incompatibility
from airflow_provider_tagoffline.runspec import RunSpec
from airflow_provider_tagoffline.value_types import parse_value_type


def written_columns(spec: RunSpec) -> list[tuple[str, str, str]]:
    """(column, value type, what it holds) of every column the run writes."""
    out = [(spec.target.key_column, spec.entity_key.type, "the entity ID")]
    out += [(o.column, o.type, f"tag {o.tag!r} ({'code name' if o.content == 'codename' else 'value'})")
            for o in spec.outputs]
    return out


def find_column(live: dict[str, ColumnType], column: str) -> str | None:
    """The live column a mapped column lands in (as the run's preflight matches: exact, then any case)."""
    if column in live:
        return column
    lower = {c.lower(): c for c in live}
    return lower.get(column.lower())


def matched_columns(spec: RunSpec, live: dict[str, ColumnType]) -> dict[str, str]:
    """mapped column → its live column, for those that exist."""
    return {c: found for c, _t, _w in written_columns(spec) if (found := find_column(live, c)) is not None}


def column_diff(spec: RunSpec, live: dict[str, ColumnType]) -> list[ColumnDiff]:
    """Missing and extra columns and types that cannot hold a tag (no data needed)."""
    diffs: list[ColumnDiff] = []
    used: set[str] = set()
    part = spec.target.partition.column if spec.target.partition else None
    for column, value_type, what in written_columns(spec) + ([(part, "string", "the partition")] if part else []):
        found = find_column(live, column)
        if found is None:
            diffs.append(ColumnDiff(kind="missing", column=column, fails=True,
                                    detail=f"column {column!r} for {what} does not exist in the live table"))
            continue
        used.add(found)
        if column == part:
            continue
        why = incompatibility(value_type, live[found])
        if why:
            diffs.append(ColumnDiff(kind="type", column=found, fails=True,
                                    detail=f"{live[found].raw} cannot hold {what} of type {value_type}: {why}"))
    for name, ctype in live.items():
        if name not in used:
            diffs.append(ColumnDiff(kind="extra", column=name, fails=False,
                                    detail=f"{ctype.raw} is not mapped: the run leaves it NULL (it fails if the "
                                           "column is NOT NULL without a default)"))
    return diffs


class Widths:
    """Values too long for a text column or too wide for a decimal one, found while the rows stream."""

    def __init__(self, spec: RunSpec, live: dict[str, ColumnType], matched: dict[str, str]):
        self.checks: list[tuple[int, str, ColumnType]] = []  # (row index, live column, its type)
        for i, (column, value_type, _what) in enumerate(written_columns(spec)):
            found = matched.get(column)
            if found is None:
                continue
            ct = live[found]
            # A decimal tag's values fit a column the type check let through; a double's may not.
            if (ct.family == "text" and ct.precision) or (ct.family == "decimal" and ct.precision
                                                           and parse_value_type(value_type).name == "double"):
                self.checks.append((i, found, ct))
        self.over: dict[str, list[Any]] = {}  # column → [count, widest, an entity ID]

    def see(self, batch: list[Any]) -> None:
        for i, column, ct in self.checks:
            limit = ct.precision or 0
            if ct.family == "text":
                for row in batch:
                    v = row[i]
                    if v is not None and len(s := v if isinstance(v, str) else str(v)) > limit:
                        self._note(column, len(s), row[0])
            else:
                digits = limit - (ct.scale or 0)
                for row in batch:
                    v = row[i]
                    if v is None or isinstance(v, bool):
                        continue
                    width = _integer_digits(v)
                    if width > digits:
                        self._note(column, width, row[0])

    def _note(self, column: str, width: int, key: Any) -> None:
        seen = self.over.setdefault(column, [0, 0, key])
        seen[0] += 1
        if width > seen[1]:
            seen[1], seen[2] = width, key

    def diffs(self) -> list[ColumnDiff]:
        out = []
        for _i, column, ct in self.checks:
            if column not in self.over:
                continue
            n, widest, key = self.over[column]
            if ct.family == "text":
                detail = (f"{ct.raw}: {n} value(s) longer than {ct.precision} characters (longest {widest}, entity ID "
                          f"{key}); the load fails on them, or truncates them where the database allows")
                diffs_kind = "length"
            else:
                detail = (f"{ct.raw}: {n} value(s) with more than {(ct.precision or 0) - (ct.scale or 0)} integer "
                          f"digits (widest {widest}, entity ID {key}); the load fails on them")
                diffs_kind = "precision"
            out.append(ColumnDiff(kind=diffs_kind, column=column, detail=detail, fails=True))
        return out


def _integer_digits(v: Any) -> int:
    try:
        d = v if isinstance(v, Decimal) else Decimal(str(v))
        if not d.is_finite() or d == 0:
            return 0
        return max(d.adjusted() + 1, 0)
    except (InvalidOperation, ValueError):
        return 0

