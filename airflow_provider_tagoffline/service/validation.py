"""Every rule a service definition must satisfy (spec §3, §6): the one place, used by the CLI,
the REST API and the web view alike.

``validate_service`` collects all problems at once, each naming its field, so a form can show
every message beside its field; nothing is written when any rule fails. It checks data only —
the definition against the catalog (grants, the connection grants, the target's claim) — never
who is asking: the caller's right is ``service/permissions.py``'s, asked before validation.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from airflow_provider_tagoffline import connections, waiting
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.models import Application, Entity, EntityId, Service, Tag
from airflow_provider_tagoffline.dialects import PARTITION_FORMATS, WAREHOUSE, Dialect
from airflow_provider_tagoffline.errors import FieldError, ValidationFailed
from airflow_provider_tagoffline.runspec import LOAD_MODES
from airflow_provider_tagoffline.service import attention, permissions, states, targets
from airflow_provider_tagoffline.service.definition import NOTIFY_EVENTS, MappingDef, ServiceDef

# Chinese characters (CJK unified ideographs and extension A), English letters, digits and _.
NAME_RE = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fffA-Za-z0-9_]{1,64}$")
MAX_DESCRIPTION = 1000
DAILY_AT_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
POOL_RE = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
QUEUE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
COLUMN_RE = re.compile(r"^[^\x00-\x1f]{1,128}$")
CONTROL_CHAR_RE = re.compile(r"[\x00-\x1f\x7f]")
# A target table is named plainly: a letter (any script) or _, then letters, digits and _. Every family
# could hold more once quoted (spaces, punctuation), but users read such a name as a mistake, and a
# plain name is one every family takes unquoted too; the engine quotes it anyway.
TABLE_NAME_RE = re.compile(r"[^\W\d]\w*")
TABLE_NAME_RULE = "use letters, digits and _, starting with a letter or _ (e.g. user_tags)"
# One mailbox: no spaces, commas, angle brackets or control characters (nothing that could add a header
# or another recipient), one @, a dotted domain.
EMAIL_RE = re.compile(r"^[^\s@,;<>\"()\[\]\\\x00-\x1f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z0-9-]{1,63}$")


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
    #: seconds a scheduled run waits for late sources (recurring services; None for manual ones)
    wait_for_data: int | None = None
    #: seconds the swap keeps retrying the table's lock (None: the [tag_offline] default at run time)
    wait_for_lock: int | None = None


def validate_service(
    session: Session,
    data: Any,
    *,
    existing: Service | None = None,
    resolve_target_kind: Callable[[str], str] | None = None,
    default_timezone: str = "UTC",
    today: dt.date | None = None,
    resolve_notify_sender: Callable[[str], str] | None = None,
) -> ValidatedService:
    """Check ``data`` against every rule; raise ValidationFailed listing each problem.

    ``existing`` is the stored service when this is an update (immutable fields, state rules).
    ``resolve_target_kind`` maps a connection id to its target kind (raising ValidationFailed);
    the default asks Airflow; ``resolve_notify_sender`` likewise gives a notification connection's
    sender (``connections.notification_sender``). The sections below run in this order, each adding the errors of its
    fields; later ones use what earlier ones resolved (the application, the entity, the dialect).
    """
    c = _Checking(session, parse_service(data), existing, today)
    _check_basic(c)
    tz = _check_schedule(c, default_timezone)
    wait = _check_wait(c)
    _check_target(c, resolve_target_kind)
    lock_wait = _check_lock_wait(c)
    _check_partition(c)
    _check_ownership(c)
    _check_mappings(c)
    _check_gates(c)
    _check_notify(c, resolve_notify_sender or connections.notification_sender)
    _check_update_rules(c)
    if c.errors:
        raise ValidationFailed(c.errors)
    assert c.application is not None and c.entity is not None and c.entity_id is not None
    return ValidatedService(c.d, c.application, c.entity, c.entity_id, c.tags, c.target_kind, tz, wait,
                            wait_for_lock=lock_wait)


@dataclass
class _Checking:
    """One validation under way: its input, what the sections resolved so far, the errors found."""

    session: Session
    d: ServiceDef
    existing: Service | None
    today: dt.date | None
    errors: list[FieldError] = field(default_factory=list)
    application: Application | None = None
    entity: Entity | None = None
    entity_id: EntityId | None = None
    target_kind: str = ""
    dialect: Dialect | None = None
    tags: list[Tag] = field(default_factory=list)
    mapped: set[str] = field(default_factory=set)  # tag codes, for the gates

    def err(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))


def _check_basic(c: _Checking) -> None:
    """Name, description, owner, application, entity and entity ID."""
    d = c.d
    if not NAME_RE.match(d.name):
        c.err("name", "must be 1–64 characters: Chinese characters, English letters, digits or _"
              if d.name else "is required")
    if c.existing is None and d.name and \
            c.session.scalar(select(Service.id).where(Service.name == d.name)) is not None:
        c.err("name", f"a service named {d.name!r} already exists")
    if len(d.description) > MAX_DESCRIPTION:
        c.err("description", f"is {len(d.description)} characters long; at most {MAX_DESCRIPTION}")
    if not d.owner:
        c.err("owner", "is required")

    c.application = repo.find_application(c.session, d.application) if d.application else None
    if c.application is None:
        c.err("application", f"application {d.application!r} does not exist" if d.application else "is required")

    c.entity = repo.find_entity(c.session, d.entity) if d.entity else None
    if c.entity is None:
        c.err("entity", f"entity {d.entity!r} does not exist" if d.entity else "is required")
    else:
        c.entity_id = repo.find_entity_id(c.session, c.entity, d.entity_id)
        if c.entity_id is None:
            known = ", ".join(i.code for i in c.entity.ids)
            c.err("entity_id", f"entity {d.entity!r} has no entity ID {d.entity_id!r} (it has: {known})")


def _check_schedule(c: _Checking, default_timezone: str) -> str:
    """The daily time of a recurring service and the timezone; returns the timezone."""
    schedule = c.d.schedule
    tz = schedule.timezone or default_timezone
    if schedule.type == "recurring":
        if not schedule.daily_at:
            c.err("schedule.daily_at", "is required for a recurring service (HH:MM)")
        elif not DAILY_AT_RE.match(schedule.daily_at):
            c.err("schedule.daily_at", f"{schedule.daily_at!r} is not a time of day in HH:MM (00:00–23:59)")
    elif schedule.daily_at:
        c.err("schedule.daily_at", "a manual service has no daily time; remove it or make the service recurring")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        c.err("schedule.timezone", f"{tz!r} is not a known IANA timezone (e.g. Asia/Shanghai, UTC)")
    # Where its runs go: names Airflow's pools and Celery's queues accept (whether the pool exists
    # is Airflow's to say, at publish).
    if c.d.pool is not None and not POOL_RE.match(c.d.pool):
        c.err("pool", f"{c.d.pool!r} is not an Airflow pool name (1–256 letters, digits, _ . -)")
    if c.d.queue is not None and not QUEUE_RE.match(c.d.queue):
        c.err("queue", f"{c.d.queue!r} is not a queue name (1–128 letters, digits, _ . : -)")
    return tz


def _check_wait(c: _Checking) -> int | None:
    """How long a scheduled run waits for late sources: recurring services only; returns seconds."""
    schedule = c.d.schedule
    if schedule.type != "recurring":
        if schedule.wait_for_data not in (None, "", 0, "0"):
            c.err("schedule.wait_for_data", "a manual service's runs do not wait for data; remove it or make the "
                                            "service recurring")
        return None
    if schedule.wait_for_data in (None, ""):
        return waiting.DEFAULT_WAIT_SECONDS
    try:
        return waiting.parse_wait(schedule.wait_for_data)
    except ValidationFailed as exc:
        c.errors.extend(exc.errors)
        return None


def _check_target(c: _Checking, resolve_target_kind: Callable[[str], str] | None) -> None:
    """Loading policy, connection (its target kind and dialect), and names the dialect can hold."""
    t = c.d.target
    if t.load not in LOAD_MODES:
        c.err("target.load", f"loading policy {t.load!r} is not supported; one of {', '.join(LOAD_MODES)}")
    elif t.load == "changes" and t.partition is not None:
        # docs/changes-mode.md §4: a run of D writes a new partition; nothing to diff against
        c.err("target.load", "changes mode is for whole tables: a partitioned target writes partition D, which a "
                             "later date never rewrites; use overwrite")
    if not t.conn_id.strip():
        c.err("target.conn_id", "choose the data source (an Airflow connection) to write into")
    else:
        try:
            c.target_kind = (resolve_target_kind or _airflow_target_kind)(t.conn_id)
        except ValidationFailed as exc:
            c.errors.extend(FieldError("target.conn_id", e.message) for e in exc.errors)
    if not t.table.strip():
        c.err("target.table", "is required: the table the tags are written into")
    plain_table = bool(TABLE_NAME_RE.fullmatch(t.table))
    if t.table.strip() and not plain_table:
        c.err("target.table", f"{t.table!r} is not a valid table name: {TABLE_NAME_RULE}")
    if not c.target_kind:
        return
    target_kind = c.target_kind
    dialect = c.dialect = connections.dialect_of_kind(target_kind)
    if t.schema_ and not dialect.has_schemas:
        c.err("target.schema", f"{target_kind} targets have no schemas; remove the schema")
    for name_field, name in (("target.schema", t.schema_), ("target.table", t.table if plain_table else None),
                             ("target.key_column", t.key_column)):
        # a line break or an escape in a name would forge lines of a run's log or a terminal's output
        problem = ("must not contain control characters (line breaks, tabs, escapes)" if name and
                   CONTROL_CHAR_RE.search(name) else dialect.identifier_problem(name) if name else None)
        if problem:
            c.err(name_field, f"{name!r} {problem}")
    swap_problem = dialect.swap_name_problem(t.table) if plain_table else None
    if swap_problem and not dialect.identifier_problem(t.table):
        c.err("target.table", swap_problem)
    if t.partition is not None and not dialect.supports_partitions:
        what = target_kind if target_kind == WAREHOUSE else dialect.title
        c.err("target.partition", f"{what} targets cannot be partitioned; remove the partition")


def _check_lock_wait(c: _Checking) -> int | None:
    """How long the swap may keep trying for the table's lock; returns seconds, None for the default."""
    given = c.d.target.wait_for_lock
    if given in (None, ""):
        return None
    try:
        return waiting.parse_duration(given, "target.wait_for_lock", maximum=waiting.MAX_WAIT_SECONDS)
    except ValidationFailed as exc:
        c.errors.extend(exc.errors)
        return None


def _check_partition(c: _Checking) -> None:
    """One date partition field, a known format; the field is a column like the mapped ones."""
    partition = c.d.target.partition
    if partition is None:
        return
    given = partition.field
    if isinstance(given, list) and len(given) != 1 or isinstance(given, str) and "," in given:
        c.err("target.partition.field", "multi-level partitions are not supported; give one date partition field")
    if partition.format not in PARTITION_FORMATS:
        c.err("target.partition.format", f"{partition.format!r} is not one of {', '.join(PARTITION_FORMATS)}")
    if not given:
        c.err("target.partition.field", "is required for a partitioned target")
    one_field = given[0] if isinstance(given, list) and len(given) == 1 else \
        given if isinstance(given, str) and "," not in given else None
    if one_field and not COLUMN_RE.match(one_field):
        c.err("target.partition.field", f"{one_field!r} is not a usable column name")
    elif one_field and c.dialect is not None and c.dialect.identifier_problem(one_field):
        c.err("target.partition.field", f"column {one_field!r} {c.dialect.identifier_problem(one_field)}")


def _check_ownership(c: _Checking) -> None:
    """The application's target grant, and the table's claim."""
    t = c.d.target
    if c.application is not None and t.conn_id.strip():
        c.errors.extend(_ownership_problems(c.session, c.application, t.conn_id, t.schema_, t.table, c.target_kind,
                                            c.existing))


def _check_mappings(c: _Checking) -> None:
    """Each mapped tag: of the entity, keyed by its ID, granted; its columns usable and distinct."""
    d, t = c.d, c.d.target
    if not d.mappings:
        c.err("mappings", "map at least one tag")
    key_column = t.key_column or d.entity_id
    columns: dict[str, str] = {key_column.lower(): "the entity ID column"} if key_column else {}
    if t.partition is not None and isinstance(t.partition.field, str) and t.partition.field:
        columns[t.partition.field.lower()] = "the date partition field"
    for i, m in enumerate(d.mappings):
        where = f"mappings[{i}]"
        if m.tag in c.mapped:
            c.err(f"{where}.tag", f"tag {m.tag!r} is mapped twice")
            continue
        c.mapped.add(m.tag)
        _check_mapped_tag(c, where, m)
        if not m.value and not m.codename:
            c.err(f"{where}", f"tag {m.tag!r} has no output: map its value, its code name or both")
        for content, column in (("value", m.value), ("codename", m.codename)):
            if column:
                _check_column(c, columns, f"{where}.{content}", column)


def _check_mapped_tag(c: _Checking, where: str, m: MappingDef) -> None:
    tag = repo.find_tag(c.session, c.entity, m.tag) if c.entity else None
    if c.entity is not None and tag is None:
        c.err(f"{where}.tag", f"entity {c.d.entity!r} has no tag {m.tag!r}")
    if tag is None:
        return
    c.tags.append(tag)
    if c.entity_id is not None and tag.key_id != c.entity_id.id:
        c.err(f"{where}.tag", f"tag {m.tag!r} is keyed by {tag.key.code!r}, not by the service's "
              f"entity ID {c.d.entity_id!r}")
    if c.application is not None:
        ok, why = attention.effective_grant(c.session, c.application, tag, c.today)
        if not ok:
            c.err(f"{where}.tag", f"tag {m.tag!r} {why}")
    if m.codename and tag.lookup_id is None:
        c.err(f"{where}.codename", f"tag {m.tag!r} has no lookup, so it has no code name to export")


def _check_column(c: _Checking, columns: dict[str, str], where: str, column: str) -> None:
    """A mapped target column: usable, allowed by the dialect, not taken by another output."""
    if not COLUMN_RE.match(column):
        c.err(where, f"{column!r} is not a usable column name")
        return
    problem = c.dialect.identifier_problem(column) if c.dialect is not None else None
    if problem:
        c.err(where, f"column {column!r} {problem}")
    other = columns.get(column.lower())
    if other:
        c.err(where, f"target column {column!r} is already used by {other}")
    else:
        columns[column.lower()] = where


def _check_gates(c: _Checking) -> None:
    g = c.d.gates
    if g.min_rows is not None and g.min_rows < 0:
        c.err("gates.min_rows", "must be 0 or more")
    if g.max_change_ratio is not None and g.max_change_ratio < 0:
        c.err("gates.max_change_ratio", "must be 0 or more (0.5 allows ±50% rows against the live table)")
    for tag_code, ratio in g.max_null_ratio.items():
        if tag_code not in c.mapped:
            c.err(f"gates.max_null_ratio.{tag_code}", f"tag {tag_code!r} is not mapped by this service")
        if not 0 <= ratio <= 1:
            c.err(f"gates.max_null_ratio.{tag_code}", f"{ratio} is not a ratio between 0 and 1")


MAX_RECIPIENTS = 20


def _check_notify(c: _Checking, resolve_sender: Callable[[str], str]) -> None:
    """Notifications: an SMTP connection with a sender, recipients' addresses, known events."""
    n = c.d.notify
    if n is None:
        return
    if not n.to:
        c.err("notify.to", "name at least one recipient's email address")
    elif len(n.to) > MAX_RECIPIENTS:
        # a service mails its team, not a list: more is a mailing list's address (one recipient)
        c.err("notify.to", f"{len(n.to)} recipients: at most {MAX_RECIPIENTS} (use a mailing list's address for more)")
    seen: set[str] = set()
    for i, address in enumerate(n.to):
        if not EMAIL_RE.fullmatch(address):
            c.err(f"notify.to[{i}]", f"{address!r} is not an email address")
        elif address.lower() in seen:
            c.err(f"notify.to[{i}]", f"{address!r} is listed twice")
        seen.add(address.lower())
    if not n.events:
        c.err("notify.events", f"choose when to notify: {', '.join(NOTIFY_EVENTS)}")
    for i, event in enumerate(n.events):
        if event not in NOTIFY_EVENTS:
            c.err(f"notify.events[{i}]", f"{event!r} is not one of {', '.join(NOTIFY_EVENTS)}")
        elif event in n.events[:i]:
            c.err(f"notify.events[{i}]", f"{event!r} is listed twice")
    if not n.conn_id.strip():
        c.err("notify.conn_id", "choose the SMTP connection (an Airflow connection) the mails go through")
        return
    try:
        resolve_sender(n.conn_id)
    except ValidationFailed as exc:
        c.errors.extend(FieldError("notify.conn_id", e.message) for e in exc.errors)
        return
    if c.application is not None and permissions.application_scope(c.session, c.application, n.conn_id) is None:
        c.err("notify.conn_id", _not_granted("notify.conn_id", n.conn_id, c.application).message)


def _check_update_rules(c: _Checking) -> None:
    """An update: the state allows editing, and what cannot change did not."""
    existing, d = c.existing, c.d
    if existing is None:
        return
    refusal = states.refusal(existing, "edit")
    if refusal:
        c.err("", refusal)
    if d.name != existing.name:
        c.err("name", f"cannot be changed (was {existing.name!r})")
    if d.schedule.type != existing.schedule_type:
        c.err("schedule.type", f"cannot be changed (was {existing.schedule_type!r})")
    if c.target_kind and c.target_kind != existing.target_kind:
        c.err("target.conn_id", f"the target kind cannot change (was {existing.target_kind}, "
              f"connection {d.target.conn_id!r} is {c.target_kind})")


def _ownership_problems(session: Session, application: Application, conn_id: str, schema: str | None, table: str,
                        target_kind: str, existing: Service | None) -> list[FieldError]:
    """An application writes only connections (and schemas) granted to it, and only places no other
    service holds (docs/target-grants.md)."""
    if not target_kind:
        return []  # the connection is unknown or not a target, and said so
    scope = permissions.application_scope(session, application, conn_id)
    if scope is None:
        return [_not_granted("target.conn_id", conn_id, application)]
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
    held = targets.holder_of(session, place, existing.id if existing is not None else None)
    if held is not None:
        problems.append(targets.refusal(place, held))
    return problems


def _not_granted(field_name: str, conn_id: str, application: Application) -> FieldError:
    """One message for every connection a service uses (target, notifications): one model of grants."""
    return FieldError(field_name, f"connection {conn_id!r} is not granted to application {application.code!r}: a "
                                  f"catalog admin grants connections to applications (target grants)")


def _airflow_target_kind(conn_id: str) -> str:
    return connections.resolve_target(conn_id).kind
