"""Catalog drift: a published service whose catalog changed under it *needs attention* (spec §3).

The one home of the rule. What a service runs is the run spec frozen at publish (``live_spec``:
the version Airflow loaded); the catalog can change afterwards. ``drifts`` compares that spec with
the catalog now — a tag removed or retyped, its source table, key, value or partition column
renamed, its lookup changed or swapped, its grant revoked or expired, the entity ID retyped — and
says each change as one line. Everything asks this module: the list and details (REST, CLI, web
view) show the reason, ``states.refusal`` refuses publish / run / backfill with it,
``catalog apply --dry-run`` lists the services each change would affect (``catalog_impact``), and
the export task refuses to touch the target (``run_refusal``).

Grant expiry is computed, never scheduled: a grant holds through its ``expires`` date and has
expired from the day after (``grant_problem``); a service depending on it turns ``needs attention``
that day, in its own timezone, without anything having run.

A run reaches no catalog (spec §7: Airflow parses and runs a DAG without it, and Celery workers
may not reach the store). So the catalog side writes, per published service, an *attention
record* into an Airflow Variable (``record_key``) whenever the catalog changes (after the commit),
at publish and when Airflow loaded a version: per run-spec fingerprint, the drift reasons and the
earliest grant expiry. The export task reads its own fingerprint's entry through the Task SDK
(the execution API, which every worker has) and applies ``run_refusal`` before it opens the
target; the expiry date in the record makes the refusal start on time with no writer at all.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, object_session, selectinload

from airflow_provider_tagoffline import data_date
from airflow_provider_tagoffline.catalog.models import Application, Entity, EntityId, Grant, Lookup, Service, Tag
from airflow_provider_tagoffline.runspec import LookupSpec, RunSpec

NEEDS_ATTENTION = "needs attention"
#: Airflow Variable holding a service's attention record: tag_offline__<slug>__attention
RECORD_PREFIX, RECORD_SUFFIX = "tag_offline__", "__attention"


# ---- grants: the one expiry rule ----------------------------------------------------------------

def grant_lapsed(expires: dt.date | None, today: dt.date) -> bool:
    """A grant holds through its ``expires`` date and has expired from the next day on."""
    return expires is not None and expires < today


def grant_problem(grant: Grant | None, app_code: str, today: dt.date) -> str | None:
    """Why ``grant`` does not let application ``app_code`` export its tag today, or None."""
    if grant is None:
        return f"is not granted to application {app_code!r}"
    if grant.state != "approved":
        return f"grant to application {app_code!r} is {grant.state}, not approved"
    if grant_lapsed(grant.expires, today):
        assert grant.expires is not None
        return f"grant to application {app_code!r} expired on {grant.expires.isoformat()}"
    return None


def effective_grant(session: Session, application: Application, tag: Tag,
                    today: dt.date | None = None) -> tuple[bool, str]:
    """Whether ``application`` may export ``tag`` today, and why not (validation, same-name mapping)."""
    grant = session.scalar(select(Grant).where(Grant.application_id == application.id, Grant.tag_id == tag.id))
    problem = grant_problem(grant, application.code, today or dt.date.today())
    return (False, problem) if problem else (True, "")


# ---- the rule ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Drift:
    """One catalog change under a published service. ``kind`` and ``key`` name the catalog object
    as ``catalog apply``'s plan does (tag ``user.gender``, lookup ``gender_codes``, grant
    ``crm:user.gender``, entity_id ``user.user_id``)."""

    kind: str
    key: str
    reason: str
    #: republishing does not fix it while the draft maps the tag: it is gone, or not granted
    blocks_publish: bool = False


@dataclass(frozen=True)
class Attention:
    """What the catalog now says about the run spec a service runs."""

    drifts: tuple[Drift, ...] = ()
    #: the earliest expiry among the grants the spec depends on that still hold, and which grant
    expires: dt.date | None = None
    expiring: str | None = None

    @property
    def needed(self) -> bool:
        return bool(self.drifts)

    @property
    def reason(self) -> str:
        """One line: the first change, and how many more."""
        if not self.drifts:
            return ""
        more = len(self.drifts) - 1
        return self.drifts[0].reason + (f" (and {more} more change{'s' if more > 1 else ''})" if more else "")

    def reasons(self) -> list[str]:
        return [d.reason for d in self.drifts]

    def blocking_publish(self, mapped_tags: Iterable[str], entity: str) -> list[Drift]:
        """The drifts publishing the draft would not fix: a mapped tag that is gone or no longer
        granted. A retyped tag, a moved source or a changed lookup is fixed by republishing (the new
        run spec takes the catalog as it is now)."""
        keys = {f"{entity}.{t}" for t in mapped_tags}
        return [d for d in self.drifts if d.blocks_publish and d.key.split(":")[-1] in keys]


@dataclass(frozen=True)
class _TagNow:
    """A tag as the catalog holds it now, with its entity ID (code and type) and lookup code."""

    tag: Tag
    key_code: str
    key_type: str
    lookup_code: str | None


@dataclass
class _Catalog:
    """The catalog objects some run specs use: one query for the tags with their grants (a list page
    at once), one more for the lookups whose code names are exported."""

    tags: dict[tuple[str, str], _TagNow] = field(default_factory=dict)  # (entity, code)
    lookups: dict[str, Lookup] = field(default_factory=dict)
    grants: dict[tuple[str, int], Grant] = field(default_factory=dict)  # (application code, tag id)

    @classmethod
    def load(cls, session: Session, specs: Iterable[tuple[str, RunSpec]]) -> _Catalog:
        pairs = list(specs)
        out = cls()
        if not pairs:
            return out
        entities = {s.entity_key.entity for _, s in pairs}
        codes = {t.code for _, s in pairs for t in s.tags}
        key, lookup = aliased(EntityId), aliased(Lookup)
        apps = select(Application.id).where(Application.code.in_({a for a, _ in pairs}))
        rows = session.execute(
            select(Entity.code, Tag, key.code, key.value_type, lookup.code, Grant, Application.code)
            .join(Entity, Tag.entity_id == Entity.id).join(key, Tag.key_id == key.id)
            .outerjoin(lookup, Tag.lookup_id == lookup.id)
            .outerjoin(Grant, (Grant.tag_id == Tag.id) & Grant.application_id.in_(apps))
            .outerjoin(Application, Grant.application_id == Application.id)
            .where(Entity.code.in_(entities), Tag.code.in_(codes)))
        for entity, tag, key_code, key_type, lookup_code, grant, app in rows:
            out.tags[(entity, tag.code)] = _TagNow(tag, key_code, key_type, lookup_code)
            if grant is not None:
                out.grants[(app, tag.id)] = grant
        used = {c for _, s in pairs for c in s.lookups}
        if used:
            out.lookups = {lk.code: lk for lk in session.scalars(
                select(Lookup).where(Lookup.code.in_(used)).options(selectinload(Lookup.values)))}
        return out

    def id_type(self, entity: str, code: str) -> str | None:
        """The value type of entity ID ``code`` now, as the tags keyed by it say (one cannot be deleted
        while a tag is keyed by it; with none of its tags left, each tag's removal says enough)."""
        return next((t.key_type for (e, _), t in self.tags.items() if e == entity and t.key_code == code), None)


def drifts(spec: RunSpec, application: str, catalog: _Catalog, today: dt.date) -> Attention:
    """Compare the run spec a service runs with the catalog now (pure once the catalog is read)."""
    found: list[Drift] = []
    entity = spec.entity_key.entity
    key_id = f"{entity}.{spec.entity_key.code}"
    id_type = catalog.id_type(entity, spec.entity_key.code)
    if id_type is not None and id_type != spec.entity_key.type:
        found.append(Drift("entity_id", key_id, f"entity ID {key_id} was retyped from {spec.entity_key.type} "
                                                f"to {id_type}"))
    expires: tuple[dt.date, str] | None = None
    for t in spec.tags:
        key = f"{entity}.{t.code}"
        now = catalog.tags.get((entity, t.code))
        if now is None:
            found.append(Drift("tag", key, f"tag {key} was removed from the catalog", blocks_publish=True))
            continue
        found.extend(_tag_drifts(spec, t.code, now, key))
        grant = catalog.grants.get((application, now.tag.id))
        problem = grant_problem(grant, application, today)
        if problem:
            found.append(Drift("grant", f"{application}:{key}", f"tag {key}: {problem}", blocks_publish=True))
        elif grant is not None and grant.expires is not None and (expires is None or grant.expires < expires[0]):
            expires = (grant.expires, f"the grant of tag {key} to application {application!r}")
        if t.lookup and t.lookup in spec.lookups and now.lookup_code == t.lookup and t.lookup in catalog.lookups:
            values = _lookup_spec(catalog.lookups[t.lookup])
            if values != spec.lookups[t.lookup]:
                what = _what_changed(spec.lookups[t.lookup], values)
                found.append(Drift("lookup", t.lookup, f"lookup {t.lookup} of tag {key} changed ({what})"))
    unique = tuple(dict.fromkeys(found))  # two tags on one changed lookup: said once each
    return Attention(unique, expires[0] if expires else None, expires[1] if expires else None)


def _tag_drifts(spec: RunSpec, code: str, now_: _TagNow, key: str) -> list[Drift]:
    t, tag = spec.tag(code), now_.tag
    source = spec.sources[t.source]
    out = []
    if tag.value_type != t.type:
        out.append(Drift("tag", key, f"tag {key} was retyped from {t.type} to {tag.value_type}"))
    if now_.key_code != spec.entity_key.code:
        out.append(Drift("tag", key, f"tag {key} is keyed by {now_.key_code} now, not {spec.entity_key.code}"))
    was = {"source table": source.table, "key column": source.key, "value column": t.column,
           "partition column": source.partition.column if source.partition else None,
           "partition format": source.partition.format if source.partition else None}
    now = {"source table": tag.source_table, "key column": tag.source_key, "value column": tag.source_column,
           "partition column": tag.source_partition or None,
           "partition format": (tag.source_partition_format or "yyyyMMdd") if tag.source_partition else None}
    for what, before in was.items():
        if now[what] != before:
            verb = "was renamed" if before and now[what] and what != "partition format" else "changed"
            out.append(Drift("tag", key, f"the {what} of tag {key} {verb} from {before or 'none'} to "
                                         f"{now[what] or 'none'}"))
    lookup_now = now_.lookup_code
    if lookup_now != t.lookup:
        out.append(Drift("tag", key, f"the lookup of tag {key} changed from {t.lookup or 'none'} to "
                                     f"{lookup_now or 'none'}"))
    return out


def _lookup_spec(lookup: Lookup) -> LookupSpec:
    from airflow_provider_tagoffline.service.freeze import _lookup_spec as frozen

    return frozen(lookup)


def _what_changed(before: LookupSpec, now: LookupSpec) -> str:
    if before.kind != now.kind:
        return f"now a {now.kind} lookup, was {before.kind}"
    if now.kind == "inline":
        old, new = before.values or {}, now.values or {}
        parts = [f"{n} {w}" for n, w in ((len(new.keys() - old.keys()), "added"), (len(old.keys() - new.keys()),
                                         "removed"), (sum(1 for k in old.keys() & new.keys() if old[k] != new[k]),
                                                      "renamed")) if n]
        return "values: " + ", ".join(parts) if parts else "values"
    return ", ".join(f"{w} {getattr(before, w)} → {getattr(now, w)}" for w in ("table", "code_column", "name_column")
                     if getattr(before, w) != getattr(now, w))


# ---- services ----------------------------------------------------------------------------------

def live_spec(svc: Service) -> RunSpec | None:
    """The run spec Airflow runs for ``svc`` (None: nothing of it is live)."""
    return RunSpec.model_validate(svc.live_spec) if svc.live_spec else None


def today_of(svc: Service | RunSpec, now: dt.datetime | None = None) -> dt.date:
    """Today in the service's timezone: when a grant has expired for it."""
    spec = svc if isinstance(svc, RunSpec) else live_spec(svc)
    from airflow_provider_tagoffline import config

    return data_date.today(spec.schedule.timezone if spec else config.default_timezone(), now)


def of_many(session: Session, services: Iterable[Service], now: dt.datetime | None = None) -> dict[int, Attention]:
    """The attention of each service (by id), reading the catalog once for all of them."""
    live = [(svc, spec) for svc in services if (spec := live_spec(svc)) is not None]
    catalog = _Catalog.load(session, ((svc.application.code, spec) for svc, spec in live))
    return {svc.id: drifts(spec, svc.application.code, catalog, today_of(spec, now)) for svc, spec in live}


def of(svc: Service, session: Session | None = None, now: dt.datetime | None = None) -> Attention:
    """The attention of one service (none when nothing of it is live)."""
    session = session or object_session(svc)
    if session is None or not svc.live_spec:
        return Attention()
    return of_many(session, [svc], now).get(svc.id, Attention())


#: the actions catalog drift can refuse (``states.attention_refusal`` says how)
GUARDED = ("publish", "run", "backfill")


def drift_refusing(svc: Service, action: str, found: Attention) -> str | None:
    """The drift that stops ``action``: run and backfill stop at any; publish only at one republishing
    would not fix (a tag the draft still maps is gone or no longer granted)."""
    if not found.needed:
        return None
    if action != "publish":
        return found.reason
    mapped = [m.get("tag") for m in (svc.definition or {}).get("mappings", []) if isinstance(m, dict)]
    blocking = found.blocking_publish([t for t in mapped if isinstance(t, str)], svc.entity_code)
    return blocking[0].reason if blocking else None


def summary_fields(attention: Attention) -> dict[str, Any]:
    """What the list and the details show: ``attention`` (the one-line reason, or null) and every
    reason."""
    return {"attention": attention.reason or None, "attention_reasons": attention.reasons()}


# ---- the run's side: the record the export task reads ------------------------------------------

def record_key(slug: str) -> str:
    return f"{RECORD_PREFIX}{slug}{RECORD_SUFFIX}"


def record_entry(attention: Attention) -> dict[str, Any]:
    return {"reasons": attention.reasons(),
            "expires": attention.expires.isoformat() if attention.expires else None,
            "expiring": attention.expiring}


def run_refusal(record: str | dict[str, Any] | None, spec: RunSpec, today: dt.date) -> str | None:
    """Why the export of ``spec`` must not touch its target (one line), from the service's attention
    record; None to go on. No record, or none for this version: nothing to refuse (a DAG published
    before records existed)."""
    if record is None:
        return None
    data = json.loads(record) if isinstance(record, str) else record
    entry = (data.get("versions") or {}).get(spec.fingerprint())
    if not entry:
        return None
    reasons = list(entry.get("reasons") or [])
    if not reasons and entry.get("expires") and grant_lapsed(dt.date.fromisoformat(entry["expires"]), today):
        reasons = [f"{entry.get('expiring') or 'a grant'} expired on {entry['expires']}"]
    return run_message(spec, reasons) if reasons else None


def run_message(spec: RunSpec, reasons: list[str]) -> str:
    """The one line a refused run fails with (the export task, ``tagoffline run``)."""
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return (f"service {spec.service.name!r} {NEEDS_ATTENTION}: {reasons[0]}{more}; the catalog changed since "
            f"version {spec.service.version} was published, the target is untouched: fix it and republish")


def records(session: Session, services: Iterable[Service], now: dt.datetime | None = None) -> dict[str, str | None]:
    """The attention record of each service (Variable key → JSON, or None to remove it): an entry
    for the live version and, while publishing, for the version being published."""
    services = list(services)
    out: dict[str, str | None] = {}
    specs: list[tuple[Service, RunSpec]] = []
    for svc in services:
        wanted = [s for s in (svc.live_spec, svc.published_spec if svc.status == "publishing" else None) if s]
        for raw in wanted:
            specs.append((svc, RunSpec.model_validate(raw)))
        if not wanted:
            out[record_key(svc.slug)] = None
    catalog = _Catalog.load(session, ((svc.application.code, spec) for svc, spec in specs))
    versions: dict[str, dict[str, Any]] = {}
    for svc, spec in specs:
        entry = record_entry(drifts(spec, svc.application.code, catalog, today_of(spec, now)))
        versions.setdefault(svc.slug, {})[spec.fingerprint()] = entry
    for svc in services:
        if svc.slug in versions:
            out[record_key(svc.slug)] = json.dumps({"service": svc.name, "versions": versions[svc.slug]},
                                                   sort_keys=True, ensure_ascii=False)
    return out


#: services that may have a live version (``live_spec`` itself cannot say: unpublishing stores a JSON null)
MAYBE_LIVE = (Service.ever_published.is_(True), Service.status != "offline")


# ---- catalog apply --dry-run --------------------------------------------------------------------

@dataclass(frozen=True)
class Affected:
    service: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"service": self.service, "reason": self.reason}


Impact = dict[tuple[str, str], list[Affected]]


def impact_of(item_kind: str, item_key: str, impact: Impact) -> list[dict[str, str]]:
    """The services a plan item (kind, key) would affect, as the CLI's and REST's JSON say them."""
    return [a.to_dict() for a in impact.get((item_kind, item_key), [])]


def catalog_impact(session: Session, apply: Any) -> tuple[Any, Impact, Impact]:
    """What ``apply()`` (a real catalog apply in ``session``) would do to the live services: per plan
    item (kind, key), the services it would make need attention and the ones it would clear. The
    apply runs for real and is rolled back: give it a session of its own."""
    services = session.scalars(select(Service).where(*MAYBE_LIVE).options(selectinload(Service.application))).all()
    def now() -> dict[str, set[Drift]]:
        found = of_many(session, services)
        return {svc.name: set(found.get(svc.id, Attention()).drifts) for svc in services}

    before = now()
    try:
        plan = apply()
        session.flush()
        session.expire_all()
        after = now()
    finally:
        session.rollback()
    affects: dict[tuple[str, str], list[Affected]] = {}
    clears: dict[tuple[str, str], list[Affected]] = {}
    for name in sorted(before):
        for d in sorted(after[name] - before[name], key=lambda d: d.reason):
            affects.setdefault((d.kind, d.key), []).append(Affected(name, d.reason))
        for d in sorted(before[name] - after[name], key=lambda d: d.reason):
            clears.setdefault((d.kind, d.key), []).append(Affected(name, d.reason))
    return plan, affects, clears
