"""One-click create table (spec §3) for the REST API: preview the generated ``CREATE TABLE`` of a
service or a draft, and execute it — or the user's edited version of it — on the target.

Generation is ``engine/ddl.create_table_sql``. Edited statements are checked before anything runs:
each item must be a single ``CREATE TABLE``, ``CREATE [UNIQUE] INDEX`` or ``COMMENT ON`` statement
that names the target table, so the endpoint cannot be used to run arbitrary SQL on a connection.
The table must not exist yet (409).
"""

from __future__ import annotations

import re
from typing import Any

import sqlparse
from sqlalchemy.orm import Session

from airflow_provider_tagoffline import config
from airflow_provider_tagoffline.api import introspection, mapping
from airflow_provider_tagoffline.api.schemas import DdlPreview, DdlResult
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.models import Service
from airflow_provider_tagoffline.errors import Conflict, FieldError, ValidationFailed
from airflow_provider_tagoffline.runspec import RunSpec
from airflow_provider_tagoffline.service.definition import ServiceDef
from airflow_provider_tagoffline.service.freeze import freeze
from airflow_provider_tagoffline.service.lifecycle import slugify
from airflow_provider_tagoffline.service.validation import ValidatedService, validate_service

ALLOWED_STATEMENTS = re.compile(r"^\s*(CREATE\s+TABLE|CREATE\s+(UNIQUE\s+)?INDEX|COMMENT\s+ON)\b", re.IGNORECASE)


def _dialect_kind(target_kind: str) -> str:
    if target_kind != "warehouse":
        return target_kind
    from airflow_provider_tagoffline import connections

    return connections.warehouse_kind(config.warehouse_conn_id())


def _spec(session: Session, actor: repo.Actor, d: ServiceDef, existing: Service | None) -> tuple[ValidatedService,
                                                                                                 RunSpec]:
    if existing is None:
        from sqlalchemy import select

        existing = session.scalar(select(Service).where(Service.name == d.name))
    v = validate_service(session, actor, d, existing=existing, default_timezone=config.default_timezone())
    spec = freeze(v, slug=existing.slug if existing else slugify(d.name),
                  version=existing.version if existing else 1, warehouse_conn_id=config.warehouse_conn_id())
    return v, spec


def generate(spec: RunSpec, dialect_kind: str) -> list[str]:
    from airflow_provider_tagoffline.engine.ddl import create_table_sql

    return list(create_table_sql(spec, dialect_kind))


def preview(session: Session, actor: repo.Actor, d: ServiceDef, existing: Service | None = None) -> DdlPreview:
    # A preview writes nothing, so every reader may see it; the membership rules apply on execute.
    v, spec = _spec(session, repo.Actor.system(actor.username), d, existing)
    kind = _dialect_kind(v.target_kind)
    statements = generate(spec, kind)
    conn_id = introspection.target_conn_id(d.target.conn_id, v.target_kind)
    try:
        exists: bool | None = introspection.has_table(conn_id, d.target.schema_, d.target.table)
    except Exception:  # unreachable target: the preview still helps
        exists = None
    return DdlPreview(conn_id=conn_id, kind=kind, schema=d.target.schema_, table=d.target.table,
                      table_exists=exists, statements=statements)


def check_statements(statements: list[str], table: str) -> list[str]:
    """The statements to execute, one per item, each allowed and naming ``table``; else 422."""
    errors: list[FieldError] = []
    out: list[str] = []
    if not statements:
        raise ValidationFailed.one("statements", "give at least one statement")
    for i, raw in enumerate(statements):
        where = f"statements[{i}]"
        text = sqlparse.format(raw, strip_comments=True).strip()
        parts = [p for p in sqlparse.split(text) if p.strip().rstrip(";").strip()]
        if len(parts) != 1:
            errors.append(FieldError(where, "must hold exactly one SQL statement" if parts else "is empty"))
            continue
        stmt = parts[0].strip().rstrip(";").rstrip()
        if not ALLOWED_STATEMENTS.match(stmt):
            errors.append(FieldError(where, "only CREATE TABLE, CREATE INDEX and COMMENT ON statements may be "
                                            "executed here"))
            continue
        if table.lower() not in stmt.lower():
            errors.append(FieldError(where, f"does not name the target table {table!r}"))
            continue
        out.append(stmt)
    if not errors and not any(re.match(r"^\s*CREATE\s+TABLE", s, re.IGNORECASE) for s in out):
        errors.append(FieldError("statements", "no CREATE TABLE statement"))
    if errors:
        raise ValidationFailed(errors)
    return out


def execute(session: Session, actor: repo.Actor, d: ServiceDef, statements: list[str] | None,
            existing: Service | None = None) -> DdlResult:
    v, spec = _spec(session, repo.Actor.system(actor.username) if existing is not None else actor, d, existing)
    kind = _dialect_kind(v.target_kind)
    t = d.target
    to_run = check_statements(statements if statements is not None else generate(spec, kind), t.table)
    conn_id = introspection.target_conn_id(t.conn_id, v.target_kind)
    if introspection.has_table(conn_id, t.schema_, t.table):
        raise Conflict(f"table {'.'.join(p for p in (t.schema_, t.table) if p)} already exists on connection "
                       f"{conn_id!r}")
    _run(conn_id, to_run)
    columns = introspection.columns(conn_id, t.schema_, t.table)
    tags = mapping.candidate_tags(session, d.application, d.entity, d.entity_id)
    suggestion = mapping.suggest(tags, [c.name for c in columns])
    repo.audit(session, actor, "create_table", "service", d.name,
               {"conn_id": conn_id, "schema": t.schema_, "table": t.table, "statements": to_run})
    return DdlResult(conn_id=conn_id, schema=t.schema_, table=t.table, executed=to_run, columns=columns,
                     mappings=suggestion.mappings)


def _run(conn_id: str, statements: list[str]) -> None:
    with introspection.dbapi_connection(conn_id) as db:
        cur: Any = db.cursor()
        i = 0
        try:
            for i, stmt in enumerate(statements):  # noqa: B007 - i names the failing statement
                cur.execute(stmt)
            db.commit()
        except Exception as exc:
            try:
                db.rollback()
            except Exception:  # the original error is what matters
                pass
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValidationFailed.one(f"statements[{i}]", f"the database refused it: {message[:500]}") from None
        finally:
            try:
                cur.close()
            except Exception:  # closing is best effort
                pass
