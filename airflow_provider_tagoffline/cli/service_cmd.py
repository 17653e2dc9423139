"""``tagoffline service``: services as YAML files, and their lifecycle."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from airflow_provider_tagoffline import config
from airflow_provider_tagoffline.cli.common import (
    AllowOlderOption,
    JsonOption,
    actor,
    export_document,
    print_json,
    session,
)
from airflow_provider_tagoffline.cli.lazy import attention, lifecycle, publishing, service_preview, yaml_io
from airflow_provider_tagoffline.cli.output import echo
from airflow_provider_tagoffline.errors import TagOfflineError, ValidationFailed
from airflow_provider_tagoffline.service.states import TaskStatus

if TYPE_CHECKING:
    from airflow_provider_tagoffline.service.publishing import ActionResult

app = typer.Typer(help="Tag offline services.", no_args_is_help=True, rich_markup_mode=None)


@app.command("apply")
def apply(file: Path = typer.Argument(..., help="Service YAML file."), json_out: bool = JsonOption) -> None:
    """Create the service of FILE, or update its draft if it exists."""
    data = yaml_io.load_yaml_file(file)
    with session() as s:
        svc, outcome = lifecycle.apply_service(s, actor(), data)
        summary = lifecycle.service_summary(svc)
    if json_out:
        print_json({"outcome": outcome, "service": summary})
    else:
        echo(f"service {summary['name']}: {outcome} (version {summary['version']}, "
                   f"status {summary['status']})")


@app.command("list")
def list_(
    mine: bool = typer.Option(False, "--mine", help="Only services I own."),
    name: str | None = typer.Option(None, "--name", help="Name contains this text."),
    application: str | None = typer.Option(None, "--application"),
    entity: str | None = typer.Option(None, "--entity", help="ENTITY or ENTITY.ENTITY_ID"),
    target_kind: str | None = typer.Option(None, "--target-kind"),
    status: str | None = typer.Option(None, "--status", help="Task status (editing, published, ...)."),
    execution_status: str | None = typer.Option(None, "--execution-status"),
    schedule_type: str | None = typer.Option(None, "--schedule-type", help="manual or recurring"),
    page: int = typer.Option(1, "--page", min=1),
    page_size: int = typer.Option(50, "--page-size", min=1, max=1000),
    json_out: bool = JsonOption,
) -> None:
    """List services: by status, execution status, application, entity, schedule type, name, owner."""
    entity_code, _, entity_id = (entity or "").partition(".")
    flt = lifecycle.ServiceFilter(mine=actor().username if mine else None, name=name, application=application,
                                  entity=entity_code or None, entity_id=entity_id or None, target_kind=target_kind,
                                  status=status, execution_status=execution_status, schedule_type=schedule_type)
    with session() as s:
        rows, total = lifecycle.list_services(s, flt, page=page, page_size=page_size)
        found = attention.of_many(s, rows)
        items = [lifecycle.service_summary(r, found.get(r.id, attention.Attention())) for r in rows]
    if json_out:
        print_json({"total": total, "page": page, "page_size": page_size, "items": items})
        return
    if not items:
        echo("no services" + (" match" if total == 0 and any(vars(flt).values()) else ""))
        return
    header = ("NAME", "OWNER", "APPLICATION", "ENTITY", "STATUS", "EXECUTION", "SCHEDULE", "TARGET", "TAGS")
    table = [header] + [(i["name"], i["owner"], i["application"], f"{i['entity']}.{i['entity_id']}", _status(i),
                         i["execution_status"], i["schedule_type"],
                         f"{i['target']['conn_id']}:{i['target']['full_name']}", ",".join(i["tags"]))
                        for i in items]
    widths = [max(len(str(r[c])) for r in table) for c in range(len(header))]
    for r in table:
        echo("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    if total > len(items):
        echo(f"page {page}: {len(items)} of {total} services")
    _print_attention(items)


def _status(item: dict) -> str:
    return item["status"] + (f" ({attention.NEEDS_ATTENTION})" if item["attention"] else "")


def _print_attention(items: list[dict]) -> None:
    """Below the table: why each service needs attention (the catalog changed under it)."""
    for i in items:
        if i["attention"]:
            echo(f"{i['name']} {attention.NEEDS_ATTENTION}: {i['attention']}")


@app.command("show")
def show(name: str, json_out: bool = JsonOption) -> None:
    """The whole definition of a service, with its status."""
    with session() as s:
        svc = lifecycle.get_service(s, name)
        publishing.refresh(s, svc)
        definition = lifecycle.service_definition(svc)
        wait = definition.target.wait_for_lock
        data = {**lifecycle.service_summary(svc), "slug": svc.slug, "status_message": svc.status_message,
                "created_by": svc.created_by, "created_at": svc.created_at.isoformat(),
                # how long its swap keeps trying for the table's lock, where the service leaves it to the deployment
                "wait_for_lock": wait if wait not in (None, "") else
                f"{config.get('wait_for_lock')} (the deployment's [tag_offline] wait_for_lock)",
                # the load mode, said even where the definition leaves it to its default
                "load": definition.target.load,
                "definition": definition.to_yaml_dict()}
        pause = publishing.airflow_pause(svc)
        if pause is not None:
            data["airflow_pause"] = pause.model_dump()
    if json_out:
        print_json(data)
    else:
        echo(yaml_io.dump_yaml(data), nl=False)


@app.command("export")
def export(name: str, output: Path | None = typer.Option(None, "--output", "-o"), json_out: bool = JsonOption) -> None:
    """The service file of a service; `service apply` of it changes nothing."""
    with session() as s:
        data = lifecycle.service_definition(lifecycle.get_service(s, name)).to_yaml_dict()
    export_document(data, json_out, output, f"service {name}")


@app.command("delete")
def delete(name: str, json_out: bool = JsonOption) -> None:
    """Delete a service (offline, publish_failed, or never published); the audit log keeps its history."""
    with session() as s:
        publishing.delete(s, actor(), name)
    if json_out:
        print_json({"deleted": name})
    else:
        echo(f"service {name} deleted")


def _emit(outcome: ActionResult, json_out: bool) -> None:
    if json_out:
        print_json(outcome.model_dump())
        return
    line = f"service {outcome.service}: {outcome.action} -> {outcome.status}"
    echo(line + (f" ({outcome.message})" if outcome.message else ""))


@app.command("publish")
def publish(
    name: str,
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until Airflow has loaded the DAG (or failed)."),
    json_out: bool = JsonOption,
) -> None:
    """Render the service's DAG into Airflow; status publishing, then published or publish_failed."""
    with session() as s:
        outcome = publishing.publish(s, actor(), name)
    if wait and outcome.status == TaskStatus.PUBLISHING:
        deadline = time.monotonic() + config.publish_timeout() + 5
        while True:
            time.sleep(0.5)
            with session() as s:
                svc = lifecycle.get_service(s, name)
                publishing.refresh(s, svc)
                outcome.status, outcome.message = svc.status, svc.status_message
            if outcome.status != TaskStatus.PUBLISHING or time.monotonic() > deadline:
                break
    _emit(outcome, json_out)
    if outcome.status == TaskStatus.PUBLISH_FAILED:
        raise typer.Exit(1)


@app.command("unpublish")
def unpublish(name: str, json_out: bool = JsonOption) -> None:
    """Pause the DAG, remove its file and Airflow's record of it; status offline."""
    with session() as s:
        outcome = publishing.unpublish(s, actor(), name)
    _emit(outcome, json_out)
    if outcome.status != TaskStatus.OFFLINE:
        raise typer.Exit(1)


@app.command("run")
def run(
    name: str,
    date: str | None = typer.Option(None, "--date", help="Data date YYYY-MM-DD (default: yesterday in the "
                                    "service's timezone)."),
    allow_older: bool = AllowOlderOption,
    json_out: bool = JsonOption,
) -> None:
    """Trigger a DAG run of a published manual service that exports one data date."""
    with session() as s:
        outcome = publishing.run(s, actor(), name, _date("--date", date), from_cli=True, allow_older=allow_older)
    _emit(outcome, json_out)


@app.command("backfill")
def backfill(
    name: str,
    start: str | None = typer.Option(None, "--start", help="First data date YYYY-MM-DD (default: yesterday)."),
    end: str | None = typer.Option(None, "--end", help="Last data date, inclusive (default: --start)."),
    allow_older: bool = AllowOlderOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print Airflow's plan (runs, dates it leaves out and "
                                                          "why, what a whole table ends at); create nothing."),
    json_out: bool = JsonOption,
) -> None:
    """Create an Airflow backfill of a published recurring service: one run per data date, oldest first.
    On a whole-table target it says first what the table will end at."""
    with session() as s:
        if dry_run:
            plan = publishing.backfill_plan(s, name, _date("--start", start), _date("--end", end))
        else:
            outcome = publishing.backfill(s, actor(), name, _date("--start", start), _date("--end", end),
                                          allow_older=allow_older)
    if dry_run:
        if json_out:
            print_json(plan.model_dump())
            return
        dates = plan.data_dates
        echo(f"backfill of {plan.service}, data dates {plan.start} to {plan.end}: {plan.runs} run(s)"
             + (f": {', '.join(dates)}" if dates else ""))
        for skipped in plan.skipped:
            echo(f"  {skipped.data_date} not run: {skipped.reason}")
        if plan.warning:
            echo(f"note: {plan.warning}" + ("; needs --allow-older" if plan.needs_allow_older else ""))
        return
    if outcome.warning and not json_out:
        echo(f"note: {outcome.warning}")
    _emit(outcome, json_out)


@app.command("instances")
def instances(
    name: str,
    limit: int = typer.Option(20, "--limit", min=1, max=500),
    json_out: bool = JsonOption,
) -> None:
    """The service's DAG runs: data date, state, start, end, duration, rows written, log link."""
    with session() as s:
        rows = publishing.instances(s, name, limit)
    if json_out:
        print_json([r.model_dump() for r in rows])
        return
    if not rows:
        echo("no runs")
        return
    table = [("DATA DATE", "STATE", "START", "DURATION", "ROWS", "RUN ID", "REASON")] + [
        (r.data_date or "", r.state or "", (r.start or "")[:19], f"{r.duration:.1f}s" if r.duration else "",
         "" if r.rows_written is None else str(r.rows_written), r.run_id,
         r.error or (f"waiting for {r.waiting_for}" if r.waiting_for else "")) for r in rows]
    widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]
    for row in table:
        echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _date(option: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed.one(option, f"{value!r} is not a date YYYY-MM-DD") from None


# ---- preview of a run ---------------------------------------------------------------------------

@app.command("plan")
def plan(
    name: str,
    date: str | None = typer.Option(None, "--date", help="Data date YYYY-MM-DD (default: yesterday in the "
                                    "service's timezone, T-1)."),
    sample: int = typer.Option(10, "--sample", min=0, max=1000, help="Rows of the sample to show."),
    allow_older: bool = AllowOlderOption,
    json_out: bool = JsonOption,
) -> None:
    """Preview what a run for one data date would write and change; writes nothing.

    The DDL diff between the mapping and the live table, rows per source and duplicate IDs, a
    sample of the rows as written, and rows added / removed / changed versus the live table with
    the change ratio the gates would see. Exit code 1 when the run would fail.
    """

    with session() as s:
        request = service_preview.PreviewRequest(_date("--date", date), sample, allow_older)
        result = service_preview.preview_service(s, actor(), name, request)
    if json_out:
        print_json(result.model_dump())
    else:
        echo(result.summary())
    reasons = result.would_fail + [f"column {c.column!r}: {c.detail}" for c in result.columns
                                   if c.fails and c.kind not in ("missing", "type")] + result.gates_failed
    if reasons:
        # one line on stderr and exit code 1, as the run itself would say it
        raise TagOfflineError(f"a run for data date {result.data_date} would fail: {reasons[0]}")
