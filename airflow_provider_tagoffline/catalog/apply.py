"""``catalog apply`` and ``catalog export``: the catalog as a YAML file, idempotently.

Applying computes a plan first (create / update / unchanged per object) and then carries it out
in the caller's transaction, so ``--dry-run`` shows exactly what a real apply would do. Objects
absent from the file are left alone: a catalog file adds and updates, it never deletes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.models import (
    Application,
    ApplicationUser,
    Entity,
    EntityId,
    Grant,
    Lookup,
    LookupValue,
    Tag,
    TargetGrant,
    utcnow,
)
from airflow_provider_tagoffline.catalog.schemas import (
    ApplicationDef,
    CatalogDef,
    EntityDef,
    EntityIdDef,
    GrantDef,
    LookupDef,
    SourceDef,
    TagDef,
    TargetGrantDef,
)
from airflow_provider_tagoffline.errors import FieldError, ValidationFailed


@dataclass
class PlanItem:
    kind: str  # application | lookup | entity | entity_id | tag | grant | target_grant
    key: str
    action: str  # create | update | unchanged
    changes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "action": self.action, "changes": self.changes}


@dataclass
class Plan:
    items: list[PlanItem] = field(default_factory=list)

    def add(self, kind: str, key: str, current: dict | None, desired: dict) -> str:
        if current is None:
            action, changes = "create", []
        else:
            changes = sorted(k for k in desired if current.get(k) != desired[k])
            action = "update" if changes else "unchanged"
        self.items.append(PlanItem(kind, key, action, changes))
        return action

    @property
    def changed(self) -> bool:
        return any(i.action != "unchanged" for i in self.items)

    def summary(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "unchanged": 0}
        for i in self.items:
            out[i.action] += 1
        return out


# ---- current state as comparable dicts -------------------------------------------------------

def _app_dict(a: Application) -> dict:
    return {"name": a.name, "description": a.description,
            "admins": sorted(a.usernames("admin")), "members": sorted(a.usernames("member"))}


def _app_desired(d: ApplicationDef) -> dict:
    return {"name": d.name, "description": d.description, "admins": sorted(set(d.admins)),
            "members": sorted(set(d.members) - set(d.admins))}


def _lookup_dict(lk: Lookup) -> dict:
    return {"name": lk.name, "kind": lk.kind, "table": lk.source_table, "code_column": lk.code_column,
            "name_column": lk.name_column,
            "values": {v.code: v.name for v in lk.values} if lk.kind == "inline" else None}


def _lookup_desired(d: LookupDef) -> dict:
    return {"name": d.name, "kind": d.kind, "table": d.table, "code_column": d.code_column,
            "name_column": d.name_column, "values": d.values}


def _tag_dict(t: Tag) -> dict:
    return {"name": t.name, "type": t.value_type, "id": t.key.code, "description": t.description,
            "lookup": t.lookup.code if t.lookup else None, "source": _source_of(t)}


def _source_of(t: Tag) -> dict:
    return SourceDef(table=t.source_table, key=t.source_key, column=t.source_column,
                     partition=t.source_partition, format=t.source_partition_format).model_dump()


def _tag_desired(d: TagDef) -> dict:
    return {"name": d.name, "type": d.type, "id": d.id, "description": d.description, "lookup": d.lookup,
            "source": d.source.model_dump()}


# ---- apply -----------------------------------------------------------------------------------

_Row = TypeVar("_Row")


def _to_write(session: Session, plan: Plan, kind: str, key: str, found: _Row | None, current: dict | None,
              desired: dict, dry: bool, make: Callable[[], _Row]) -> tuple[str, _Row] | None:
    """Put one object in the plan; unless this is a dry run or nothing changes, the action and the
    stored object to write (``make`` creates it when there is none)."""
    action = plan.add(kind, key, current, desired)
    if dry or action == "unchanged":
        return None
    if found is None:
        found = make()
        session.add(found)
    return action, found


def apply_catalog(session: Session, actor: repo.Actor, catalog: CatalogDef, dry_run: bool = False) -> Plan:
    """Bring the store in line with ``catalog``; returns the plan. Nothing is written if dry_run.

    Data only: who may apply, and what follows a change, is ``service/catalog_admin.apply_catalog``'s."""
    _check_references(session, catalog)
    plan = Plan()
    # Objects are built up field by field; flushing half-built ones would break NOT NULLs.
    with session.no_autoflush:
        _apply_all(session, actor, plan, catalog, dry_run)
    if not dry_run:
        session.flush()
    return plan


def _apply_all(session: Session, actor: repo.Actor, plan: Plan, catalog: CatalogDef, dry_run: bool) -> None:
    for a in catalog.applications:
        _apply_application(session, actor, plan, a, dry_run)
    for lk in catalog.lookups:
        _apply_lookup(session, actor, plan, lk, dry_run)
    for e in catalog.entities:
        _apply_entity(session, actor, plan, e, dry_run)
    for g in catalog.grants:
        _apply_grant(session, actor, plan, g, dry_run)
    for tg in catalog.target_grants:
        _apply_target_grant(session, actor, plan, tg, dry_run)


def _check_references(session: Session, catalog: CatalogDef) -> None:
    """Every reference resolves (in the file or in the store) before anything is written."""
    errors: list[FieldError] = []
    apps = {a.code for a in catalog.applications}
    lookups = {lk.code for lk in catalog.lookups}
    entities = {e.code: e for e in catalog.entities}
    codes: dict[str, list[str]] = {
        "applications": [a.code for a in catalog.applications],
        "lookups": [lk.code for lk in catalog.lookups],
        "entities": [e.code for e in catalog.entities],
    }
    for kind, items in codes.items():
        seen: set[str] = set()
        for i, code in enumerate(items):
            if code in seen:
                errors.append(FieldError(f"{kind}[{i}].code", f"{code!r} appears twice"))
            seen.add(code)
    for ei, e in enumerate(catalog.entities):
        stored = repo.find_entity(session, e.code)
        id_codes = {i.code for i in e.ids} | ({i.code for i in stored.ids} if stored else set())
        tag_seen: set[str] = set()
        for ii, eid in enumerate(e.ids):
            if [x.code for x in e.ids].count(eid.code) > 1 and ii != [x.code for x in e.ids].index(eid.code):
                errors.append(FieldError(f"entities[{ei}].ids[{ii}].code", f"{eid.code!r} appears twice"))
        for ti, t in enumerate(e.tags):
            where = f"entities[{ei}].tags[{ti}]"
            if t.code in tag_seen:
                errors.append(FieldError(f"{where}.code", f"{t.code!r} appears twice in entity {e.code!r}"))
            tag_seen.add(t.code)
            if t.id not in id_codes:
                errors.append(FieldError(f"{where}.id", f"entity {e.code!r} has no entity ID {t.id!r}"))
            if t.lookup and t.lookup not in lookups and repo.find_lookup(session, t.lookup) is None:
                errors.append(FieldError(f"{where}.lookup", f"lookup {t.lookup!r} does not exist"))
    for gi, g in enumerate(catalog.grants):
        where = f"grants[{gi}]"
        if g.application not in apps and repo.find_application(session, g.application) is None:
            errors.append(FieldError(f"{where}.application", f"application {g.application!r} does not exist"))
        edef = entities.get(g.entity)
        stored_entity = repo.find_entity(session, g.entity)
        if edef is None and stored_entity is None:
            errors.append(FieldError(f"{where}.entity", f"entity {g.entity!r} does not exist"))
            continue
        known = ({t.code for t in edef.tags} if edef else set()) | (
            {t.code for t in stored_entity.tags} if stored_entity else set())
        for tc in g.tags:
            if tc not in known:
                errors.append(FieldError(f"{where}.tags", f"entity {g.entity!r} has no tag {tc!r}"))
    seen_target_grants: set[tuple[str, str]] = set()
    for ti, tg in enumerate(catalog.target_grants):
        where = f"target_grants[{ti}]"
        if (tg.application, tg.conn_id) in seen_target_grants:
            errors.append(FieldError(where, f"connection {tg.conn_id!r} is granted to application "
                                            f"{tg.application!r} twice"))
        seen_target_grants.add((tg.application, tg.conn_id))
        if tg.application not in apps and repo.find_application(session, tg.application) is None:
            errors.append(FieldError(f"{where}.application", f"application {tg.application!r} does not exist"))
    if errors:
        raise ValidationFailed(errors)


def _apply_application(session: Session, actor: repo.Actor, plan: Plan, d: ApplicationDef, dry: bool) -> None:
    found = repo.find_application(session, d.code)
    desired = _app_desired(d)
    todo = _to_write(session, plan, "application", d.code, found, _app_dict(found) if found else None, desired, dry,
                     lambda: Application(code=d.code))
    if todo is None:
        return
    action, app = todo
    app.name, app.description = d.name, d.description
    wanted = {(u, "admin") for u in desired["admins"]} | {(u, "member") for u in desired["members"]}
    for user in list(app.users):
        if (user.username, user.role) not in wanted:
            app.users.remove(user)
    session.flush()
    have = {(u.username, u.role) for u in app.users}
    for username, role in sorted(wanted - have):
        app.users.append(ApplicationUser(username=username, role=role))
    repo.audit(session, actor, action, "application", d.code, {"changes": plan.items[-1].changes})


def _apply_lookup(session: Session, actor: repo.Actor, plan: Plan, d: LookupDef, dry: bool) -> None:
    found = repo.find_lookup(session, d.code)
    todo = _to_write(session, plan, "lookup", d.code, found, _lookup_dict(found) if found else None,
                     _lookup_desired(d), dry, lambda: Lookup(code=d.code))
    if todo is None:
        return
    action, lk = todo
    lk.name, lk.kind = d.name, d.kind
    lk.source_table, lk.code_column, lk.name_column = d.table, d.code_column, d.name_column
    lk.values.clear()
    session.flush()
    for pos, (code, name) in enumerate((d.values or {}).items()):
        lk.values.append(LookupValue(position=pos, code=code, name=name))
    repo.audit(session, actor, action, "lookup", d.code, {"changes": plan.items[-1].changes})


def _apply_entity(session: Session, actor: repo.Actor, plan: Plan, d: EntityDef, dry: bool) -> None:
    entity = repo.find_entity(session, d.code)
    desired = {"name": d.name, "description": d.description}
    current = {"name": entity.name, "description": entity.description} if entity else None
    action = plan.add("entity", d.code, current, desired)
    if not dry and action != "unchanged":
        if entity is None:
            entity = Entity(code=d.code)
            session.add(entity)
        entity.name, entity.description = d.name, d.description
        session.flush()
        repo.audit(session, actor, action, "entity", d.code)
    for eid in d.ids:
        _apply_entity_id(session, actor, plan, entity, d.code, eid, dry)
    for tag in d.tags:
        _apply_tag(session, actor, plan, entity, d.code, tag, dry)


def _apply_entity_id(session: Session, actor: repo.Actor, plan: Plan, entity: Entity | None, entity_code: str,
                     d: EntityIdDef, dry: bool) -> None:
    found = repo.find_entity_id(session, entity, d.code) if entity and entity.id else None
    key = f"{entity_code}.{d.code}"
    todo = _to_write(session, plan, "entity_id", key, found,
                     {"name": found.name, "type": found.value_type} if found else None,
                     {"name": d.name, "type": d.type}, dry, lambda: EntityId(entity=entity, code=d.code))
    if todo is None:
        return
    action, eid = todo
    eid.name, eid.value_type = d.name, d.type
    session.flush()
    repo.audit(session, actor, action, "entity_id", key)


def _apply_tag(session: Session, actor: repo.Actor, plan: Plan, entity: Entity | None, entity_code: str,
               d: TagDef, dry: bool) -> None:
    found = repo.find_tag(session, entity, d.code) if entity and entity.id else None
    key = f"{entity_code}.{d.code}"
    todo = _to_write(session, plan, "tag", key, found, _tag_dict(found) if found else None, _tag_desired(d), dry,
                     lambda: Tag(entity=entity, code=d.code))
    if todo is None:
        return
    assert entity is not None  # checked by _check_references
    action, tag = todo
    key_id = repo.find_entity_id(session, entity, d.id)
    assert key_id is not None  # checked by _check_references
    tag.name, tag.value_type, tag.description, tag.key = d.name, d.type, d.description, key_id
    tag.lookup = repo.find_lookup(session, d.lookup) if d.lookup else None
    s = d.source
    tag.source_table, tag.source_key, tag.source_column = s.table, s.key, s.column
    tag.source_partition, tag.source_partition_format = s.partition, s.format
    session.flush()
    repo.audit(session, actor, action, "tag", key, {"changes": plan.items[-1].changes})


def _apply_grant(session: Session, actor: repo.Actor, plan: Plan, d: GrantDef, dry: bool) -> None:
    app = repo.find_application(session, d.application)
    entity = repo.find_entity(session, d.entity)
    for tag_code in d.tags:
        tag = repo.find_tag(session, entity, tag_code) if entity else None
        grant = None
        if app is not None and tag is not None:
            grant = session.query(Grant).filter_by(application_id=app.id, tag_id=tag.id).one_or_none()
        key = f"{d.application}:{d.entity}.{tag_code}"
        todo = _to_write(session, plan, "grant", key, grant,
                         {"state": grant.state, "expires": grant.expires} if grant else None,
                         {"state": "approved", "expires": d.expires}, dry,
                         partial(Grant, application=app, tag=tag, requested_by=actor.username))
        if todo is None:
            continue
        action, grant = todo
        grant.state, grant.expires = "approved", d.expires
        grant.decided_by, grant.decided_at = actor.username, utcnow()
        session.flush()
        repo.audit(session, actor, action, "grant", key)


def _apply_target_grant(session: Session, actor: repo.Actor, plan: Plan, d: TargetGrantDef, dry: bool) -> None:
    app = repo.find_application(session, d.application)
    found = repo.find_target_grant(session, app, d.conn_id) if app is not None and app.id else None
    key = f"{d.application}:{d.conn_id}"
    todo = _to_write(session, plan, "target_grant", key, found, {"schemas": found.schemas} if found else None,
                     {"schemas": d.schemas}, dry, lambda: TargetGrant(application=app, conn_id=d.conn_id))
    if todo is None:
        return
    action, grant = todo
    grant.schemas, grant.granted_by, grant.granted_at = d.schemas, actor.username, utcnow()
    session.flush()
    repo.audit(session, actor, action, "target_grant", key, {"schemas": d.schemas})


# ---- export ----------------------------------------------------------------------------------

def export_catalog(session: Session) -> CatalogDef:
    """The whole catalog as a CatalogDef; ``apply`` of it changes nothing (round trip)."""
    apps = [ApplicationDef(code=a.code, name=a.name, description=a.description,
                           admins=sorted(a.usernames("admin")), members=sorted(a.usernames("member")))
            for a in repo.list_applications(session)]
    lookups = [LookupDef(code=lk.code, name=lk.name,
                         values={v.code: v.name for v in lk.values} if lk.kind == "inline" else None,
                         table=lk.source_table, code_column=lk.code_column, name_column=lk.name_column)
               for lk in repo.list_lookups(session)]
    entities = []
    for e in repo.list_entities(session):
        entities.append(EntityDef(
            code=e.code, name=e.name, description=e.description,
            ids=[EntityIdDef(code=i.code, name=i.name, type=i.value_type) for i in e.ids],
            tags=[TagDef(code=t.code, name=t.name, type=t.value_type, id=t.key.code,
                         description=t.description, lookup=t.lookup.code if t.lookup else None,
                         source=SourceDef.model_validate(_source_of(t))) for t in e.tags]))
    # One grant entry per (application, entity, expiry, state=approved), as written by hand.
    grouped: dict[tuple, list[str]] = {}
    for g in repo.list_grants(session, state="approved"):
        grouped.setdefault((g.application.code, g.tag.entity.code, g.expires), []).append(g.tag.code)
    grants = [GrantDef(application=a, entity=e, tags=tags, expires=exp) for (a, e, exp), tags in grouped.items()]
    target_grants = [TargetGrantDef(application=g.application.code, conn_id=g.conn_id, schemas=g.schemas)
                     for g in repo.list_target_grants(session)]
    return CatalogDef(applications=apps, lookups=lookups, entities=entities, grants=grants,
                      target_grants=target_grants)
