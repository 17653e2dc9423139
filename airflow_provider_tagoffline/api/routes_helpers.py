"""Helpers of the create / edit form: connections and what is in them, same-name mapping, one-click
create table for a draft; plus the caller's identity and the audit log.

Connections follow target grants (``service/permissions.py``): a user sees, looks inside (schemas,
tables, columns) and creates tables on the connections granted to an application they administer
or belong to, inside the granted schemas; Airflow admins on every connection. Only non-secret
fields are listed. A DDL preview says whether the table exists, so it needs the same rights as
creating it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from airflow_provider_tagoffline import places
from airflow_provider_tagoffline.api import ddl as ddl_helpers
from airflow_provider_tagoffline.api import introspection, mapping
from airflow_provider_tagoffline.api.access import (
    ConnId,
    SchemaParam,
    requires_authenticated,
    requires_inside,
    requires_right_on_body,
)
from airflow_provider_tagoffline.api.auth import ActorDep
from airflow_provider_tagoffline.api.deps import SessionDep
from airflow_provider_tagoffline.api.routes_services import audit_entry
from airflow_provider_tagoffline.api.schemas import (
    AuditEntry,
    ColumnList,
    ConnectionOut,
    DdlDraftExecuteRequest,
    DdlDraftRequest,
    DdlPreview,
    DdlResult,
    KindOut,
    MappingSuggestion,
    MappingSuggestRequest,
    NameList,
)
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.models import Application, ApplicationUser, AuditLog
from airflow_provider_tagoffline.errors import FieldError, ValidationFailed
from airflow_provider_tagoffline.service import permissions

router = APIRouter(tags=["helpers"])

TableName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f/]+$")]


class Me(BaseModel):
    username: str
    is_admin: bool
    admin_of: list[str]
    member_of: list[str]
    can_create_services: bool
    can_administer_catalog: bool = Field(description="applications, entities, tags, lookups, grants and target "
                                                     "grants: the caller may change them")
    applications: list[str] = Field(description="the applications the caller may create services in and "
                                                "request grants for")


@router.get("/me", response_model=Me, dependencies=[requires_authenticated()],
            summary="The calling user as the plugin sees them")
def me(session: SessionDep, actor: ActorDep) -> Me:
    rows = session.execute(select(ApplicationUser.role, Application.code).join(Application)
                           .where(ApplicationUser.username == actor.username)).all()
    admin_of = sorted(code for role, code in rows if role == "admin")
    member_of = sorted(code for role, code in rows if role == "member")
    return Me(username=actor.username, is_admin=actor.is_admin, admin_of=admin_of, member_of=member_of,
              can_create_services=permissions.may_create_services(session, actor),
              can_administer_catalog=permissions.may_administer_catalog(actor),
              applications=permissions.service_applications(session, actor))


# ---- connections -----------------------------------------------------------------------------


@router.get("/kinds", response_model=list[KindOut], dependencies=[requires_authenticated()],
            summary="Target kinds (the registry of database families) and what a form needs of each")
def list_kinds(actor: ActorDep) -> list[KindOut]:
    return introspection.kinds()


@router.get("/connections", response_model=list[ConnectionOut], dependencies=[requires_authenticated()],
            summary="Connections of supported target kinds the caller may use (no secrets)")
def list_connections(
    session: SessionDep,
    actor: ActorDep,
    application: Annotated[str | None, Query(min_length=1, max_length=64,
                                             description="only the connections granted to this application "
                                                         "(its admins and members, and Airflow admins)")] = None,
) -> list[ConnectionOut]:
    visible = permissions.visible_connections(session, actor, application)
    if visible is None:
        return introspection.list_connections()
    return [c.model_copy(update={"granted_schemas": list(scope.schemas) if scope.schemas is not None else None})
            for c in introspection.list_connections() if (scope := visible.get(c.conn_id)) is not None]


def _require_inside(session: SessionDep, actor: repo.Actor, conn_id: str, schema: str | None) -> None:
    """403 unless ``actor`` may look inside ``conn_id`` and into ``schema`` (or the default one):
    for a connection named in a body (same-name mapping)."""
    permissions.require_inside(session, actor, conn_id, lambda: places.schema_on(conn_id, schema))


@router.get("/connections/{conn_id}/schemas", response_model=NameList,
            summary="Schemas of a connection (the granted ones)")
def connection_schemas(conn_id: ConnId, actor: ActorDep,
                       scope: Annotated[permissions.SchemaScope, requires_inside(check_schema=False)]) -> NameList:
    items = introspection.schemas(conn_id)
    where = places.schema_on(conn_id, None)
    if where is not None:
        items = scope.visible(where[0], items)
    return NameList(conn_id=conn_id, items=items)


@router.get("/connections/{conn_id}/tables", response_model=NameList, dependencies=[requires_inside()],
            summary="Tables of a connection (in a schema, or the default one)")
def connection_tables(conn_id: ConnId, actor: ActorDep, schema: SchemaParam = None) -> NameList:
    return NameList(conn_id=conn_id, schema=schema, items=introspection.tables(conn_id, schema))


@router.get("/connections/{conn_id}/tables/{table}/columns", response_model=ColumnList,
            dependencies=[requires_inside()], summary="Columns of a table")
def connection_columns(conn_id: ConnId, table: TableName, actor: ActorDep, schema: SchemaParam = None) -> ColumnList:
    return ColumnList(conn_id=conn_id, schema=schema, table=table,
                      items=introspection.columns(conn_id, schema, table))


# ---- same-name mapping, one-click create table for a draft ----------------------------------

@router.post("/helpers/same-name-mapping", response_model=MappingSuggestion,
             dependencies=[requires_right_on_body(permissions.require_inside, "with conn_id in the body: access to "
                                                  "the connection and schema; with columns: any authenticated user")],
             summary="Map tags to the target table's columns by name")
def same_name_mapping(body: MappingSuggestRequest, session: SessionDep, actor: ActorDep) -> MappingSuggestion:
    tags = mapping.candidate_tags(session, body.application, body.entity, body.entity_id)
    if body.columns is not None:
        columns = body.columns
    elif body.conn_id and body.table:
        _require_inside(session, actor, body.conn_id, body.schema_)
        if not introspection.has_table(body.conn_id, body.schema_, body.table):
            where = f"{body.schema_}.{body.table}" if body.schema_ else body.table
            raise ValidationFailed.one("table", f"table {where!r} does not exist yet on {body.conn_id!r}: create it "
                                                "(one-click create table), then map its columns by name")
        columns = [c.name for c in introspection.columns(body.conn_id, body.schema_, body.table)]
    else:
        raise ValidationFailed([FieldError("columns", "give the target's columns, or conn_id and table"),
                                FieldError("table", "give conn_id and table, or the columns")])
    return mapping.suggest(tags, columns, body.entity_id)


@router.post("/helpers/ddl/preview", response_model=DdlPreview,
             dependencies=[requires_right_on_body(permissions.require_draft_table_preview, "admin or member of the "
                                                  "draft's application, with access to its connection")],
             summary="CREATE TABLE for a service draft (not saved yet)")
def draft_ddl_preview(body: DdlDraftRequest, session: SessionDep, actor: ActorDep) -> DdlPreview:
    permissions.require_draft_table_preview(session, actor, body.service)
    return ddl_helpers.preview(session, actor, body.service)


@router.post("/helpers/ddl/execute", response_model=DdlResult,
             dependencies=[requires_right_on_body(permissions.require_draft_table_creation, "may create the draft "
                                                  "(its application's admin, or member as owner), with access to "
                                                  "its connection")],
             summary="Execute the (possibly edited) CREATE TABLE of a draft on its target")
def draft_ddl_execute(body: DdlDraftExecuteRequest, session: SessionDep, actor: ActorDep) -> DdlResult:
    permissions.require_draft_table_creation(session, actor, body.service)
    return ddl_helpers.execute(session, actor, body.service, body.statements)


# ---- audit log -------------------------------------------------------------------------------

@router.get("/audit", response_model=list[AuditEntry], dependencies=[requires_authenticated()],
            summary="The audit log, newest first")
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
    return [audit_entry(r, actor) for r in session.scalars(q)]
