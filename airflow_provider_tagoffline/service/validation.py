"""Every rule a service definition must satisfy (spec §3, §6): the one place, used by the CLI,
the REST API and the web view alike.

``validate_service`` collects all problems at once, each naming its field, so a form can show
every message beside its field; nothing is written when any rule fails.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.orm import Session

from airflow_provider_tagoffline import connections
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.models import Application, Entity, EntityId, Service, Tag
from airflow_provider_tagoffline.dialects import PARTITION_FORMATS, WAREHOUSE
from airflow_provider_tagoffline.errors import FieldError, ValidationFailed
from airflow_provider_tagoffline.service import permissions, targets
from airflow_provider_tagoffline.service.definition import ServiceDef

# Chinese characters (CJK unified ideographs and extension A), English letters, digits and _.
NAME_RE = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fffA-Za-z0-9_]{1,64}$")
MAX_DESCRIPTION = 1000
DAILY_AT_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
COLUMN_RE = re.compile(r"^[^\x00-\x1f]{1,128}$")


def parse_service(data: Any) -> ServiceDef:
    """Parse raw input (YAML or JSON body) into a ServiceDef; shape errors name their field."""
    if isinstance(data, ServiceDef):
        return data
    if not isinstance(data, dict):
        raise ValidationFailed.one("", "a service must be a mapping of fields")
    try:
        return ServiceDef.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationFailed(pydantic_errors(exc)) from None


def pydantic_errors(exc: PydanticValidationError) -> list[FieldError]:
    """Pydantic's errors as FieldErrors with dotted field paths (``mappings[1].tag``)."""
    return [FieldError(_loc(e["loc"]), _msg(e)) for e in exc.errors()]


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "schema_":
            out += ".schema"
        else:
            out += ("." if out else "") + str(part)
    return out


def _msg(err: Any) -> str:
    if err["type"] == "missing":
        return "is required"
    if err["type"] == "extra_forbidden":
        return "is not a known field"
    if err["type"] == "finite_number":
        return "must be a finite number"
    if err["type"] == "literal_error":
        return "must be " + err["msg"].split("Input should be ", 1)[-1]
    msg = str(err["msg"])
    return msg[len("Value error, "):] if msg.startswith("Value error, ") else msg


@dataclass
class ValidatedService:
    """A definition that passed every rule, with what the rules resolved along the way."""

    definition: ServiceDef
    application: Application
    entity: Entity
    entity_id: EntityId
    tags: list[Tag]
    target_kind: str
    timezone: str


def validate_service(
    session: Session,
    actor: repo.Actor,
    data: Any,
    *,
    existing: Service | None = None,
    resolve_target_kind: Callable[[str], str] | None = None,
    default_timezone: str = "UTC",
    today: dt.date | None = None,
) -> ValidatedService:
    """Check ``data`` against every rule; raise ValidationFailed listing each problem.

    ``existing`` is the stored service when this is an update (immutable fields, state rules).
    ``resolve_target_kind`` maps a connection id to its target kind (raising ValidationFailed);
    the default asks Airflow.
    """
    d = parse_service(data)
    errors: list[FieldError] = []

    def err(field: str, message: str) -> None:
        errors.append(FieldError(field, message))

    # -- basic ---------------------------------------------------------------------------------
    if not NAME_RE.match(d.name):
        err("name", "must be 1–64 characters: Chinese characters, English letters, digits or _"
            if d.name else "is required")
    if existing is None:
        from sqlalchemy import select

        if d.name and session.scalar(select(Service.id).where(Service.name == d.name)) is not None:
            err("name", f"a service named {d.name!r} already exists")
    if len(d.description) > MAX_DESCRIPTION:
        err("description", f"is {len(d.description)} characters long; at most {MAX_DESCRIPTION}")
    if not d.owner:
        err("owner", "is required")

    application = repo.find_application(session, d.application) if d.application else None
    if application is None:
        err("application", f"application {d.application!r} does not exist" if d.application else "is required")
    elif not permissions.is_application_user(actor, application):
        err("application", f"user {actor.username!r} is not an admin or member of application {d.application!r}")

    entity = repo.find_entity(session, d.entity) if d.entity else None
    entity_id = None
    if entity is None:
        err("entity", f"entity {d.entity!r} does not exist" if d.entity else "is required")
    else:
        entity_id = repo.find_entity_id(session, entity, d.entity_id)
        if entity_id is None:
            known = ", ".join(i.code for i in entity.ids)
            err("entity_id", f"entity {d.entity!r} has no entity ID {d.entity_id!r} (it has: {known})")

    # -- schedule ------------------------------------------------------------------------------
    tz = d.schedule.timezone or default_timezone
    if d.schedule.type == "recurring":
        if not d.schedule.daily_at:
            err("schedule.daily_at", "is required for a recurring service (HH:MM)")
        elif not DAILY_AT_RE.match(d.schedule.daily_at):
            err("schedule.daily_at", f"{d.schedule.daily_at!r} is not a time of day in HH:MM (00:00–23:59)")
    elif d.schedule.daily_at:
        err("schedule.daily_at", "a manual service has no daily time; remove it or make the service recurring")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        err("schedule.timezone", f"{tz!r} is not a known IANA timezone (e.g. Asia/Shanghai, UTC)")

    # -- target --------------------------------------------------------------------------------
    target_kind = ""
    dialect = None
    t = d.target
    if t.load != "overwrite":
        err("target.load", f"loading policy {t.load!r} is not supported; only overwrite")
    if not t.conn_id.strip():
        err("target.conn_id", "choose the data source (an Airflow connection) to write into")
    else:
        try:
            target_kind = (resolve_target_kind or _airflow_target_kind)(t.conn_id)
        except ValidationFailed as exc:
            errors.extend(FieldError("target.conn_id", e.message) for e in exc.errors)
    if not t.table.strip():
        err("target.table", "is required: the table the tags are written into")
    if target_kind:
        dialect = connections.dialect_of_kind(target_kind)
        if t.schema_ and not dialect.has_schemas:
            err("target.schema", f"{target_kind} targets have no schemas; remove the schema")
        for field, name in (("target.schema", t.schema_), ("target.table", t.table),
                            ("target.key_column", t.key_column)):
            problem = dialect.identifier_problem(name) if name else None
            if problem:
                err(field, f"{name!r} {problem}")
        swap_problem = dialect.swap_name_problem(t.table) if t.table else None
        if swap_problem and not dialect.identifier_problem(t.table):
            err("target.table", swap_problem)
        if t.partition is not None:
            if not dialect.supports_partitions:
                what = target_kind if target_kind == WAREHOUSE else dialect.title
                err("target.partition", f"{what} targets cannot be partitioned; remove the partition")
    if t.partition is not None:
        if isinstance(t.partition.field, list):
            if len(t.partition.field) != 1:
                err("target.partition.field", "multi-level partitions are not supported; give one date "
                    "partition field")
        elif t.partition.field is not None and "," in t.partition.field:
            err("target.partition.field", "multi-level partitions are not supported; give one date "
                "partition field")
        if t.partition.format not in PARTITION_FORMATS:
            err("target.partition.format", f"{t.partition.format!r} is not one of {', '.join(PARTITION_FORMATS)}")
        if not t.partition.field:
            err("target.partition.field", "is required for a partitioned target")
        # The partition field is a target column like the mapped ones: the same checks.
        given = t.partition.field
        one_field = given[0] if isinstance(given, list) and len(given) == 1 else \
            given if isinstance(given, str) and "," not in given else None
        if one_field and not COLUMN_RE.match(one_field):
            err("target.partition.field", f"{one_field!r} is not a usable column name")
        elif one_field and dialect is not None and dialect.identifier_problem(one_field):
            err("target.partition.field", f"column {one_field!r} {dialect.identifier_problem(one_field)}")

    # -- target ownership: the application's target grant, and the table's claim -----------------
    if application is not None and t.conn_id.strip():
        errors.extend(_ownership_problems(session, application, t.conn_id, t.schema_, t.table, target_kind,
                                          existing))

    # -- mappings ------------------------------------------------------------------------------
    tags: list[Tag] = []
    if not d.mappings:
        err("mappings", "map at least one tag")
    key_column = t.key_column or d.entity_id
    columns: dict[str, str] = {key_column.lower(): "the entity ID column"} if key_column else {}
    if t.partition is not None and isinstance(t.partition.field, str) and t.partition.field:
        columns[t.partition.field.lower()] = "the date partition field"
    seen_tags: set[str] = set()
    for i, m in enumerate(d.mappings):
        where = f"mappings[{i}]"
        if m.tag in seen_tags:
            err(f"{where}.tag", f"tag {m.tag!r} is mapped twice")
            continue
        seen_tags.add(m.tag)
        tag = repo.find_tag(session, entity, m.tag) if entity else None
        if entity is not None and tag is None:
            err(f"{where}.tag", f"entity {d.entity!r} has no tag {m.tag!r}")
        if tag is not None:
            tags.append(tag)
            if entity_id is not None and tag.key_id != entity_id.id:
                err(f"{where}.tag", f"tag {m.tag!r} is keyed by {tag.key.code!r}, not by the service's "
                    f"entity ID {d.entity_id!r}")
            if application is not None:
                ok, why = repo.effective_grant(session, application, tag, today)
                if not ok:
                    err(f"{where}.tag", f"tag {m.tag!r} {why}")
            if m.codename and tag.lookup_id is None:
                err(f"{where}.codename", f"tag {m.tag!r} has no lookup, so it has no code name to export")
        if not m.value and not m.codename:
            err(f"{where}", f"tag {m.tag!r} has no output: map its value, its code name or both")
        for content, column in (("value", m.value), ("codename", m.codename)):
            if not column:
                continue
            if not COLUMN_RE.match(column):
                err(f"{where}.{content}", f"{column!r} is not a usable column name")
                continue
            if dialect is not None:
                problem = dialect.identifier_problem(column)
                if problem:
                    err(f"{where}.{content}", f"column {column!r} {problem}")
            other = columns.get(column.lower())
            if other:
                err(f"{where}.{content}", f"target column {column!r} is already used by {other}")
            else:
                columns[column.lower()] = f"mappings[{i}].{content}"

    # -- gates ---------------------------------------------------------------------------------
    g = d.gates
    if g.min_rows is not None and g.min_rows < 0:
        err("gates.min_rows", "must be 0 or more")
    if g.max_change_ratio is not None and g.max_change_ratio < 0:
        err("gates.max_change_ratio", "must be 0 or more (0.5 allows ±50% rows against the live table)")
    for tag_code, ratio in g.max_null_ratio.items():
        if tag_code not in seen_tags:
            err(f"gates.max_null_ratio.{tag_code}", f"tag {tag_code!r} is not mapped by this service")
        if not 0 <= ratio <= 1:
            err(f"gates.max_null_ratio.{tag_code}", f"{ratio} is not a ratio between 0 and 1")

    # -- update rules --------------------------------------------------------------------------
    if existing is not None:
        from airflow_provider_tagoffline.service.states import edit_refusal

        refusal = edit_refusal(existing.status)
        if refusal:
            err("", f"service {existing.name!r} cannot be edited: {refusal}")
        old = existing.definition
        if d.name != existing.name:
            err("name", f"cannot be changed (was {existing.name!r})")
        if d.schedule.type != existing.schedule_type:
            err("schedule.type", f"cannot be changed (was {existing.schedule_type!r})")
        if target_kind and target_kind != existing.target_kind:
            err("target.conn_id", f"the target kind cannot change (was {existing.target_kind}, "
                f"connection {t.conn_id!r} is {target_kind})")
        if t.load != old.get("target", {}).get("load", "overwrite"):
            err("target.load", "the loading policy cannot be changed")

    if errors:
        raise ValidationFailed(errors)
    assert application is not None and entity is not None and entity_id is not None
    return ValidatedService(d, application, entity, entity_id, tags, target_kind, tz)


def _ownership_problems(session: Session, application: Application, conn_id: str, schema: str | None, table: str,
                        target_kind: str, existing: Service | None) -> list[FieldError]:
    """An application writes only connections (and schemas) granted to it, and only tables no older
    service targets (docs/target-grants.md)."""
    if not target_kind:
        return []  # the connection is unknown or not a target, and said so
    scope = permissions.application_scope(session, application, conn_id)
    if scope is None:
        return [FieldError("target.conn_id", f"connection {conn_id!r} is not granted to application "
                                             f"{application.code!r}: a catalog admin grants connections to "
                                             f"applications (target grants)")]
    if not table.strip():
        return []
    place = targets.place_of(conn_id, schema, table)
    if place is None:
        return []
    problems = []
    if not scope.allows(place.dialect, place.schema):
        shown = f"schema {place.schema!r}" if place.schema else "the connection's default schema"
        problems.append(FieldError("target.schema", f"{shown} is not granted to application {application.code!r} "
                                                    f"on connection {conn_id!r} (granted: {scope.describe()})"))
    owner = targets.owner_of(session, place, existing.id if existing is not None else None)
    if owner is not None:
        svc, theirs = owner
        via = "" if theirs.conn_id == conn_id else f" (the database of connection {theirs.conn_id!r})"
        problems.append(FieldError("target.table", f"table {place.full_name!r} on connection {conn_id!r}{via} is "
                                                   f"the target of service {svc.name!r} (application "
                                                   f"{svc.application.code}); a table belongs to one service"))
    return problems


def _airflow_target_kind(conn_id: str) -> str:
    return connections.resolve_target(conn_id).kind
