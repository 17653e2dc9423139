"""Reads and guarded writes of catalog objects: data only. Who may write is the service layer's
to ask first (``service/catalog_admin.py`` asks ``service/permissions.py``); this module imports
nothing from ``service/``.

Writes record who did what in the audit log. Deletes refuse while something still uses the
object (spec §2) and say what uses it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from airflow_provider_tagoffline.catalog.models import (
    Application,
    AuditLog,
    Entity,
    EntityId,
    Grant,
    Lookup,
    Service,
    ServiceTag,
    Tag,
    TargetGrant,
    utcnow,
)
from airflow_provider_tagoffline.errors import Conflict, InUse, NotFound


@dataclass(frozen=True)
class Actor:
    """Who is acting: an Airflow user name, and whether Airflow deems them an admin."""

    username: str
    is_admin: bool = False

    @classmethod
    def system(cls, username: str = "tagoffline") -> Actor:
        return cls(username=username, is_admin=True)


def audit(session: Session, actor: Actor, action: str, object_type: str, key: str, detail: Any = None) -> None:
    session.add(AuditLog(actor=actor.username, action=action, object_type=object_type, object_key=key,
                         detail=detail))


# ---- lookups by code -------------------------------------------------------------------------

def get_application(session: Session, code: str) -> Application:
    app = session.scalar(select(Application).where(Application.code == code)
                         .options(selectinload(Application.users)))
    if app is None:
        raise NotFound("application", code)
    return app


def find_application(session: Session, code: str) -> Application | None:
    return session.scalar(select(Application).where(Application.code == code))


def get_entity(session: Session, code: str) -> Entity:
    entity = session.scalar(select(Entity).where(Entity.code == code)
                            .options(selectinload(Entity.ids), selectinload(Entity.tags)))
    if entity is None:
        raise NotFound("entity", code)
    return entity


def find_entity(session: Session, code: str) -> Entity | None:
    return session.scalar(select(Entity).where(Entity.code == code))


def find_entity_id(session: Session, entity: Entity, code: str) -> EntityId | None:
    return session.scalar(select(EntityId).where(EntityId.entity_id == entity.id, EntityId.code == code))


def find_tag(session: Session, entity: Entity, code: str) -> Tag | None:
    return session.scalar(select(Tag).where(Tag.entity_id == entity.id, Tag.code == code))


def get_tag(session: Session, entity_code: str, code: str) -> Tag:
    tag = session.scalar(select(Tag).join(Entity).where(Entity.code == entity_code, Tag.code == code))
    if tag is None:
        raise NotFound("tag", f"{entity_code}.{code}")
    return tag


def find_lookup(session: Session, code: str) -> Lookup | None:
    return session.scalar(select(Lookup).where(Lookup.code == code).options(selectinload(Lookup.values)))


def get_lookup(session: Session, code: str) -> Lookup:
    lookup = find_lookup(session, code)
    if lookup is None:
        raise NotFound("lookup", code)
    return lookup


def list_applications(session: Session) -> list[Application]:
    return list(session.scalars(select(Application).order_by(Application.code)
                                .options(selectinload(Application.users))))


def list_entities(session: Session) -> list[Entity]:
    return list(session.scalars(select(Entity).order_by(Entity.code)
                                .options(selectinload(Entity.ids), selectinload(Entity.tags))))


def list_lookups(session: Session) -> list[Lookup]:
    return list(session.scalars(select(Lookup).order_by(Lookup.code).options(selectinload(Lookup.values))))


def list_grants(session: Session, application: str | None = None, state: str | None = None) -> list[Grant]:
    q = (select(Grant).join(Application).join(Tag).join(Entity)
         .order_by(Application.code, Entity.code, Tag.code))
    if application:
        q = q.where(Application.code == application)
    if state:
        q = q.where(Grant.state == state)
    return list(session.scalars(q))


def list_target_grants(session: Session, application: str | None = None,
                       conn_id: str | None = None) -> list[TargetGrant]:
    q = select(TargetGrant).join(Application).order_by(Application.code, TargetGrant.conn_id)
    if application:
        q = q.where(Application.code == application)
    if conn_id:
        q = q.where(TargetGrant.conn_id == conn_id)
    return list(session.scalars(q))


def find_target_grant(session: Session, app: Application, conn_id: str) -> TargetGrant | None:
    return session.scalar(select(TargetGrant).where(TargetGrant.application_id == app.id,
                                                    TargetGrant.conn_id == conn_id))


def get_target_grant(session: Session, app_code: str, conn_id: str) -> TargetGrant:
    grant = find_target_grant(session, get_application(session, app_code), conn_id)
    if grant is None:
        raise NotFound("target grant", f"{app_code}:{conn_id}")
    return grant


# ---- grants ----------------------------------------------------------------------------------

def request_grant(session: Session, actor: Actor, app_code: str, entity_code: str, tag_code: str,
                  expires: dt.date | None = None, reason: str = "") -> Grant:
    app = get_application(session, app_code)
    tag = get_tag(session, entity_code, tag_code)
    grant = session.scalar(select(Grant).where(Grant.application_id == app.id, Grant.tag_id == tag.id))
    if grant is not None and grant.state in ("requested", "approved"):
        raise Conflict(f"tag {entity_code}.{tag_code} is already {grant.state} for application {app_code!r}")
    if grant is None:
        grant = Grant(application=app, tag=tag)
        session.add(grant)
    grant.state, grant.expires, grant.reason = "requested", expires, reason
    grant.requested_by, grant.requested_at = actor.username, utcnow()
    grant.decided_by = grant.decided_at = None
    audit(session, actor, "request", "grant", f"{app_code}:{entity_code}.{tag_code}",
          {"reason": reason} if reason else None)
    session.flush()
    return grant


def decide_grant(session: Session, actor: Actor, app_code: str, entity_code: str, tag_code: str,
                 decision: str, reason: str = "") -> Grant:
    """Approve, reject or revoke a grant (the caller's right is ``service/catalog_admin``'s to check).
    ``reason`` becomes the grant's reason (why it is in its state now) when given, and always for a reject
    or revoke; the audit log keeps every one."""
    transitions = {"approve": ("requested", "approved"), "reject": ("requested", "rejected"),
                   "revoke": ("approved", "revoked")}
    if decision not in transitions:
        raise ValueError(decision)
    app = get_application(session, app_code)
    tag = get_tag(session, entity_code, tag_code)
    grant = session.scalar(select(Grant).where(Grant.application_id == app.id, Grant.tag_id == tag.id))
    if grant is None:
        raise NotFound("grant", f"{app_code}:{entity_code}.{tag_code}")
    source, target = transitions[decision]
    if grant.state != source:
        raise Conflict(_decision_refusal(grant, decision, (source, target), f"tag {entity_code}.{tag_code}", app_code))
    grant.state, grant.decided_by, grant.decided_at = target, actor.username, utcnow()
    if reason or decision != "approve":
        grant.reason = reason
    audit(session, actor, decision, "grant", f"{app_code}:{entity_code}.{tag_code}",
          {"reason": reason} if reason else None)
    session.flush()
    return grant


def _decision_refusal(grant: Grant, decision: str, states: tuple[str, str], what: str, app_code: str) -> str:
    """Why ``decision`` does not apply to ``grant`` now: its state, who put it there, when and why, and what to
    do instead."""
    said = f"cannot {decision} the grant of {what} to application {app_code!r}: it is {grant.state}"
    if grant.decided_by:
        said += f" (by {grant.decided_by}"
        said += f" on {grant.decided_at:%Y-%m-%d %H:%M} UTC" if grant.decided_at else ""
        said += f": {grant.reason})" if grant.reason else ", no reason given)"
    if grant.state in ("revoked", "rejected") and decision == "approve":
        return said + (f"; only a requested grant can be approved: an admin or member of {app_code!r} requests "
                       "it again (Catalog → Request a grant, or POST /tag-offline/catalog/grants), then approve that")
    source, target = states
    return said + f"; only {'an' if source[0] in 'aeiou' else 'a'} {source} grant can be {target}"


# ---- guarded deletes -------------------------------------------------------------------------

def _names(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def delete_application(session: Session, actor: Actor, code: str) -> None:
    app = get_application(session, code)
    services = list(session.scalars(select(Service.name).where(Service.application_id == app.id)
                                    .order_by(Service.name)))
    if services:
        raise InUse(f"application {code!r} still has services: {_names(services)}")
    for grant in session.scalars(select(Grant).where(Grant.application_id == app.id)):
        session.delete(grant)
    for target_grant in session.scalars(select(TargetGrant).where(TargetGrant.application_id == app.id)):
        session.delete(target_grant)
    session.delete(app)
    audit(session, actor, "delete", "application", code)


def delete_entity(session: Session, actor: Actor, code: str) -> None:
    entity = get_entity(session, code)
    users = [f"tag {t.code}" for t in entity.tags] + [f"entity ID {i.code}" for i in entity.ids]
    if users:
        raise InUse(f"entity {code!r} still has {_names(users)}; delete them first")
    session.delete(entity)
    audit(session, actor, "delete", "entity", code)


def services_using_tag(session: Session, tag: Tag) -> list[str]:
    return list(session.scalars(select(Service.name).join(ServiceTag).where(ServiceTag.tag_id == tag.id)
                                .order_by(Service.name)))


def delete_tag(session: Session, actor: Actor, entity_code: str, code: str) -> None:
    tag = get_tag(session, entity_code, code)
    services = services_using_tag(session, tag)
    if services:
        raise InUse(f"tag {entity_code}.{code} is used by services: {_names(services)}")
    for grant in session.scalars(select(Grant).where(Grant.tag_id == tag.id)):
        session.delete(grant)
    session.delete(tag)
    audit(session, actor, "delete", "tag", f"{entity_code}.{code}")


def delete_entity_id(session: Session, actor: Actor, entity_code: str, code: str) -> None:
    entity = get_entity(session, entity_code)
    eid = find_entity_id(session, entity, code)
    if eid is None:
        raise NotFound("entity ID", f"{entity_code}.{code}")
    tags = [t.code for t in entity.tags if t.key_id == eid.id]
    if tags:
        raise InUse(f"entity ID {entity_code}.{code} still keys tags: {_names(tags)}")
    services = list(session.scalars(select(Service.name).where(
        Service.entity_code == entity_code, Service.entity_id_code == code)))
    if services:
        raise InUse(f"entity ID {entity_code}.{code} is used by services: {_names(services)}")
    session.delete(eid)
    audit(session, actor, "delete", "entity_id", f"{entity_code}.{code}")


def delete_target_grant(session: Session, actor: Actor, app_code: str, conn_id: str) -> None:
    """Refused while services of the application target the connection or notify through it (they
    could not be saved or published again)."""
    grant = get_target_grant(session, app_code, conn_id)
    services = list(session.scalars(select(Service).where(Service.application_id == grant.application_id)
                                    .order_by(Service.name)))
    targeting = [s.name for s in services if s.target_conn_id == conn_id]
    if targeting:
        raise InUse(f"connection {conn_id!r} is still the target of services of application {app_code!r}: "
                    f"{_names(targeting)}")
    notifying = [s.name for s in services if ((s.definition or {}).get("notify") or {}).get("conn_id") == conn_id]
    if notifying:
        raise InUse(f"connection {conn_id!r} is still used by services of application {app_code!r}: "
                    f"{_names(notifying)} (their notifications)")
    session.delete(grant)
    audit(session, actor, "delete", "target_grant", f"{app_code}:{conn_id}")


def delete_lookup(session: Session, actor: Actor, code: str) -> None:
    lookup = get_lookup(session, code)
    # Sorted, so the message is the same on every store; the codes are joined here, not by a
    # store-specific concatenation.
    tags = [f"{entity}.{tag}" for entity, tag in session.execute(
        select(Entity.code, Tag.code).select_from(Tag).join(Entity, Tag.entity_id == Entity.id)
        .where(Tag.lookup_id == lookup.id).order_by(Entity.code, Tag.code))]
    if tags:
        raise InUse(f"lookup {code!r} is used by tags: {_names(tags)}")
    session.delete(lookup)
    audit(session, actor, "delete", "lookup", code)


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)
