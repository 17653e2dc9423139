"""``tagoffline run NAME --date D`` and ``tagoffline service ddl NAME``: the engine, in-process.

``run`` needs no Airflow database to be safe: the engine reads the data date a whole-table target holds
from the table itself and refuses an older one (``--allow-older`` lets it through); Airflow's database
is asked only about a table that records none yet (written before tables recorded it), when reachable.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from airflow_provider_tagoffline.cli.common import AllowOlderOption, JsonOption, actor, print_json, session
from airflow_provider_tagoffline.cli.lazy import (
    attention,
    connections,
    create_table,
    create_table_execute,
    create_table_parse,
    data_date,
    held,
    lifecycle,
    runs,
    runspec,
    yaml_io,
)
from airflow_provider_tagoffline.cli.output import echo
from airflow_provider_tagoffline.errors import Conflict, RunFailed

if TYPE_CHECKING:
    from airflow_provider_tagoffline.runspec import RunSpec


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
    try:
        report = runs.run_export(spec, day, batch_size=batch_size, echo=(lambda _m: None) if json_out else echo,
                                   allow_older=allow_older, run_id=cli_run_id("tagoffline-run"),
                                   by=actor().username, held_elsewhere=lambda: held.held_in_airflow(spec))
    except RunFailed as exc:
        if json_out and exc.report is not None:
            print_json(exc.report.to_dict())  # type: ignore[attr-defined]
        raise
    if json_out:
        print_json(report.to_dict())


def cli_run_id(prefix: str, now: dt.datetime | None = None) -> str:
    """The run id an in-process run records with the table: ``tagoffline-run__2026-11-30T02:31:05Z``."""
    return f"{prefix}__{(now or dt.datetime.now(dt.UTC)).strftime('%Y-%m-%dT%H:%M:%SZ')}"


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
