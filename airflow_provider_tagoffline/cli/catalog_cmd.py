"""``tagoffline catalog``: apply and export the catalog as YAML."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from airflow_provider_tagoffline.cli.common import JsonOption, actor, export_document, print_json, session
from airflow_provider_tagoffline.cli.lazy import catalog_apply, yaml_io
from airflow_provider_tagoffline.cli.output import echo

if TYPE_CHECKING:
    from airflow_provider_tagoffline.catalog.apply import Plan

app = typer.Typer(help="The catalog: applications, entities, tags, lookups, grants.", no_args_is_help=True,
                  rich_markup_mode=None)


def _print_plan(plan: Plan, dry_run: bool) -> None:
    for item in plan.items:
        if item.action == "unchanged":
            continue
        detail = f" ({', '.join(item.changes)})" if item.changes else ""
        echo(f"  {item.action:<9} {item.kind:<12} {item.key}{detail}")
    s = plan.summary()
    verb = "would " if dry_run else ""
    if not plan.changed:
        echo(f"no changes: {s['unchanged']} objects already up to date")
    else:
        echo(f"{verb}create {s['create']}, {verb}update {s['update']}, unchanged {s['unchanged']}"
                   + (" (dry run: nothing written)" if dry_run else ""))


@app.command("apply")
def apply(file: Path = typer.Argument(..., help="Catalog YAML file."),
          dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; write nothing."),
          json_out: bool = JsonOption) -> None:
    """Create or update the catalog objects of FILE (idempotent; never deletes)."""
    catalog = yaml_io.parse_catalog(yaml_io.load_yaml_file(file))
    with session() as s:
        plan = catalog_apply.apply_catalog(s, actor(), catalog, dry_run=dry_run)
        if dry_run:
            s.rollback()
    if json_out:
        print_json({"dry_run": dry_run, "changed": plan.changed, "summary": plan.summary(),
                    "items": [i.to_dict() for i in plan.items]})
    else:
        _print_plan(plan, dry_run)


@app.command("export")
def export(output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file."),
           json_out: bool = JsonOption) -> None:
    """Print the whole catalog as YAML (or JSON); `catalog apply` of it changes nothing."""
    with session() as s:
        data = catalog_apply.export_catalog(s).model_dump(mode="json", exclude_none=True)
    export_document(data, json_out, output, "catalog")
