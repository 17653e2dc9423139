"""``tagoffline run NAME --date D`` and ``tagoffline service ddl NAME``: the engine, in-process."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from airflow_provider_tagoffline.cli.common import JsonOption, print_json, session
from airflow_provider_tagoffline.cli.output import echo
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runspec import RunSpec
from airflow_provider_tagoffline.service import lifecycle
from airflow_provider_tagoffline.yaml_io import read_text_file


def spec_for_run(name: str) -> RunSpec:
    """What Airflow runs: the published spec if there is one, else the draft frozen now."""
    with session() as s:
        svc = lifecycle.get_service(s, name)
        if svc.published_spec:
            return RunSpec.model_validate(svc.published_spec)
        return lifecycle.freeze_service(s, name)


def run(
    name: str = typer.Argument(..., help="Service name."),
    date: str | None = typer.Option(None, "--date", help="Data date YYYY-MM-DD (default: yesterday, T-1)."),
    batch_size: int = typer.Option(20_000, "--batch-size", min=1, help="Rows per fetch from the warehouse."),
    json_out: bool = JsonOption,
) -> None:
    """Export one data date of a service into its target, in this process (spec §5)."""
    from airflow_provider_tagoffline.engine.runner import run_export

    data_date = date or (dt.date.today() - dt.timedelta(days=1)).isoformat()
    spec = spec_for_run(name)
    try:
        report = run_export(spec, data_date, batch_size=batch_size,
                            echo=(lambda _m: None) if json_out else echo)
    except RunFailed as exc:
        if json_out and exc.report is not None:
            print_json(exc.report.to_dict())  # type: ignore[attr-defined]
        raise
    if json_out:
        print_json(report.to_dict())


def ddl(
    name: str = typer.Argument(..., help="Service name."),
    execute: bool = typer.Option(False, "--execute", help="Create the table on the target."),
    sql_file: Path | None = typer.Option(None, "--sql", help="An edited CREATE TABLE to use instead of the "
                                         "generated one (checked, then rendered again: never run as written)."),
    json_out: bool = JsonOption,
) -> None:
    """The CREATE TABLE of a service's target, for its dialect; --execute creates the table."""
    from airflow_provider_tagoffline.connections import resolve_target
    from airflow_provider_tagoffline.create_table.design import design_for
    from airflow_provider_tagoffline.create_table.execute import create_on_target
    from airflow_provider_tagoffline.create_table.parse import parse_edited
    from airflow_provider_tagoffline.create_table.render import render

    spec = spec_for_run(name)
    t = spec.target
    where = resolve_target(t.conn_id, spec.warehouse_conn_id)
    conn_id, dialect = where.conn_id, where.dialect
    if sql_file is None:
        design = design_for(spec, dialect)
    else:
        design = parse_edited([read_text_file(sql_file)], dialect, schema=t.schema_, table=t.table,
                              partition_column=t.partition.column if t.partition else None)
    statements = render(design, dialect)
    if execute:
        create_on_target(t, conn_id, statements)
    out: dict[str, Any] = {"conn_id": conn_id, "kind": dialect.kind, "statements": statements, "executed": execute}
    if json_out:
        print_json(out)
        return
    echo(";\n\n".join(statements) + ";")
    if execute:
        echo(f"-- created on {conn_id}")


def register(app: typer.Typer, service_app: typer.Typer) -> None:
    app.command("run")(run)
    service_app.command("ddl")(ddl)
