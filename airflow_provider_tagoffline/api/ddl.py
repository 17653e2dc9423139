"""One-click create table (spec §3) for the REST API: preview the generated ``CREATE TABLE`` of a
service or a draft, and create the table — from the generated statements or the user's edit.

An edit is parsed for the target's dialect and only a ``CREATE TABLE`` of the target (with column
definitions, and comments on it) is accepted; what runs is the statement rendered again from the
parsed form (``create_table/``), one statement per driver call. The table must not exist yet (409).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from airflow_provider_tagoffline import config, connections
from airflow_provider_tagoffline.api import introspection, mapping
from airflow_provider_tagoffline.api.schemas import DdlPreview, DdlResult
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.models import Service
from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.create_table.design import design_for
from airflow_provider_tagoffline.create_table.execute import create_on_target
from airflow_provider_tagoffline.create_table.parse import parse_edited
from airflow_provider_tagoffline.create_table.render import render
from airflow_provider_tagoffline.runspec import RunSpec
from airflow_provider_tagoffline.service import lifecycle
from airflow_provider_tagoffline.service.definition import ServiceDef
from airflow_provider_tagoffline.service.freeze import freeze
from airflow_provider_tagoffline.service.lifecycle import slugify
from airflow_provider_tagoffline.service.validation import ValidatedService, validate_service


def _spec(session: Session, actor: repo.Actor, d: ServiceDef, existing: Service | None) -> tuple[ValidatedService,
                                                                                                 RunSpec]:
    """The draft validated as a save would (data only: the route asked the caller's right) and frozen.
    A draft stands for the saved service of its name only when ``actor`` manages it."""
    if existing is None:
        existing = lifecycle.draft_existing(session, actor, d)
    v = validate_service(session, d, existing=existing, default_timezone=config.default_timezone())
    spec = freeze(v, slug=existing.slug if existing else slugify(d.name),
                  version=existing.version if existing else 1, warehouse_conn_id=config.warehouse_conn_id())
    return v, spec


def preview(session: Session, actor: repo.Actor, d: ServiceDef, existing: Service | None = None) -> DdlPreview:
    _validated, spec = _spec(session, actor, d, existing)
    where = connections.resolve_target(d.target.conn_id)
    kind = where.dialect.kind
    statements = create_table_sql(spec, kind)
    conn_id = where.conn_id
    try:
        exists: bool | None = introspection.has_table(conn_id, d.target.schema_, d.target.table)
    except Exception:  # unreachable target: the preview still helps
        exists = None
    return DdlPreview(conn_id=conn_id, kind=kind, schema=d.target.schema_, table=d.target.table,
                      table_exists=exists, statements=statements)


def execute(session: Session, actor: repo.Actor, d: ServiceDef, statements: list[str] | None,
            existing: Service | None = None) -> DdlResult:
    _validated, spec = _spec(session, actor, d, existing)
    where = connections.resolve_target(d.target.conn_id)
    dialect = where.dialect
    t = spec.target
    if statements is None:
        design = design_for(spec, dialect)
    else:
        design = parse_edited(statements, dialect, schema=t.schema_, table=t.table,
                              partition_column=t.partition.column if t.partition else None)
    to_run = render(design, dialect)
    conn_id = where.conn_id
    create_on_target(t, conn_id, to_run)
    columns = introspection.columns(conn_id, t.schema_, t.table)
    tags = mapping.candidate_tags(session, d.application, d.entity, d.entity_id)
    suggestion = mapping.suggest(tags, [c.name for c in columns])
    repo.audit(session, actor, "create_table", "service", d.name,
               {"conn_id": conn_id, "schema": t.schema_, "table": t.table, "statements": to_run})
    return DdlResult(conn_id=conn_id, schema=t.schema_, table=t.table, executed=to_run, columns=columns,
                     mappings=suggestion.mappings)
