"""``/catalog``: applications, entities with their IDs and tags, lookups, grants, target grants.

Everyone authenticated reads. Airflow admins write (through ``catalog/apply.py``, the code of
``tagoffline catalog apply``, so a PUT is an idempotent upsert and never deletes what it does not
name), decide grants and grant connections to applications (target grants). Admins and members of
an application request grants for it. Each writing route names what it needs (``api/access.py``);
``service/permissions.py`` decides.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.api.access import requires_admin, requires_authenticated, requires_right_on_body
from airflow_provider_tagoffline.api.auth import ActorDep
from airflow_provider_tagoffline.api.deps import SessionDep
from airflow_provider_tagoffline.api.schemas import (
    AffectedOut,
    ApplicationOut,
    EntityIdOut,
    EntityOut,
    GrantDecision,
    GrantOut,
    GrantRequest,
    LookupOut,
    PlanItemOut,
    PlanOut,
    TagOut,
    TargetGrantOut,
)
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.apply import Plan, export_catalog
from airflow_provider_tagoffline.catalog.apply import _source_of as source_of
from airflow_provider_tagoffline.catalog.models import Application, Entity, Grant, Lookup, Tag, TargetGrant
from airflow_provider_tagoffline.catalog.schemas import (
    CODE_RE,
    CONN_ID_RE,
    ApplicationDef,
    CatalogDef,
    EntityDef,
    EntityIdDef,
    LookupDef,
    SourceDef,
    TagDef,
    TargetGrantDef,
)
from airflow_provider_tagoffline.errors import ValidationFailed
from airflow_provider_tagoffline.service import attention, catalog_admin, permissions
from airflow_provider_tagoffline.service.catalog_admin import apply_catalog

router = APIRouter(prefix="/catalog", tags=["catalog"])

Code = Annotated[str, Path(min_length=1, max_length=64, pattern=CODE_RE.pattern)]
ConnId = Annotated[str, Path(min_length=1, max_length=250, pattern=CONN_ID_RE.pattern,
                              description="an Airflow connection id")]


# ---- shapes ----------------------------------------------------------------------------------

def application_out(a: Application) -> ApplicationOut:
    return ApplicationOut(code=a.code, name=a.name, description=a.description,
                          admins=a.usernames("admin"), members=a.usernames("member"))


def tag_out(t: Tag) -> TagOut:
    return TagOut(entity=t.entity.code, code=t.code, name=t.name, type=t.value_type, id=t.key.code,
                  description=t.description, lookup=t.lookup.code if t.lookup else None,
                  source=SourceDef.model_validate(source_of(t)))


def entity_out(e: Entity) -> EntityOut:
    return EntityOut(code=e.code, name=e.name, description=e.description,
                     ids=[EntityIdOut(code=i.code, name=i.name, type=i.value_type) for i in e.ids],
                     tags=[tag_out(t) for t in e.tags])


def lookup_out(lk: Lookup) -> LookupOut:
    return LookupOut(code=lk.code, name=lk.name, kind=lk.kind,
                     values={v.code: v.name for v in lk.values} if lk.kind == "inline" else None,
                     table=lk.source_table, code_column=lk.code_column, name_column=lk.name_column)


def grant_out(g: Grant) -> GrantOut:
    return GrantOut(application=g.application.code, entity=g.tag.entity.code, tag=g.tag.code, state=g.state,
                    expires=g.expires, reason=g.reason or "", requested_by=g.requested_by,
                    requested_at=g.requested_at, decided_by=g.decided_by, decided_at=g.decided_at)


def target_grant_out(g: TargetGrant) -> TargetGrantOut:
    return TargetGrantOut(application=g.application.code, conn_id=g.conn_id, schemas=g.schemas,
                          granted_by=g.granted_by, granted_at=g.granted_at)


def plan_out(plan: Plan, dry_run: bool) -> PlanOut:
    return PlanOut(dry_run=dry_run, changed=plan.changed, summary=plan.summary(),
                   items=[PlanItemOut(**i.to_dict()) for i in plan.items])


def _apply(session: Session, actor: repo.Actor, catalog: CatalogDef) -> None:
    apply_catalog(session, actor, catalog)
    session.expire_all()


def _same_code(path_code: str, body_code: str, field: str = "code") -> None:
    if path_code != body_code:
        raise ValidationFailed.one(field, f"{body_code!r} does not match {path_code!r} in the URL")


# ---- whole catalog ---------------------------------------------------------------------------

@router.get("", response_model=CatalogDef, dependencies=[requires_authenticated()],
            summary="The whole catalog, as `tagoffline catalog export` writes it")
def export(session: SessionDep, actor: ActorDep) -> CatalogDef:
    return export_catalog(session)


@router.post("/apply", response_model=PlanOut, dependencies=[requires_admin("apply the catalog")],
             summary="Apply a catalog file (idempotent; admins only)")
def apply(body: CatalogDef, session: SessionDep, actor: ActorDep,
          dry_run: Annotated[bool, Query(description="compute the plan, write nothing")] = False) -> PlanOut:
    if not dry_run:
        return plan_out(apply_catalog(session, actor, body), False)
    # applied for real and rolled back: which published services each change would affect
    plan, affects, clears = attention.catalog_impact(session, lambda: apply_catalog(session, actor, body))
    return PlanOut(dry_run=True, changed=plan.changed, summary=plan.summary(), items=[
        PlanItemOut(**i.to_dict(), affects=[AffectedOut(**a) for a in attention.impact_of(i.kind, i.key, affects)],
                    clears=[AffectedOut(**a) for a in attention.impact_of(i.kind, i.key, clears)])
        for i in plan.items])


# ---- applications, entities, lookups: objects addressed by their code alone -----------------------

@dataclass(frozen=True)
class _ByCode:
    """One kind of catalog object addressed by its code alone, served by the same four routes:
    list, read, create or update (an apply of just this object), delete (the repository's guard)."""

    plural: str  # the URL segment, and the field of CatalogDef
    singular: str  # names the routes (list_applications, get_application, ...)
    definition: type[ApplicationDef | EntityDef | LookupDef]
    out_model: type[BaseModel]
    out: Callable[[Any], BaseModel]
    listing: Callable[[Session], Sequence[Any]]
    get: Callable[[Session, str], Any]
    delete: Callable[[Session, repo.Actor, str], None]
    put_summary: str
    delete_summary: str


def _typed(endpoint: Callable[..., Any], **annotations: Any) -> Callable[..., Any]:
    """``endpoint`` with the parameters and types FastAPI reads (they differ per kind): those of
    its signature, ``**keys`` replaced by the path's parameters."""
    sig = inspect.signature(endpoint)
    params = [p.replace(annotation=annotations.get(p.name, p.annotation)) for p in sig.parameters.values()
              if p.kind != p.VAR_KEYWORD]
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotations[name])
               for name in annotations if name not in sig.parameters]
    endpoint.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    return endpoint


def _add_delete(path: str, name: str, summary: str, what: str, delete: Callable[..., None], **keys: Any) -> None:
    """``DELETE path``: admins only (``what``: "delete tags"), the repository's guarded delete (409
    naming what still uses the object), 204. ``keys``: the path's parameters and their types, in
    the order ``delete`` takes them."""
    def endpoint(session: Session, actor: repo.Actor, **values: str) -> Response:
        delete(session, actor, *(values[k] for k in keys))
        return Response(status_code=204)

    router.add_api_route(path, _typed(endpoint, session=SessionDep, actor=ActorDep, **keys), methods=["DELETE"],
                         name=name, status_code=204, response_class=Response, summary=summary,
                         dependencies=[requires_admin(what)])


def _add_routes(kind: _ByCode) -> None:
    one = f"/{kind.plural}/{{code}}"

    def listing(session: Session, actor: repo.Actor) -> list[BaseModel]:
        return [kind.out(o) for o in kind.listing(session)]

    def get(code: str, session: Session, actor: repo.Actor) -> BaseModel:
        return kind.out(kind.get(session, code))

    def put(code: str, body: Any, session: Session, actor: repo.Actor) -> BaseModel:
        _same_code(code, body.code)
        _apply(session, actor, CatalogDef(**{kind.plural: [body]}))
        return kind.out(kind.get(session, code))

    deps = {"session": SessionDep, "actor": ActorDep}
    router.add_api_route(f"/{kind.plural}", _typed(listing, **deps), methods=["GET"], name=f"list_{kind.plural}",
                         response_model=list[kind.out_model],  # type: ignore[name-defined]
                         dependencies=[requires_authenticated()])
    router.add_api_route(one, _typed(get, **deps, code=Code), methods=["GET"], name=f"get_{kind.singular}",
                         response_model=kind.out_model, dependencies=[requires_authenticated()])
    router.add_api_route(one, _typed(put, **deps, code=Code, body=kind.definition), methods=["PUT"],
                         name=f"put_{kind.singular}", response_model=kind.out_model, summary=kind.put_summary,
                         dependencies=[requires_admin(f"manage {kind.plural}")])
    _add_delete(one, f"delete_{kind.singular}", kind.delete_summary, f"delete {kind.plural}", kind.delete, code=Code)


_add_routes(_ByCode("applications", "application", ApplicationDef, ApplicationOut, application_out,
                    repo.list_applications, repo.get_application, catalog_admin.delete_application,
                    "Create or update (admins only)", "Delete (admins only; refused while it has services)"))
_add_routes(_ByCode("entities", "entity", EntityDef, EntityOut, entity_out, repo.list_entities, repo.get_entity,
                    catalog_admin.delete_entity, "Create or update with its IDs and tags (admins only; never deletes)",
                    "Delete (admins only; refused while it has IDs or tags)"))
_add_routes(_ByCode("lookups", "lookup", LookupDef, LookupOut, lookup_out, repo.list_lookups, repo.get_lookup,
                    catalog_admin.delete_lookup, "Create or update (admins only)",
                    "Delete (admins only; refused while tags use it)"))


# ---- entity IDs and tags ---------------------------------------------------------------------

def _entity_shell(e: Entity, **parts: list) -> EntityDef:
    """The stored entity with only the given IDs / tags (apply adds and updates, never deletes)."""
    ids = parts.get("ids") or [EntityIdDef(code=i.code, name=i.name, type=i.value_type) for i in e.ids[:1]]
    return EntityDef(code=e.code, name=e.name, description=e.description, ids=ids, tags=parts.get("tags", []))


@router.put("/entities/{code}/ids/{id_code}", response_model=EntityIdOut,
            dependencies=[requires_admin("manage entity IDs")], summary="Create or update an entity ID (admins only)")
def put_entity_id(code: Code, id_code: Code, body: EntityIdDef, session: SessionDep, actor: ActorDep) -> EntityIdOut:
    _same_code(id_code, body.code)
    _apply(session, actor, CatalogDef(entities=[_entity_shell(repo.get_entity(session, code), ids=[body])]))
    eid = repo.find_entity_id(session, repo.get_entity(session, code), id_code)
    assert eid is not None
    return EntityIdOut(code=eid.code, name=eid.name, type=eid.value_type)


_add_delete("/entities/{code}/ids/{id_code}", "delete_entity_id",
            "Delete an entity ID (admins only; refused while tags or services use it)", "delete entity IDs",
            catalog_admin.delete_entity_id, code=Code, id_code=Code)


@router.get("/entities/{code}/tags", response_model=list[TagOut], dependencies=[requires_authenticated()])
def list_tags(code: Code, session: SessionDep, actor: ActorDep) -> list[TagOut]:
    return [tag_out(t) for t in repo.get_entity(session, code).tags]


@router.get("/entities/{code}/tags/{tag}", response_model=TagOut, dependencies=[requires_authenticated()])
def get_tag(code: Code, tag: Code, session: SessionDep, actor: ActorDep) -> TagOut:
    return tag_out(repo.get_tag(session, code, tag))


@router.put("/entities/{code}/tags/{tag}", response_model=TagOut, dependencies=[requires_admin("manage tags")],
            summary="Create or update a tag (admins only)")
def put_tag(code: Code, tag: Code, body: TagDef, session: SessionDep, actor: ActorDep) -> TagOut:
    _same_code(tag, body.code)
    _apply(session, actor, CatalogDef(entities=[_entity_shell(repo.get_entity(session, code), tags=[body])]))
    return tag_out(repo.get_tag(session, code, tag))


_add_delete("/entities/{code}/tags/{tag}", "delete_tag", "Delete a tag (admins only; refused while services use it)",
            "delete tags", catalog_admin.delete_tag, code=Code, tag=Code)


# ---- grants ----------------------------------------------------------------------------------

@router.get("/grants", response_model=list[GrantOut], dependencies=[requires_authenticated()])
def list_grants(
    session: SessionDep,
    actor: ActorDep,
    application: Annotated[str | None, Query(max_length=64)] = None,
    state: Literal["requested", "approved", "rejected", "revoked"] | None = None,
) -> list[GrantOut]:
    return [grant_out(g) for g in repo.list_grants(session, application=application or None, state=state)]


@router.post("/grants", status_code=201, response_model=GrantOut,
             dependencies=[requires_right_on_body(permissions.require_application_user,
                                                  "admin or member of the body's application")],
             summary="Request a grant of a tag to an application (its admins and members)")
def request_grant(body: GrantRequest, session: SessionDep, actor: ActorDep) -> GrantOut:
    # who may ask depends on the body's application: the service layer asks permissions
    grant = catalog_admin.request_grant(session, actor, body.application, body.entity, body.tag, body.expires,
                                        body.reason)
    return grant_out(grant)


@router.post("/grants/{application}/{entity}/{tag}/{decision}", response_model=GrantOut,
             dependencies=[requires_admin("decide grants")],
             summary="Approve or reject a requested grant, or revoke an approved one (admins only)")
def decide_grant(application: Code, entity: Code, tag: Code,
                 decision: Literal["approve", "reject", "revoke"], session: SessionDep, actor: ActorDep,
                 body: GrantDecision | None = None) -> GrantOut:
    reason = body.reason if body is not None else ""
    return grant_out(catalog_admin.decide_grant(session, actor, application, entity, tag, decision, reason))


# ---- target grants ---------------------------------------------------------------------------

@router.get("/target-grants", response_model=list[TargetGrantOut], dependencies=[requires_authenticated()],
            summary="Which application may write which connection (and schemas)")
def list_target_grants(
    session: SessionDep,
    actor: ActorDep,
    application: Annotated[str | None, Query(max_length=64)] = None,
    conn_id: Annotated[str | None, Query(max_length=250)] = None,
) -> list[TargetGrantOut]:
    return [target_grant_out(g) for g in repo.list_target_grants(session, application or None, conn_id or None)]


@router.put("/target-grants/{application}/{conn_id}", response_model=TargetGrantOut,
            dependencies=[requires_admin("grant connections")],
            summary="Grant a connection to an application, or change its schemas (admins only)")
def put_target_grant(application: Code, conn_id: ConnId, body: TargetGrantDef, session: SessionDep,
                     actor: ActorDep) -> TargetGrantOut:
    _same_code(application, body.application, "application")
    _same_code(conn_id, body.conn_id, "conn_id")
    _apply(session, actor, CatalogDef(target_grants=[body]))
    return target_grant_out(repo.get_target_grant(session, application, conn_id))


_add_delete("/target-grants/{application}/{conn_id}", "delete_target_grant",
            "Withdraw a target grant (admins only; refused while services of the application target the connection)",
            "delete target grants", catalog_admin.delete_target_grant, application=Code, conn_id=ConnId)
