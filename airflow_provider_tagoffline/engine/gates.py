"""Quality gates (spec §5.5), checked on the loaded stage table before the swap."""

from __future__ import annotations

from airflow_provider_tagoffline.engine.targets.base import TableStats
from airflow_provider_tagoffline.runspec import GatesSpec, RunSpec


def value_column_of(spec: RunSpec) -> dict[str, str]:
    """tag code → the target column holding its value (or its code name if only that is mapped)."""
    out: dict[str, str] = {}
    for o in spec.outputs:
        if o.content == "value" or o.tag not in out:
            out[o.tag] = o.column
    return out


def null_counted_columns(spec: RunSpec) -> list[str]:
    """The columns whose NULLs a gate looks at: only these are counted (each costs a column scan)."""
    columns = value_column_of(spec)
    return sorted({columns[tag] for tag in spec.gates.max_null_ratio if tag in columns})


def describe(gates: GatesSpec) -> str:
    """The gates a run checks, in a few words (the run report's gates line)."""
    said = ["empty allowed" if gates.allow_empty else "not empty"]
    if gates.min_rows is not None:
        said.append(f"min_rows {gates.min_rows}")
    if gates.max_change_ratio is not None:
        said.append(f"max_change_ratio {gates.max_change_ratio:.1%}")
    said += [f"max_null_ratio {tag} {limit:.1%}" for tag, limit in sorted(gates.max_null_ratio.items())]
    return ", ".join(said)


def evaluate(gates: GatesSpec, spec: RunSpec, stage: TableStats, live_rows: int | None) -> list[str]:
    """The failed gates, each with its figures; empty when the swap may go ahead."""
    failures: list[str] = []
    if stage.rows == 0 and not gates.allow_empty:
        failures.append("the new data has 0 rows (set gates.allow_empty to publish an empty table)")
    if gates.min_rows is not None and stage.rows < gates.min_rows:
        failures.append(f"{stage.rows} rows is below gates.min_rows = {gates.min_rows}")
    if gates.max_change_ratio is not None and live_rows:
        change = abs(stage.rows - live_rows) / live_rows
        if change > gates.max_change_ratio:
            failures.append(f"row count changes from {live_rows} to {stage.rows} ({change:.1%}), more than "
                            f"gates.max_change_ratio = {gates.max_change_ratio:.1%}")
    columns = value_column_of(spec)
    for tag, limit in gates.max_null_ratio.items():
        column = columns.get(tag)
        if column is None or stage.rows == 0:
            continue
        ratio = stage.nulls.get(column, 0) / stage.rows
        if ratio > limit:
            failures.append(f"tag {tag!r}: {ratio:.1%} NULL values in column {column!r}, more than "
                            f"gates.max_null_ratio = {limit:.1%}")
    return failures
