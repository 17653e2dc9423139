"""``tagoffline catalog``: apply and export the catalog as YAML."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from airflow_provider_tagoffline.cli.common import JsonOption, actor, export_document, print_json, session
from airflow_provider_tagoffline.cli.lazy import attention, catalog_admin, catalog_apply, yaml_io
from airflow_provider_tagoffline.cli.output import echo

if TYPE_CHECKING:
    from airflow_provider_tagoffline.catalog.apply import Plan

app = typer.Typer(help="The catalog: applications, entities, tags, lookups, grants.", no_args_is_help=True,
                  rich_markup_mode=None)


def _print_plan(plan: Plan, dry_run: bool, affects: attention.Impact | None = None,
                clears: attention.Impact | None = None) -> None:
    for item in plan.items:
        if item.action == "unchanged":
            continue
        detail = f" ({', '.join(item.changes)})" if item.changes else ""
        echo(f"  {item.action:<9} {item.kind:<12} {item.key}{detail}")
        _print_impact(item.kind, item.key, affects or {}, clears or {})
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
    affects: attention.Impact = {}
    clears: attention.Impact = {}
    with session() as s:
        if dry_run:  # applied for real and rolled back: the live services it would affect are exact
            plan, affects, clears = attention.catalog_impact(
                s, lambda: catalog_admin.apply_catalog(s, actor(), catalog))
        else:
            plan = catalog_admin.apply_catalog(s, actor(), catalog)
    if json_out:
        print_json({"dry_run": dry_run, "changed": plan.changed, "summary": plan.summary(),
                    "items": [{**i.to_dict(), **({"affects": attention.impact_of(i.kind, i.key, affects),
                                                  "clears": attention.impact_of(i.kind, i.key, clears)}
                                                 if dry_run else {})} for i in plan.items]})
    else:
        _print_plan(plan, dry_run, affects, clears)


def _print_impact(kind: str, key: str, affects: attention.Impact, clears: attention.Impact) -> None:
    """Under a change of the dry run: the published services it would make need attention, or clear."""
    for a in affects.get((kind, key), []):
        echo(f"            -> {a.service} would need attention: {a.reason}")
    for a in clears.get((kind, key), []):
        echo(f"            -> {a.service} would no longer need attention: {a.reason}")


@app.command("export")
def export(output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file."),
           json_out: bool = JsonOption) -> None:
    """Print the whole catalog as YAML (or JSON); `catalog apply` of it changes nothing."""
    with session() as s:
        data = catalog_apply.export_catalog(s).model_dump(mode="json", exclude_none=True)
    export_document(data, json_out, output, "catalog")
