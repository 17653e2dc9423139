"""Service lifecycle in the catalog store: create, update, delete, list, show, freeze.

Publishing into Airflow (rendering, status from Airflow) builds on this in ``rendering/``.
Updates use optimistic concurrency: a caller passes the version it edited, and an edit based on
an older version is refused (``Conflict``) so nothing is silently lost.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from airflow_provider_tagoffline import config
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.models import Application, Service, ServiceTag, iso_utc, utcnow
from airflow_provider_tagoffline.errors import Conflict, NotFound
from airflow_provider_tagoffline.runspec import RunSpec
from airflow_provider_tagoffline.service import attention, permissions, records, states, targets
from airflow_provider_tagoffline.service.definition import ServiceDef
from airflow_provider_tagoffline.service.freeze import freeze
from airflow_provider_tagoffline.service.validation import ValidatedService, parse_service, validate_service


@dataclass
class ServiceContext:
    """How to resolve things outside the store (overridable in tests)."""

    resolve_target_kind: Callable[[str], str] | None = None
    default_timezone: str | None = None
    warehouse_conn_id: str | None = None

    def timezone(self) -> str:
        return self.default_timezone or config.default_timezone()

    def warehouse(self) -> str:
        return self.warehouse_conn_id or config.warehouse_conn_id()


def slugify(name: str) -> str:
    """A stable ASCII slug for a service name (the DAG id is ``tag_offline__<slug>``)."""
    ascii_part = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_part = re.sub(r"[^a-z0-9_]+", "_", ascii_part.lower()).strip("_")
    if ascii_part == name.lower():
        return ascii_part
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{ascii_part}_{digest}" if ascii_part else f"svc_{digest}"


def get_service(session: Session, name: str) -> Service:
    svc = session.scalar(select(Service).where(Service.name == name)
                         .options(selectinload(Service.application).selectinload(Application.users)))
    if svc is None:
        raise NotFound("service", name)
    return svc


def _store_fields(svc: Service, v: ValidatedService) -> None:
    d = v.definition
    svc.application = v.application
    svc.owner, svc.entity_code, svc.entity_id_code = d.owner, d.entity, d.entity_id
    svc.schedule_type, svc.description = d.schedule.type, d.description
    svc.target_conn_id, svc.target_kind = d.target.conn_id, v.target_kind
    svc.target_schema, svc.target_table = d.target.schema_, d.target.table
    svc.tag_codes = ",".join(m.tag for m in d.mappings)
    svc.definition = d.model_dump(mode="json", by_alias=True)


def create_service(session: Session, actor: repo.Actor, data: Any, ctx: ServiceContext | None = None) -> Service:
    ctx = ctx or ServiceContext()
    d = parse_service(data)
    permissions.require_creator(session, actor, d, "create")
    v = validate_service(session, d, resolve_target_kind=ctx.resolve_target_kind, default_timezone=ctx.timezone())
    slug = slugify(v.definition.name)
    n = 1
    while session.scalar(select(Service.id).where(Service.slug == slug)) is not None:
        n += 1
        slug = f"{slugify(v.definition.name)}_{n}"
    svc = Service(name=v.definition.name, slug=slug, status=states.TaskStatus.EDITING,
                  execution_status=states.ExecutionStatus.NONE, version=1,
                  created_by=actor.username, updated_by=actor.username)
    _store_fields(svc, v)
    session.add(svc)
    session.flush()
    for tag in v.tags:
        session.add(ServiceTag(service_id=svc.id, tag_id=tag.id))
    targets.claim(session, svc, v.definition)  # the store's UNIQUE place decides a race
    repo.audit(session, actor, "create", "service", svc.name, {"version": 1})
    session.flush()
    return svc


def update_service(session: Session, actor: repo.Actor, name: str, data: Any,
                   expected_version: int | None = None, ctx: ServiceContext | None = None) -> Service:
    """Replace the draft definition. A published service keeps its live DAG until republished."""
    ctx = ctx or ServiceContext()
    svc = get_service(session, name)
    d = parse_service(data)
    permissions.require_edit(session, actor, svc, d)
    if expected_version is not None and expected_version != svc.version:
        raise Conflict(f"service {name!r} was changed by {svc.updated_by} (version {svc.version}); "
                       f"your edit is based on version {expected_version}: reload and edit again")
    v = validate_service(session, d, existing=svc, resolve_target_kind=ctx.resolve_target_kind,
                         default_timezone=ctx.timezone())
    targets.claim(session, svc, v.definition)  # moves the claim with the target; a held place: refused
    new_definition = v.definition.model_dump(mode="json", by_alias=True)
    if new_definition == svc.definition:
        return svc
    before = svc.definition
    # Conditional update: a concurrent edit that committed in between makes this match no row.
    result = session.execute(update(Service).where(Service.id == svc.id, Service.version == svc.version)
                             .values(version=svc.version + 1, updated_by=actor.username, updated_at=utcnow()))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"service {name!r} was changed concurrently; reload and edit again")
    session.refresh(svc)
    owner_was = svc.owner
    _store_fields(svc, v)
    if svc.owner != owner_was:
        records.sync_records(session, [svc])  # the owner may run it: the export task's access record follows
    svc.tags.clear()
    session.flush()
    for tag in v.tags:
        session.add(ServiceTag(service_id=svc.id, tag_id=tag.id))
    repo.audit(session, actor, "update", "service", svc.name,
               {"version": svc.version, "changes": definition_changes(before, new_definition)})
    session.flush()
    return svc


def definition_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each changed field of a definition, by its dotted path (``target.table``), before → after;
    lists (mappings, recipients) compare as a whole."""
    out: dict[str, dict[str, Any]] = {}

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in [*a, *(k for k in b if k not in a)]:
                walk(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        elif a != b:
            out[path] = {"before": a, "after": b}

    walk(before or {}, after or {}, "")
    return out


def apply_service(session: Session, actor: repo.Actor, data: Any,
                  ctx: ServiceContext | None = None) -> tuple[Service, str]:
    """Create or update from a service file; returns the service and created/updated/unchanged."""
    d = parse_service(data)
    existing = session.scalar(select(Service).where(Service.name == d.name))
    if existing is None:
        return create_service(session, actor, d, ctx), "created"
    before = existing.version
    svc = update_service(session, actor, d.name, d, ctx=ctx)
    return svc, "updated" if svc.version != before else "unchanged"


def delete_service(session: Session, actor: repo.Actor, name: str) -> None:
    svc = get_service(session, name)
    permissions.require_action(actor, svc, "delete")
    repo.audit(session, actor, "delete", "service", name, {"definition": svc.definition})
    session.delete(svc)
    session.flush()


def service_definition(svc: Service) -> ServiceDef:
    return ServiceDef.model_validate(svc.definition)


def freeze_service(session: Session, name: str, ctx: ServiceContext | None = None) -> RunSpec:
    """Re-validate the draft against today's catalog and freeze it into a RunSpec (data only: who
    may publish or preview is asked before)."""
    ctx = ctx or ServiceContext()
    svc = get_service(session, name)
    v = validate_service(session, svc.definition, existing=svc, resolve_target_kind=ctx.resolve_target_kind,
                         default_timezone=ctx.timezone())
    return freeze(v, slug=svc.slug, version=svc.version, warehouse_conn_id=ctx.warehouse())


def claim_target(session: Session, name: str) -> None:
    """Publishing holds the place it writes: a service of an old catalog without a claim takes its
    place here if it is free (validation refused it otherwise)."""
    svc = get_service(session, name)
    targets.claim(session, svc, service_definition(svc))


def draft_existing(session: Session, actor: repo.Actor, d: ServiceDef) -> Service | None:
    """The saved service an unsaved draft stands for: the one of its name, only when ``actor`` may
    manage it. Otherwise the draft is a new service (its name and place must then be free), so a
    draft named after another application's service learns and touches nothing of it."""
    svc = session.scalar(select(Service).where(Service.name == d.name)
                         .options(selectinload(Service.application).selectinload(Application.users)))
    return svc if svc is not None and permissions.can_manage(actor, svc) else None


@dataclass
class ServiceFilter:
    mine: str | None = None  # a username: services they own
    name: str | None = None  # substring
    application: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    target_kind: str | None = None
    status: str | None = None
    execution_status: str | None = None
    schedule_type: str | None = None


SORTABLE = {"name": Service.name, "updated_at": Service.updated_at, "created_at": Service.created_at,
            "status": Service.status, "owner": Service.owner}


def list_services(session: Session, flt: ServiceFilter | None = None, *, page: int = 1, page_size: int = 50,
                  sort: str = "name", descending: bool = False) -> tuple[list[Service], int]:
    """One page of services matching ``flt`` and the total count."""
    flt = flt or ServiceFilter()
    q = select(Service).join(Application)
    if flt.mine:
        q = q.where(Service.owner == flt.mine)
    if flt.name:
        escaped = flt.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        q = q.where(or_(Service.name.ilike(f"%{escaped}%", escape="\\"),
                        Service.description.ilike(f"%{escaped}%", escape="\\")))
    if flt.application:
        q = q.where(Application.code == flt.application)
    if flt.entity:
        q = q.where(Service.entity_code == flt.entity)
    if flt.entity_id:
        q = q.where(Service.entity_id_code == flt.entity_id)
    for column, value in ((Service.target_kind, flt.target_kind), (Service.status, flt.status),
                          (Service.execution_status, flt.execution_status),
                          (Service.schedule_type, flt.schedule_type)):
        if value:
            q = q.where(column == value)
    total = int(session.scalar(select(func.count()).select_from(q.subquery())) or 0)
    order = SORTABLE.get(sort, Service.name)
    q = q.order_by(order.desc() if descending else order, Service.id)
    q = q.options(selectinload(Service.application)).offset((max(page, 1) - 1) * page_size).limit(page_size)
    return list(session.scalars(q)), total


def service_summary(svc: Service, found: attention.Attention | None = None) -> dict[str, Any]:
    """The list row of spec §3, with whether the catalog changed under it (``found``: its attention
    when the caller read a page of them at once)."""
    # the name first: `service show` prints these keys in this order
    return {"name": svc.name, "owner": svc.owner, "application": svc.application.code,
        "entity": svc.entity_code, "entity_id": svc.entity_id_code, "status": svc.status,
        "execution_status": svc.execution_status, "tags": [t for t in svc.tag_codes.split(",") if t],
        "schedule_type": svc.schedule_type, "target_kind": svc.target_kind,
        "target": {"conn_id": svc.target_conn_id, "schema": svc.target_schema, "table": svc.target_table,
                   "full_name": ".".join(p for p in (svc.target_schema, svc.target_table) if p)},
        "version": svc.version, "published_version": svc.published_version,
        "updated_by": svc.updated_by, "updated_at": iso_utc(svc.updated_at),
        **attention.summary_fields(found if found is not None else attention.of(svc)),
    }
