"""``tagoffline run NAME --date D`` and ``tagoffline service ddl NAME``: the engine, in-process."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from airflow_provider_tagoffline.cli.common import AllowOlderOption, JsonOption, print_json, session
from airflow_provider_tagoffline.cli.lazy import (
    airflow_bridge,
    attention,
    connections,
    create_table,
    create_table_execute,
    create_table_parse,
    data_date,
    factory,
    lifecycle,
    publishing,
    runner,
    runspec,
    yaml_io,
)
from airflow_provider_tagoffline.cli.output import echo
from airflow_provider_tagoffline.errors import Conflict, RunFailed, first_line

if TYPE_CHECKING:
    from airflow_provider_tagoffline.runspec import RunSpec

log = logging.getLogger(__name__)


def spec_for_run(name: str) -> RunSpec:
    """What Airflow runs: the published spec if there is one, else the draft frozen now."""
    with session() as s:
        svc = lifecycle.get_service(s, name)
        if svc.published_spec:
            return runspec.RunSpec.model_validate(svc.published_spec)
        return lifecycle.freeze_service(s, name)


def refuse_drift(name: str, spec: RunSpec) -> None:
    """A run of a version the catalog changed under stops here, as the export task would."""
    with session() as s:
        found = attention.of(lifecycle.get_service(s, name))
    if found.needed:
        raise Conflict(attention.run_message(spec, found.reasons()))


def run(
    name: str = typer.Argument(..., help="Service name."),
    date: str | None = typer.Option(None, "--date", help="Data date YYYY-MM-DD (default: yesterday in the "
                                    "service's timezone, T-1)."),
    allow_older: bool = AllowOlderOption,
    batch_size: int = typer.Option(20_000, "--batch-size", min=1, help="Rows per fetch from the warehouse."),
    json_out: bool = JsonOption,
) -> None:
    """Export one data date of a service into its target, in this process."""
    spec = spec_for_run(name)
    day = data_date.parse_data_date(date, "--date") if date else data_date.yesterday(spec.schedule.timezone)
    refuse_drift(name, spec)
    whole_table = spec.target.partition is None
    if whole_table and (reason := data_date.older_refusal(publishing.target_name(spec), day,
                                                          publishing.held_data_date(spec), allow_older)):
        raise Conflict(reason)
    try:
        report = runner.run_export(spec, day, batch_size=batch_size, echo=(lambda _m: None) if json_out else echo)
    except RunFailed as exc:
        if json_out and exc.report is not None:
            print_json(exc.report.to_dict())  # type: ignore[attr-defined]
        raise
    _record_held(spec, day)
    if json_out:
        print_json(report.to_dict())


def _record_held(spec: RunSpec, day: dt.date) -> None:
    """Tell Airflow which data date the target holds now, as a DAG run would (when it knows the target)."""
    try:
        airflow_bridge.record_target_data_date(factory.target_asset_uri(spec), {"data_date": day.isoformat(),
                                                                                "service": spec.service.name,
                                                                                "by": "tagoffline run"})
    except Exception as exc:  # no Airflow database here: the export itself is done
        log.info("could not record in Airflow that %s holds data date %s: %s", spec.target.table, day,
                 first_line(exc))


def ddl(
    name: str = typer.Argument(..., help="Service name."),
    execute: bool = typer.Option(False, "--execute", help="Create the table on the target."),
    sql_file: Path | None = typer.Option(None, "--sql", help="An edited CREATE TABLE to use instead of the "
                                         "generated one (checked, then rendered again: never run as written)."),
    json_out: bool = JsonOption,
) -> None:
    """The CREATE TABLE of a service's target, for its dialect; --execute creates the table."""
    spec = spec_for_run(name)
    t = spec.target
    where = connections.resolve_target(t.conn_id, spec.warehouse_conn_id)
    conn_id, dialect = where.conn_id, where.dialect
    if sql_file is None:
        design = create_table.design_for(spec, dialect)
    else:
        design = create_table_parse.parse_edited([yaml_io.read_text_file(sql_file)], dialect, schema=t.schema_,
                                                 table=t.table,
                                                 partition_column=t.partition.column if t.partition else None)
    statements = create_table.render(design, dialect)
    if execute:
        create_table_execute.create_on_target(t, conn_id, statements)
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
