"""``/catalog``: applications, entities with their IDs and tags, lookups, grants, target grants.

Everyone authenticated reads. Airflow admins write (through ``catalog/apply.py``, the code of
``tagoffline catalog apply``, so a PUT is an idempotent upsert and never deletes what it does not
name), decide grants and grant connections to applications (target grants). Admins and members of
an application request grants for it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.api.auth import ActorDep
from airflow_provider_tagoffline.api.deps import SessionDep
from airflow_provider_tagoffline.api.schemas import (
    ApplicationOut,
    EntityIdOut,
    EntityOut,
    GrantOut,
    GrantRequest,
    LookupOut,
    PlanItemOut,
    PlanOut,
    TagOut,
    TargetGrantOut,
)
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.apply import Plan, apply_catalog, export_catalog
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
from airflow_provider_tagoffline.service.permissions import require_admin

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


def _apply(session: Session, actor: repo.Actor, catalog: CatalogDef, what: str) -> None:
    require_admin(actor, what)
    apply_catalog(session, actor, catalog)
    session.expire_all()


def _same_code(path_code: str, body_code: str, field: str = "code") -> None:
    if path_code != body_code:
        raise ValidationFailed.one(field, f"{body_code!r} does not match {path_code!r} in the URL")


# ---- whole catalog ---------------------------------------------------------------------------

@router.get("", response_model=CatalogDef, summary="The whole catalog, as `tagoffline catalog export` writes it")
def export(session: SessionDep, actor: ActorDep) -> CatalogDef:
    return export_catalog(session)


@router.post("/apply", response_model=PlanOut, summary="Apply a catalog file (idempotent; admins only)")
def apply(body: CatalogDef, session: SessionDep, actor: ActorDep,
          dry_run: Annotated[bool, Query(description="compute the plan, write nothing")] = False) -> PlanOut:
    require_admin(actor, "apply the catalog")
    plan = apply_catalog(session, actor, body, dry_run=dry_run)
    return plan_out(plan, dry_run)


# ---- applications ----------------------------------------------------------------------------

@router.get("/applications", response_model=list[ApplicationOut])
def list_applications(session: SessionDep, actor: ActorDep) -> list[ApplicationOut]:
    return [application_out(a) for a in repo.list_applications(session)]


@router.get("/applications/{code}", response_model=ApplicationOut)
def get_application(code: Code, session: SessionDep, actor: ActorDep) -> ApplicationOut:
    return application_out(repo.get_application(session, code))


@router.put("/applications/{code}", response_model=ApplicationOut, summary="Create or update (admins only)")
def put_application(code: Code, body: ApplicationDef, session: SessionDep, actor: ActorDep) -> ApplicationOut:
    require_admin(actor, "manage applications")
    _same_code(code, body.code)
    _apply(session, actor, CatalogDef(applications=[body]), "manage applications")
    return application_out(repo.get_application(session, code))


@router.delete("/applications/{code}", status_code=204, response_class=Response,
               summary="Delete (admins only; refused while it has services)")
def delete_application(code: Code, session: SessionDep, actor: ActorDep) -> Response:
    repo.delete_application(session, actor, code)
    return Response(status_code=204)


# ---- entities, entity IDs, tags --------------------------------------------------------------

@router.get("/entities", response_model=list[EntityOut])
def list_entities(session: SessionDep, actor: ActorDep) -> list[EntityOut]:
    return [entity_out(e) for e in repo.list_entities(session)]


@router.get("/entities/{code}", response_model=EntityOut)
def get_entity(code: Code, session: SessionDep, actor: ActorDep) -> EntityOut:
    return entity_out(repo.get_entity(session, code))


@router.put("/entities/{code}", response_model=EntityOut,
            summary="Create or update with its IDs and tags (admins only; never deletes)")
def put_entity(code: Code, body: EntityDef, session: SessionDep, actor: ActorDep) -> EntityOut:
    require_admin(actor, "manage entities")
    _same_code(code, body.code)
    _apply(session, actor, CatalogDef(entities=[body]), "manage entities")
    return entity_out(repo.get_entity(session, code))


@router.delete("/entities/{code}", status_code=204, response_class=Response,
               summary="Delete (admins only; refused while it has IDs or tags)")
def delete_entity(code: Code, session: SessionDep, actor: ActorDep) -> Response:
    repo.delete_entity(session, actor, code)
    return Response(status_code=204)


def _entity_shell(e: Entity, **parts: list) -> EntityDef:
    """The stored entity with only the given IDs / tags (apply adds and updates, never deletes)."""
    ids = parts.get("ids") or [EntityIdDef(code=i.code, name=i.name, type=i.value_type) for i in e.ids[:1]]
    return EntityDef(code=e.code, name=e.name, description=e.description, ids=ids, tags=parts.get("tags", []))


@router.put("/entities/{code}/ids/{id_code}", response_model=EntityIdOut,
            summary="Create or update an entity ID (admins only)")
def put_entity_id(code: Code, id_code: Code, body: EntityIdDef, session: SessionDep, actor: ActorDep) -> EntityIdOut:
    require_admin(actor, "manage entity IDs")
    _same_code(id_code, body.code)
    entity = repo.get_entity(session, code)
    _apply(session, actor, CatalogDef(entities=[_entity_shell(entity, ids=[body])]), "manage entity IDs")
    eid = repo.find_entity_id(session, repo.get_entity(session, code), id_code)
    assert eid is not None
    return EntityIdOut(code=eid.code, name=eid.name, type=eid.value_type)


@router.delete("/entities/{code}/ids/{id_code}", status_code=204, response_class=Response,
               summary="Delete an entity ID (admins only; refused while tags or services use it)")
def delete_entity_id(code: Code, id_code: Code, session: SessionDep, actor: ActorDep) -> Response:
    repo.delete_entity_id(session, actor, code, id_code)
    return Response(status_code=204)


@router.get("/entities/{code}/tags", response_model=list[TagOut])
def list_tags(code: Code, session: SessionDep, actor: ActorDep) -> list[TagOut]:
    return [tag_out(t) for t in repo.get_entity(session, code).tags]


@router.get("/entities/{code}/tags/{tag}", response_model=TagOut)
def get_tag(code: Code, tag: Code, session: SessionDep, actor: ActorDep) -> TagOut:
    return tag_out(repo.get_tag(session, code, tag))


@router.put("/entities/{code}/tags/{tag}", response_model=TagOut, summary="Create or update a tag (admins only)")
def put_tag(code: Code, tag: Code, body: TagDef, session: SessionDep, actor: ActorDep) -> TagOut:
    require_admin(actor, "manage tags")
    _same_code(tag, body.code)
    entity = repo.get_entity(session, code)
    _apply(session, actor, CatalogDef(entities=[_entity_shell(entity, tags=[body])]), "manage tags")
    return tag_out(repo.get_tag(session, code, tag))


@router.delete("/entities/{code}/tags/{tag}", status_code=204, response_class=Response,
               summary="Delete a tag (admins only; refused while services use it)")
def delete_tag(code: Code, tag: Code, session: SessionDep, actor: ActorDep) -> Response:
    repo.delete_tag(session, actor, code, tag)
    return Response(status_code=204)


# ---- lookups ---------------------------------------------------------------------------------

@router.get("/lookups", response_model=list[LookupOut])
def list_lookups(session: SessionDep, actor: ActorDep) -> list[LookupOut]:
    return [lookup_out(lk) for lk in repo.list_lookups(session)]


@router.get("/lookups/{code}", response_model=LookupOut)
def get_lookup(code: Code, session: SessionDep, actor: ActorDep) -> LookupOut:
    return lookup_out(repo.get_lookup(session, code))


@router.put("/lookups/{code}", response_model=LookupOut, summary="Create or update (admins only)")
def put_lookup(code: Code, body: LookupDef, session: SessionDep, actor: ActorDep) -> LookupOut:
    require_admin(actor, "manage lookups")
    _same_code(code, body.code)
    _apply(session, actor, CatalogDef(lookups=[body]), "manage lookups")
    return lookup_out(repo.get_lookup(session, code))


@router.delete("/lookups/{code}", status_code=204, response_class=Response,
               summary="Delete (admins only; refused while tags use it)")
def delete_lookup(code: Code, session: SessionDep, actor: ActorDep) -> Response:
    repo.delete_lookup(session, actor, code)
    return Response(status_code=204)


# ---- grants ----------------------------------------------------------------------------------

@router.get("/grants", response_model=list[GrantOut])
def list_grants(
    session: SessionDep,
    actor: ActorDep,
    application: Annotated[str | None, Query(max_length=64)] = None,
    state: Literal["requested", "approved", "rejected", "revoked"] | None = None,
) -> list[GrantOut]:
    return [grant_out(g) for g in repo.list_grants(session, application=application or None, state=state)]


@router.post("/grants", status_code=201, response_model=GrantOut,
             summary="Request a grant of a tag to an application (its admins and members)")
def request_grant(body: GrantRequest, session: SessionDep, actor: ActorDep) -> GrantOut:
    grant = repo.request_grant(session, actor, body.application, body.entity, body.tag, body.expires, body.reason)
    return grant_out(grant)


@router.post("/grants/{application}/{entity}/{tag}/{decision}", response_model=GrantOut,
             summary="Approve or reject a requested grant, or revoke an approved one (admins only)")
def decide_grant(application: Code, entity: Code, tag: Code,
                 decision: Literal["approve", "reject", "revoke"], session: SessionDep, actor: ActorDep) -> GrantOut:
    require_admin(actor, f"{decision} grants")
    return grant_out(repo.decide_grant(session, actor, application, entity, tag, decision))


# ---- target grants ---------------------------------------------------------------------------

@router.get("/target-grants", response_model=list[TargetGrantOut],
            summary="Which application may write which connection (and schemas)")
def list_target_grants(
    session: SessionDep,
    actor: ActorDep,
    application: Annotated[str | None, Query(max_length=64)] = None,
    conn_id: Annotated[str | None, Query(max_length=250)] = None,
) -> list[TargetGrantOut]:
    return [target_grant_out(g) for g in repo.list_target_grants(session, application or None, conn_id or None)]


@router.put("/target-grants/{application}/{conn_id}", response_model=TargetGrantOut,
            summary="Grant a connection to an application, or change its schemas (admins only)")
def put_target_grant(application: Code, conn_id: ConnId, body: TargetGrantDef, session: SessionDep,
                     actor: ActorDep) -> TargetGrantOut:
    require_admin(actor, "grant connections")
    _same_code(application, body.application, "application")
    _same_code(conn_id, body.conn_id, "conn_id")
    _apply(session, actor, CatalogDef(target_grants=[body]), "grant connections")
    return target_grant_out(repo.get_target_grant(session, application, conn_id))


@router.delete("/target-grants/{application}/{conn_id}", status_code=204, response_class=Response,
               summary="Withdraw a target grant (admins only; refused while services of the application "
                       "target the connection)")
def delete_target_grant(application: Code, conn_id: ConnId, session: SessionDep, actor: ActorDep) -> Response:
    repo.delete_target_grant(session, actor, application, conn_id)
    return Response(status_code=204)
