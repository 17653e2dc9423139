"""Preview of a service for a data date (spec §3 "preview"), for the CLI, the REST API and the web view:
who may, which definition, which data date; the engine (``engine/preview/``) does the reading.

A saved service previews what its next run would do: the published definition if there is one, else
the draft frozen now (``tagoffline run`` takes the same). An unsaved draft (the web view's form before
saving) is validated and frozen as publishing would, and previewed without being stored; it stands
for the saved service of its name only when the caller may manage that one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from airflow_provider_tagoffline import data_date, runs
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.models import Service
from airflow_provider_tagoffline.engine import preview as engine_preview
from airflow_provider_tagoffline.engine.preview import Preview
from airflow_provider_tagoffline.errors import ValidationFailed
from airflow_provider_tagoffline.runspec import RunSpec
from airflow_provider_tagoffline.service import held, lifecycle, permissions
from airflow_provider_tagoffline.service.definition import ServiceDef
from airflow_provider_tagoffline.service.freeze import freeze
from airflow_provider_tagoffline.service.lifecycle import ServiceContext, slugify
from airflow_provider_tagoffline.service.validation import validate_service

DEFAULT_SAMPLE = engine_preview.DEFAULT_SAMPLE
MAX_SAMPLE = engine_preview.MAX_SAMPLE


@dataclass(frozen=True)
class PreviewRequest:
    data_date: dt.date | None = None  # default: T-1 in the service's timezone
    sample: int = DEFAULT_SAMPLE
    allow_older: bool = False  # as the run's allow_older: an older data date on a whole table is not a failure


def _day(requested: dt.date | None, timezone: str) -> dt.date:
    today = data_date.today(timezone)
    day = requested or today - dt.timedelta(days=1)
    if day >= today:
        raise ValidationFailed.one("data_date", f"{day} has not ended yet (today is {today} in {timezone}): a "
                                                "run exports a data date after it ends")
    return day


def _sample(n: int) -> int:
    if not 0 <= n <= MAX_SAMPLE:
        raise ValidationFailed.one("sample", f"{n} is not between 0 and {MAX_SAMPLE}")
    return n


def spec_of(session: Session, svc: Service, ctx: ServiceContext | None = None) -> RunSpec:
    """What the service's next run would export: the published spec, else the draft frozen now."""
    if svc.published_spec:
        return RunSpec.model_validate(svc.published_spec)
    return lifecycle.freeze_service(session, svc.name, ctx)


def preview_service(session: Session, actor: repo.Actor, name: str, req: PreviewRequest = PreviewRequest(),
                    ctx: ServiceContext | None = None) -> Preview:
    svc = lifecycle.get_service(session, name)
    permissions.require_data_preview(actor, svc)
    sample = _sample(req.sample)
    spec = spec_of(session, svc, ctx)
    return runs.preview(spec, _day(req.data_date, spec.schedule.timezone), sample=sample,
                                  allow_older=req.allow_older, held_elsewhere=lambda: held.held_in_airflow(spec))


def preview_draft(session: Session, actor: repo.Actor, d: ServiceDef, req: PreviewRequest = PreviewRequest(),
                  ctx: ServiceContext | None = None) -> Preview:
    """Preview a definition as posted (the form before saving); nothing is stored."""
    permissions.require_draft_data_preview(session, actor, d)
    sample = _sample(req.sample)
    ctx = ctx or ServiceContext()
    # Compared with the saved service of its name only for who manages it; else a new service, whose
    # name and place must be free. Validation then holds it to the catalog (grants, claims).
    existing = lifecycle.draft_existing(session, actor, d)
    v = validate_service(session, d, existing=existing, resolve_target_kind=ctx.resolve_target_kind,
                         default_timezone=ctx.timezone())
    spec = freeze(v, slug=existing.slug if existing else slugify(d.name),
                  version=existing.version if existing else 1, warehouse_conn_id=ctx.warehouse())
    return runs.preview(spec, _day(req.data_date, spec.schedule.timezone), sample=sample,
                                  allow_older=req.allow_older, held_elsewhere=lambda: held.held_in_airflow(spec))
