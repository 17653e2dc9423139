"""``/services``: list, create, read, update, delete, publish, unpublish, run, backfill, instances,
DDL preview and execution, audit log.

Every rule is in ``service/`` (the same code as the CLI); this module maps HTTP onto it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy import select

from airflow_provider_tagoffline.api import ddl as ddl_helpers
from airflow_provider_tagoffline.api import server_paths
from airflow_provider_tagoffline.api.access import (
    ServiceName,
    requires_authenticated,
    requires_data_preview,
    requires_right_on_body,
    requires_service_action,
    requires_table_creation,
    requires_table_preview,
)
from airflow_provider_tagoffline.api.auth import ActorDep
from airflow_provider_tagoffline.api.deps import SessionDep
from airflow_provider_tagoffline.api.schemas import (
    AuditEntry,
    BackfillRequest,
    DdlExecuteRequest,
    DdlPreview,
    DdlResult,
    InstanceList,
    PreviewRequestBody,
    RunRequest,
    ServiceDetail,
    ServiceList,
    ServiceSummary,
    ServiceUpdate,
)
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.models import AuditLog, Service, iso_utc
from airflow_provider_tagoffline.dialects import TARGET_KINDS
from airflow_provider_tagoffline.engine.preview import Preview
from airflow_provider_tagoffline.errors import ValidationFailed
from airflow_provider_tagoffline.rendering.factory import dag_id_for
from airflow_provider_tagoffline.service import attention, lifecycle, permissions, publishing
from airflow_provider_tagoffline.service import preview as previews
from airflow_provider_tagoffline.service.definition import ServiceDef
from airflow_provider_tagoffline.service.lifecycle import ServiceFilter
from airflow_provider_tagoffline.service.publishing import ActionResult, BackfillPlan

router = APIRouter(prefix="/services", tags=["services"])

TaskStatusParam = Literal["editing", "publishing", "published", "publish_failed", "unpublishing", "offline",
                          "unpublish_failed"]
ExecutionStatusParam = Literal["none", "queued", "waiting_for_data", "running", "up_for_retry", "success", "failed"]
if TYPE_CHECKING:
    TargetKindParam = str
else:  # the registry's kinds as a Literal: listed in the OpenAPI schema, any other is a 422 naming them
    TargetKindParam = Literal[TARGET_KINDS]


# ---- shapes ----------------------------------------------------------------------------------

def _actions(actor: repo.Actor, svc: Service, found: attention.Attention) -> dict[str, object]:
    choices = permissions.service_actions(actor, svc, found)
    return {"actions": choices.allowed, "refusals": choices.refusals}


def _now(svc: Service) -> dict[str, object]:
    """What depends on the day: the default data date of a run (T-1 in the service's timezone)."""
    return {"default_data_date": publishing.yesterday(svc).isoformat()}


def _preview_right(actor: repo.Actor, svc: Service) -> dict[str, object]:
    """Preview is allowed in any state; only who may see the data matters (not one of ``actions``)."""
    return {"preview_refusal": permissions.data_preview_refusal(actor, svc)}


def summary(actor: repo.Actor, svc: Service, found: attention.Attention | None = None) -> ServiceSummary:
    found = found if found is not None else attention.of(svc)
    return ServiceSummary.model_validate({**lifecycle.service_summary(svc, found), **_actions(actor, svc, found),
                                          **_now(svc), **_preview_right(actor, svc)})


def _paths_for(actor: repo.Actor) -> bool:
    return permissions.may_see_server_paths(actor)


def _shown(actor: repo.Actor, text: str) -> str:
    return text if _paths_for(actor) else server_paths.hide_in_text(text)


def outcome(actor: repo.Actor, result: ActionResult) -> ActionResult:
    """An action's outcome as the caller may see it: the DAG file's path for Airflow admins only."""
    return result if _paths_for(actor) else server_paths.hide_fields(result, "message", "warning", drop=("dag_file",))


def detail(actor: repo.Actor, svc: Service) -> ServiceDetail:
    found = attention.of(svc)
    return ServiceDetail.model_validate({
        **lifecycle.service_summary(svc, found), **_actions(actor, svc, found), **_now(svc),
        **_preview_right(actor, svc),
        "slug": svc.slug, "dag_id": dag_id_for(svc.slug), "status_message": _shown(actor, svc.status_message),
        "description": svc.description, "created_by": svc.created_by,
        "created_at": iso_utc(svc.created_at),
        "definition": lifecycle.service_definition(svc),
        "airflow_pause": publishing.airflow_pause(svc),
    })


def _etag(svc: Service) -> str:
    return f'"{svc.version}"'


# ---- list / create / read / update / delete ---------------------------------------------------

@router.get("", response_model=ServiceList, dependencies=[requires_authenticated()],
            summary="List services with filters, paging and sorting")
def list_services(
    session: SessionDep,
    actor: ActorDep,
    mine: Annotated[bool, Query(description="only services the caller owns")] = False,
    name: Annotated[str | None, Query(max_length=200, description="name or description contains")] = None,
    application: Annotated[str | None, Query(max_length=64)] = None,
    entity: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    target_kind: TargetKindParam | None = None,
    status: TaskStatusParam | None = None,
    execution_status: ExecutionStatusParam | None = None,
    schedule_type: Literal["manual", "recurring"] | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    sort: Literal["name", "updated_at", "created_at", "status", "owner"] = "name",
    order: Literal["asc", "desc"] = "asc",
) -> ServiceList:
    flt = ServiceFilter(mine=actor.username if mine else None, name=name or None, application=application or None,
                        entity=entity or None, entity_id=entity_id or None, target_kind=target_kind,
                        status=status, execution_status=execution_status, schedule_type=schedule_type)
    publishing.refresh_pending(session)  # statuses in the filter and the rows are Airflow's, not stale
    rows, total = lifecycle.list_services(session, flt, page=page, page_size=page_size, sort=sort,
                                          descending=order == "desc")
    publishing.sync_execution_status(session, rows)
    found = attention.of_many(session, rows)  # the catalog read once for the page
    return ServiceList(total=total, page=page, page_size=page_size,
                       items=[summary(actor, r, found.get(r.id, attention.Attention())) for r in rows])


@router.post("", status_code=201, response_model=ServiceDetail, summary="Create a service (status editing)",
             dependencies=[requires_right_on_body(permissions.require_creator, "admin or member of the body's "
                                                  "application (members: as its owner)")])
def create_service(body: ServiceDef, session: SessionDep, actor: ActorDep, response: Response) -> ServiceDetail:
    # who may create it depends on the body: lifecycle asks permissions.require_creator
    svc = lifecycle.create_service(session, actor, body)
    response.headers["ETag"] = _etag(svc)
    response.headers["Location"] = f"services/{quote(svc.name)}"  # headers are latin-1: Chinese names quoted
    return detail(actor, svc)


@router.get("/{name}", response_model=ServiceDetail, dependencies=[requires_authenticated()],
            summary="The whole definition of a service, with its status")
def get_service(name: ServiceName, session: SessionDep, actor: ActorDep, response: Response) -> ServiceDetail:
    svc = lifecycle.get_service(session, name)
    publishing.refresh(session, svc)
    publishing.sync_execution_status(session, [svc])
    response.headers["ETag"] = _etag(svc)
    return detail(actor, svc)


def _version_from(body_version: int | None, if_match: str | None) -> int:
    if body_version is not None:
        return body_version
    if if_match:
        raw = if_match.strip()
        raw = raw[2:] if raw.startswith("W/") else raw
        try:
            return int(raw.strip('"'))
        except ValueError:
            raise ValidationFailed.one("If-Match", f"{if_match!r} is not a service version (e.g. \"3\")") from None
    raise ValidationFailed.one("version", "is required: send the version your edit is based on (from GET), "
                                          "or an If-Match header")


@router.put("/{name}", response_model=ServiceDetail, dependencies=[requires_service_action("edit")],
            summary="Replace the draft; 409 if the service changed since the given version")
def update_service(
    name: ServiceName,
    body: ServiceUpdate,
    session: SessionDep,
    actor: ActorDep,
    response: Response,
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=64)] = None,
) -> ServiceDetail:
    expected = _version_from(body.version, if_match)
    definition = ServiceDef.model_validate(body.model_dump(exclude={"version"}, by_alias=True))
    svc = lifecycle.update_service(session, actor, name, definition, expected_version=expected)
    response.headers["ETag"] = _etag(svc)
    return detail(actor, svc)


@router.delete("/{name}", status_code=204, response_class=Response, dependencies=[requires_service_action("delete")],
               summary="Delete (offline, publish_failed, or never published)")
def delete_service(name: ServiceName, session: SessionDep, actor: ActorDep) -> Response:
    publishing.delete(session, actor, name)
    return Response(status_code=204)


# ---- publishing and runs ---------------------------------------------------------------------

@router.post("/{name}/publish", status_code=202, response_model=ActionResult,
             dependencies=[requires_service_action("publish")],
             summary="Render the DAG; status publishing, then published or publish_failed")
def publish_service(name: ServiceName, session: SessionDep, actor: ActorDep) -> ActionResult:
    return outcome(actor, publishing.publish(session, actor, name))


@router.post("/{name}/unpublish", status_code=202, response_model=ActionResult,
             dependencies=[requires_service_action("unpublish")],
             summary="Pause and remove the DAG; status unpublishing, then offline")
def unpublish_service(name: ServiceName, session: SessionDep, actor: ActorDep) -> ActionResult:
    return outcome(actor, publishing.unpublish(session, actor, name))


@router.post("/{name}/run", status_code=202, response_model=ActionResult,
             dependencies=[requires_service_action("run")],
             summary="Run a published manual service for one data date (default T-1)")
def run_service(name: ServiceName, session: SessionDep, actor: ActorDep,
                body: RunRequest | None = None) -> ActionResult:
    b = body or RunRequest()
    return outcome(actor, publishing.run(session, actor, name, b.data_date, allow_older=b.allow_older))


@router.post("/{name}/backfill", status_code=202, response_model=ActionResult,
             dependencies=[requires_service_action("backfill")],
             summary="Backfill a published recurring service over a data-date range (default T-1)")
def backfill_service(name: ServiceName, session: SessionDep, actor: ActorDep,
                     body: BackfillRequest | None = None) -> ActionResult:
    b = body or BackfillRequest()
    return outcome(actor, publishing.backfill(session, actor, name, b.start, b.end, allow_older=b.allow_older))


@router.get("/{name}/backfill/plan", response_model=BackfillPlan, dependencies=[requires_authenticated()],
            summary="What a backfill would do, before it starts: runs, and what a whole-table target ends at")
def backfill_plan(
    name: ServiceName,
    session: SessionDep,
    actor: ActorDep,
    start: Annotated[dt.date | None, Query(description="first data date; default T-1")] = None,
    end: Annotated[dt.date | None, Query(description="last data date (inclusive); default start")] = None,
) -> BackfillPlan:
    return publishing.backfill_plan(session, name, start, end)


@router.get("/{name}/instances", response_model=InstanceList, dependencies=[requires_authenticated()],
            summary="Runs of the service's DAG: data date, state (Airflow's), start, end, duration, rows, why it "
                    "failed or what it waits for, log link")
def service_instances(
    name: ServiceName,
    session: SessionDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> InstanceList:
    items = publishing.instances(session, name, limit)
    if not _paths_for(actor):  # a failed run's first line may name a server file (a lock, a file target)
        items = [server_paths.hide_fields(i, "error", "waiting_for") for i in items]
    return InstanceList(service=name, dag_id=dag_id_for(lifecycle.get_service(session, name).slug), total=len(items),
                        items=items)


# ---- preview of a run ------------------------------------------------------------------------

@router.get("/{name}/preview", response_model=Preview, dependencies=[requires_data_preview()],
            summary="What a run for a data date would write and change: DDL diff with the live target, rows per "
                    "source, sample rows, rows added / removed / changed; writes nothing")
def preview_service(
    name: ServiceName,
    session: SessionDep,
    actor: ActorDep,
    data_date: Annotated[dt.date | None, Query(description="the data date; default T-1")] = None,
    sample: Annotated[int, Query(ge=0, le=previews.MAX_SAMPLE, description="rows of the sample")] =
        previews.DEFAULT_SAMPLE,
    allow_older: Annotated[bool, Query(description="preview the run as allow_older runs it: an older data date "
                                                   "on a whole-table target is not a failure")] = False,
) -> Preview:
    return previews.preview_service(session, actor, name, previews.PreviewRequest(data_date, sample, allow_older))


@router.post("/preview", response_model=Preview,
             dependencies=[requires_right_on_body(permissions.require_draft_data_preview, "admin or member of the "
                                                  "draft's application, with access to its connection")],
             summary="Preview a service definition as posted (the form before saving); nothing is stored")
def preview_draft(body: PreviewRequestBody, session: SessionDep, actor: ActorDep) -> Preview:
    return previews.preview_draft(session, actor, body.service, previews.PreviewRequest(body.data_date, body.sample))


# ---- one-click create table ------------------------------------------------------------------

@router.get("/{name}/ddl", response_model=DdlPreview, dependencies=[requires_table_preview()],
            summary="CREATE TABLE for the service's target and mappings")
def service_ddl(name: ServiceName, session: SessionDep, actor: ActorDep) -> DdlPreview:
    svc = lifecycle.get_service(session, name)
    return ddl_helpers.preview(session, actor, lifecycle.service_definition(svc), existing=svc)


@router.post("/{name}/ddl", response_model=DdlResult, dependencies=[requires_table_creation()],
             summary="Execute the (possibly edited) CREATE TABLE on the service's target")
def execute_service_ddl(name: ServiceName, session: SessionDep, actor: ActorDep,
                        body: DdlExecuteRequest | None = None) -> DdlResult:
    svc = lifecycle.get_service(session, name)
    return ddl_helpers.execute(session, actor, lifecycle.service_definition(svc),
                               (body or DdlExecuteRequest()).statements, existing=svc)


# ---- audit -----------------------------------------------------------------------------------

@router.get("/{name}/audit", response_model=list[AuditEntry], dependencies=[requires_authenticated()],
            summary="Who did what to the service (kept after deletion)")
def service_audit(name: ServiceName, session: SessionDep, actor: ActorDep,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditEntry]:
    rows = session.scalars(select(AuditLog).where(AuditLog.object_type == "service", AuditLog.object_key == name)
                           .order_by(AuditLog.id.desc()).limit(limit))
    out = [audit_entry(r, actor) for r in rows]
    if not out:
        lifecycle.get_service(session, name)  # 404 for a name that never existed
    return out


def audit_entry(r: AuditLog, reader: repo.Actor) -> AuditEntry:
    """One audit entry as ``reader`` may see it: a published DAG file's path for Airflow admins only."""
    detail = r.detail
    if not _paths_for(reader) and isinstance(detail, dict):
        detail = server_paths.hide({k: v for k, v in detail.items() if k != "dag_file"})
    return AuditEntry(at=iso_utc(r.at) or "", actor=r.actor, action=r.action, object_type=r.object_type,
                      object_key=r.object_key, detail=detail)
