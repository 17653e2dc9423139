"""Helpers of the create / edit form: connections and what is in them, same-name mapping, one-click
create table for a draft; plus the caller's identity and the audit log.

Connections are listed for every authenticated user, with non-secret fields only. Looking inside
a connection (schemas, tables, columns) and creating tables needs the right to create services:
an Airflow admin, or an admin or member of at least one application.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel
from sqlalchemy import select

from airflow_provider_tagoffline.api import ddl as ddl_helpers
from airflow_provider_tagoffline.api import introspection, mapping
from airflow_provider_tagoffline.api.auth import ActorDep, may_create_services
from airflow_provider_tagoffline.api.deps import SessionDep
from airflow_provider_tagoffline.api.routes_services import _check_creator, audit_entry
from airflow_provider_tagoffline.api.schemas import (
    AuditEntry,
    ColumnList,
    ConnectionOut,
    DdlDraftExecuteRequest,
    DdlDraftRequest,
    DdlPreview,
    DdlResult,
    MappingSuggestion,
    MappingSuggestRequest,
    NameList,
)
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.models import Application, ApplicationUser, AuditLog
from airflow_provider_tagoffline.errors import FieldError, PermissionDenied, ValidationFailed

router = APIRouter(tags=["helpers"])

# No control characters or "/": such a path never reaches the plugin (the mount does not match it).
ConnId = Annotated[str, Path(min_length=1, max_length=250, pattern=r"^[^\x00-\x1f/]+$",
                              description="an Airflow connection id")]
TableName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f/]+$")]
SchemaParam = Annotated[str | None, Query(min_length=1, max_length=128)]


class Me(BaseModel):
    username: str
    is_admin: bool
    admin_of: list[str]
    member_of: list[str]
    can_create_services: bool


@router.get("/me", response_model=Me, summary="The calling user as the plugin sees them")
def me(session: SessionDep, actor: ActorDep) -> Me:
    rows = session.execute(select(ApplicationUser.role, Application.code).join(Application)
                           .where(ApplicationUser.username == actor.username)).all()
    admin_of = sorted(code for role, code in rows if role == "admin")
    member_of = sorted(code for role, code in rows if role == "member")
    return Me(username=actor.username, is_admin=actor.is_admin, admin_of=admin_of, member_of=member_of,
              can_create_services=actor.is_admin or bool(rows))


def _require_creator(session: SessionDep, actor: repo.Actor, what: str) -> None:
    if not may_create_services(session, actor):
        raise PermissionDenied(f"user {actor.username!r} may not {what}: only Airflow admins and admins or "
                               f"members of an application may")


# ---- connections -----------------------------------------------------------------------------

@router.get("/connections", response_model=list[ConnectionOut],
            summary="Airflow connections of supported target kinds (no secrets)")
def list_connections(actor: ActorDep) -> list[ConnectionOut]:
    return introspection.list_connections()


@router.get("/connections/{conn_id}/schemas", response_model=NameList, summary="Schemas of a connection")
def connection_schemas(conn_id: ConnId, session: SessionDep, actor: ActorDep) -> NameList:
    _require_creator(session, actor, "look inside connections")
    return NameList(conn_id=conn_id, items=introspection.schemas(conn_id))


@router.get("/connections/{conn_id}/tables", response_model=NameList,
            summary="Tables of a connection (in a schema, or the default one)")
def connection_tables(conn_id: ConnId, session: SessionDep, actor: ActorDep,
                      schema: SchemaParam = None) -> NameList:
    _require_creator(session, actor, "look inside connections")
    return NameList(conn_id=conn_id, schema=schema, items=introspection.tables(conn_id, schema))


@router.get("/connections/{conn_id}/tables/{table}/columns", response_model=ColumnList,
            summary="Columns of a table")
def connection_columns(conn_id: ConnId, table: TableName,
                       session: SessionDep, actor: ActorDep, schema: SchemaParam = None) -> ColumnList:
    _require_creator(session, actor, "look inside connections")
    return ColumnList(conn_id=conn_id, schema=schema, table=table,
                      items=introspection.columns(conn_id, schema, table))


# ---- same-name mapping, one-click create table for a draft ----------------------------------

@router.post("/helpers/same-name-mapping", response_model=MappingSuggestion,
             summary="Map tags to the target table's columns by name")
def same_name_mapping(body: MappingSuggestRequest, session: SessionDep, actor: ActorDep) -> MappingSuggestion:
    tags = mapping.candidate_tags(session, body.application, body.entity, body.entity_id)
    if body.columns is not None:
        columns = body.columns
    elif body.conn_id and body.table:
        _require_creator(session, actor, "look inside connections")
        columns = [c.name for c in introspection.columns(body.conn_id, body.schema_, body.table)]
    else:
        raise ValidationFailed([FieldError("columns", "give the target's columns, or conn_id and table"),
                                FieldError("table", "give conn_id and table, or the columns")])
    return mapping.suggest(tags, columns)


@router.post("/helpers/ddl/preview", response_model=DdlPreview,
             summary="CREATE TABLE for a service draft (not saved yet)")
def draft_ddl_preview(body: DdlDraftRequest, session: SessionDep, actor: ActorDep) -> DdlPreview:
    return ddl_helpers.preview(session, actor, body.service)


@router.post("/helpers/ddl/execute", response_model=DdlResult,
             summary="Execute the (possibly edited) CREATE TABLE of a draft on its target")
def draft_ddl_execute(body: DdlDraftExecuteRequest, session: SessionDep, actor: ActorDep) -> DdlResult:
    _require_creator(session, actor, "create tables")
    _check_creator(session, actor, body.service, "create tables for")
    return ddl_helpers.execute(session, actor, body.service, body.statements)


# ---- audit log -------------------------------------------------------------------------------

@router.get("/audit", response_model=list[AuditEntry], summary="The audit log, newest first")
def audit_log(
    session: SessionDep,
    actor: ActorDep,
    object_type: Annotated[str | None, Query(max_length=32)] = None,
    object_key: Annotated[str | None, Query(max_length=255)] = None,
    user: Annotated[str | None, Query(max_length=255, description="the acting user")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    q = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if object_type:
        q = q.where(AuditLog.object_type == object_type)
    if object_key:
        q = q.where(AuditLog.object_key == object_key)
    if user:
        q = q.where(AuditLog.actor == user)
    return [audit_entry(r) for r in session.scalars(q)]
