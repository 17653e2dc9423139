"""Publishing a service into Airflow and acting on it there (spec §3 actions, §7).

* ``publish``: freeze the draft into a run spec (validation errors stop here, nothing written),
  render the DAG file atomically into ``[tag_offline] dags_folder``, ask the dag-processor to parse
  it now, status ``publishing``.
* ``refresh``: reconcile a service with Airflow. ``publishing`` becomes ``published`` once Airflow's
  serialized DAG carries this run spec's fingerprint — the DAG is then unpaused — or
  ``publish_failed`` with Airflow's import error, or after ``[tag_offline] publish_timeout`` seconds.
  Callers (REST reads, the CLI's wait) call it; there is no background thread to keep alive.
* ``unpublish``: pause, remove the file, delete Airflow's records → ``offline`` or
  ``unpublish_failed`` with the reason.
* ``run`` / ``backfill`` / ``instances``: a DAG run whose export uses the chosen data date, an Airflow
  backfill over a data-date range, and the runs with their reports.

All calls into Airflow go through ``airflow_bridge``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from airflow_provider_tagoffline import airflow_bridge as af
from airflow_provider_tagoffline import config, data_date
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.models import Service, utcnow
from airflow_provider_tagoffline.errors import Conflict, TagOfflineError, ValidationFailed, first_line
from airflow_provider_tagoffline.rendering.factory import FINGERPRINT_LABEL, dag_id_for
from airflow_provider_tagoffline.rendering.render import (
    dag_file_name,
    remove_dag_file,
    write_dag_file,
)
from airflow_provider_tagoffline.runspec import RunSpec
from airflow_provider_tagoffline.service import access_records, held, lifecycle, permissions, records, states
from airflow_provider_tagoffline.service.states import ExecutionStatus, TaskStatus

log = logging.getLogger(__name__)

MAX_BACKFILL_DATES = 3660
MAX_ERROR_CHARS = 4000


class AirflowUnavailable(TagOfflineError):
    """Airflow's metadata database could not be reached or refused the call (REST: 502)."""

    http_status = 502


class SkippedDate(BaseModel):
    """A data date of a backfill's range that Airflow will not run, and what to do instead."""

    data_date: str
    reason: str


class ActionResult(BaseModel):
    """Outcome of publish / unpublish / run / backfill."""

    # The one shape of an outcome: the REST API's response and `tagoffline service ... --json` alike.
    model_config = ConfigDict(extra="allow", populate_by_name=True, allow_inf_nan=False)
    service: str
    action: str
    status: str | None = None
    message: str = ""
    dag_id: str | None = None
    run_id: str | None = None
    data_date: str | None = None
    start: str | None = None
    end: str | None = None
    dag_file: str | None = None
    run_ids: list[str] = Field(default_factory=list, description="runs a backfill created, oldest first")
    data_dates: list[str] = Field(default_factory=list, description="the data dates of a backfill's runs, oldest "
                                                                    "first")
    skipped: list[SkippedDate] = Field(default_factory=list,
                                       description="data dates of a backfill's range Airflow did not run, and why")
    warning: str | None = Field(default=None, description="what a backfill leaves in a whole-table target")


class BackfillPlan(BaseModel):
    """What a backfill would do, said before it starts (spec §4): Airflow's own dry run of it."""

    model_config = ConfigDict(populate_by_name=True, allow_inf_nan=False)
    service: str
    start: str
    end: str
    runs: int = Field(description="how many runs Airflow will create: one per data date in data_dates")
    data_dates: list[str] = Field(default_factory=list,
                                  description="the data dates Airflow's backfill dry run runs, oldest first")
    skipped: list[SkippedDate] = Field(default_factory=list,
                                       description="data dates of the range Airflow will not run: why, and what "
                                                   "to do instead")
    whole_table: bool = Field(description="the target is a whole table (no date partition): each run replaces it")
    holds: str | None = Field(default=None, description="the data date the whole-table target holds now, if known")
    ends_at: str | None = Field(default=None, description="the data date a whole-table target holds afterwards "
                                                          "(the last run's)")
    needs_allow_older: bool = Field(description="some run is older than what the table holds: refused unless "
                                                "allow_older")
    warning: str | None = Field(default=None, description="what the backfill leaves in a whole-table target")


# ---- publish / refresh / unpublish -------------------------------------------------------------

def dag_file_path(svc: Service, folder: Path | None = None) -> Path:
    return (folder or config.dags_folder()) / dag_file_name(svc.slug)


def publish(session: Session, actor: repo.Actor, name: str, ctx: lifecycle.ServiceContext | None = None,
            folder: Path | None = None) -> ActionResult:
    svc = lifecycle.get_service(session, name)
    permissions.require_action(actor, svc, "publish")
    spec = lifecycle.freeze_service(session, name, ctx)  # ValidationFailed: nothing written
    roles = access_records.roles_to_publish(spec.service.application)  # ValidationFailed: nothing written
    if roles:
        spec = spec.model_copy(update={"airflow_roles": roles})
    lifecycle.claim_target(session, name)  # the place it will write is its own, as data
    if spec.pool and af.pool_exists(spec.pool) is False:
        # A task in a pool Airflow does not have is never scheduled: say so before the DAG exists.
        raise ValidationFailed.one("pool", f"Airflow has no pool {spec.pool!r}: create it (Admin → Pools, or "
                                           f"`airflow pools set {spec.pool} SLOTS DESCRIPTION`) or leave pool empty")
    path = dag_file_path(svc, folder)
    try:
        write_dag_file(spec, path.parent)
    except OSError as exc:
        _set_status(svc, TaskStatus.PUBLISH_FAILED, f"cannot write the DAG file {path}: {exc}")
        repo.audit(session, actor, "publish", "service", name, {"version": svc.version, "error": str(exc)})
        return _outcome(svc, "publish", path)
    svc.published_version, svc.published_spec = svc.version, spec.to_dict()
    svc.spec_fingerprint, svc.publish_requested_at = spec.fingerprint(), utcnow()
    _set_status(svc, TaskStatus.PUBLISHING, f"DAG file written; waiting for Airflow to parse {path.name}")
    repo.audit(session, actor, "publish", "service", name, {"version": svc.version, "dag_file": str(path)})
    records.sync_records(session, [svc])  # the new version's entry, before Airflow can run it
    try:
        location = af.locate(path)
        if location is None:
            svc.status_message = (f"DAG file written to {path}, which is in no DAG bundle of this Airflow: "
                                  f"set [tag_offline] dags_folder inside [core] dags_folder")
        else:
            af.request_parse(location)
    except Exception as exc:  # Airflow's database down: the bundle refresh still finds the file
        log.warning("could not ask Airflow to parse %s now: %s", path, exc)
    session.flush()
    return _outcome(svc, "publish", path)


def refresh(session: Session, svc: Service, now: dt.datetime | None = None) -> bool:
    """Move a ``publishing`` service on from what Airflow reports; True when the status changed."""
    if svc.status != TaskStatus.PUBLISHING:
        return False
    now = now or utcnow()
    path = dag_file_path(svc)
    dag_id = dag_id_for(svc.slug)
    location = None
    try:
        location = af.locate(path)
        state = af.parse_state(dag_id, location)
    except Exception as exc:
        log.warning("cannot read Airflow's parse state of %s: %s", dag_id, exc)
        state = None
    requested = svc.publish_requested_at or now
    if state is not None and state.dag_known and not state.is_stale and _carries(state.doc_md, svc.spec_fingerprint):
        try:
            af.set_paused(dag_id, False)
        except Exception as exc:
            log.warning("could not unpause %s: %s", dag_id, exc)
        svc.ever_published = True
        svc.live_spec = svc.published_spec
        _set_status(svc, TaskStatus.PUBLISHED, "")
        records.sync_records(session, [svc])  # only the live version's entry is left
    elif state is not None and state.import_error and (state.import_error_at or now) >= requested - dt.timedelta(
            seconds=1):
        _set_status(svc, TaskStatus.PUBLISH_FAILED,
                    f"Airflow could not import {path.name}: {_tail(state.import_error)}")
        _restore_live_version(svc, path, location)
    elif (reason := publish_timed_out(now, requested, config.publish_timeout(), state)) is not None:
        _set_status(svc, TaskStatus.PUBLISH_FAILED, f"Airflow did not load {path.name} {reason}")
        _restore_live_version(svc, path, location)
    else:
        # Still waiting. Airflow skips re-serializing a DAG written less than
        # [core] min_serialized_dag_update_interval ago, so ask again until this version is in.
        if state is not None and location is not None:
            try:
                af.request_parse(location)
            except Exception as exc:
                log.warning("could not ask Airflow to parse %s: %s", path, exc)
        return False
    session.flush()
    return True


#: how much longer than ``publish_timeout`` a publish may wait while Airflow is visibly busy with the folder
BACKLOG_FACTOR = 10


def publish_timed_out(now: dt.datetime, requested: dt.datetime, timeout: float,
                      state: af.ParseState | None) -> str | None:
    """Why a publish still not loaded has waited long enough, or None to go on waiting.

    ``publish_timeout`` counts Airflow's silence, not the queue: after many services are published at
    once (1,000 in ``bench/bench_scale.py``) the dag-processor parses their files one after another
    for minutes. While it keeps parsing files of this folder after the publish, the wait goes on, up
    to ``BACKLOG_FACTOR`` timeouts in all.
    """
    waited = (now - requested).total_seconds()
    if waited <= timeout:
        return None
    if state is None:
        return f"within {timeout:g} s (Airflow's database was not reachable)"
    busy_at = state.folder_parsed_at
    working = busy_at is not None and busy_at >= requested and (now - busy_at).total_seconds() <= timeout
    if not working:
        return f"within {timeout:g} s (is the dag-processor running?)"
    if waited > timeout * BACKLOG_FACTOR:
        return (f"within {timeout * BACKLOG_FACTOR:g} s although the dag-processor kept parsing its folder "
                "(is the file excluded by an .airflowignore?)")
    return None


def _restore_live_version(svc: Service, path: Path, location: af.DagFileLocation | None) -> None:
    """A failed republish must not take the running DAG down: write back the version Airflow last
    loaded (when there is one and it differs), and say so."""
    if not svc.live_spec:
        return
    live = RunSpec.model_validate(svc.live_spec)
    if live.fingerprint() == svc.spec_fingerprint:
        return
    try:
        write_dag_file(live, path.parent)
        if location is not None:
            af.request_parse(location)
    except Exception as exc:
        log.warning("could not restore version %s of %s: %s", live.service.version, svc.name, exc)
        return
    svc.published_version, svc.published_spec = live.service.version, svc.live_spec
    svc.spec_fingerprint = live.fingerprint()
    svc.status_message = (svc.status_message + f"; the previously published version {live.service.version} "
                          "was put back and keeps running")[-MAX_ERROR_CHARS:]


_last_pending_refresh = 0.0
PENDING_REFRESH_EVERY = 2.0  # seconds; list pages are read often, Airflow changes slower


def refresh_pending(session: Session) -> int:
    """Refresh every ``publishing`` service (few at any time), at most every 2 s per process;
    returns how many changed."""
    global _last_pending_refresh
    now = time.monotonic()
    if now - _last_pending_refresh < PENDING_REFRESH_EVERY:
        return 0
    _last_pending_refresh = now
    pending = session.scalars(select(Service).where(Service.status == TaskStatus.PUBLISHING)).all()
    return sum(refresh(session, svc) for svc in pending)


def unpublish(session: Session, actor: repo.Actor, name: str, folder: Path | None = None) -> ActionResult:
    svc = lifecycle.get_service(session, name)
    permissions.require_action(actor, svc, "unpublish")
    path = dag_file_path(svc, folder)
    _set_status(svc, TaskStatus.UNPUBLISHING, "")
    session.flush()
    try:
        _remove_from_airflow(svc.slug, path)
    except Exception as exc:
        _set_status(svc, TaskStatus.UNPUBLISH_FAILED, f"unpublish failed: {exc}")
        repo.audit(session, actor, "unpublish", "service", name, {"error": str(exc)})
        session.flush()
        return _outcome(svc, "unpublish", path)
    _set_status(svc, TaskStatus.OFFLINE, "")
    svc.execution_status = ExecutionStatus.NONE
    svc.live_spec = None
    records.sync_records(session, [svc])  # nothing live: the record goes
    repo.audit(session, actor, "unpublish", "service", name, {"version": svc.published_version})
    session.flush()
    return _outcome(svc, "unpublish", path)


def delete(session: Session, actor: repo.Actor, name: str, folder: Path | None = None) -> None:
    """Delete a service (the guards of ``lifecycle.delete_service``); a publish_failed one may have
    left a DAG file behind, which goes too. Raised here, the error rolls the deletion back."""
    svc = lifecycle.get_service(session, name)
    status, path = svc.status, dag_file_path(svc, folder)
    slug = svc.slug
    lifecycle.delete_service(session, actor, name)
    if status == TaskStatus.PUBLISH_FAILED:
        try:
            _remove_from_airflow(slug, path)
        except Exception as exc:
            raise AirflowUnavailable(f"service {name!r} not deleted: its DAG could not be removed: {exc}") from exc


def _remove_from_airflow(slug: str, path: Path) -> None:
    dag_id = dag_id_for(slug)
    location = af.locate(path)
    af.set_paused(dag_id, True)  # no new runs while the records go
    remove_dag_file(slug, path.parent)
    af.delete_dag_records(dag_id, location)


# ---- runs -------------------------------------------------------------------------------------

def yesterday(svc: Service) -> dt.date:
    """T-1 in the service's timezone (``data_date``'s rule for a run started now)."""
    return data_date.yesterday(_timezone(svc))


def run(session: Session, actor: repo.Actor, name: str, day: dt.date | None = None,
        from_cli: bool = False, allow_older: bool = False) -> ActionResult:
    """Trigger one DAG run of a published manual service exporting ``day`` (default T-1); a whole-table
    target holding a later data date refuses it unless ``allow_older``."""
    svc = lifecycle.get_service(session, name)
    permissions.require_action(actor, svc, "run")
    if allow_older:
        permissions.require_allow_older(actor, svc)
    today = yesterday(svc) + dt.timedelta(days=1)
    day = day or today - dt.timedelta(days=1)
    if day > today:
        raise ValidationFailed.one("data_date", f"{day} is in the future (today is {today} in {_timezone(svc)})")
    spec = RunSpec.model_validate(svc.published_spec)
    if spec.target.partition is None and (
            reason := data_date.older_refusal(target_name(spec), day, held_data_date(spec), allow_older)):
        raise Conflict(reason)
    conf: dict[str, Any] = {data_date.DATA_DATE_PARAM: day.isoformat()}
    if allow_older:
        conf[data_date.ALLOW_OLDER_PARAM] = True
    try:
        run_id = af.new_manual_run_id()
        access_records.vouch(svc, {run_id: (actor.username, conf, 0)})  # before the run exists: the task checks it
        run_id = af.trigger_run(dag_id_for(svc.slug), conf, actor.username, from_cli, run_id=run_id)
    except af.AirflowCallFailed as exc:
        raise Conflict(f"Airflow refused the run of {name!r}: {exc}") from exc
    except Exception as exc:
        raise AirflowUnavailable(f"cannot reach Airflow to run {name!r}: {exc}") from exc
    svc.execution_status = ExecutionStatus.QUEUED
    repo.audit(session, actor, "run", "service", name, {"data_date": day.isoformat(), "run_id": run_id,
                                                          **({"allow_older": True} if allow_older else {})})
    session.flush()
    out = _outcome(svc, "run", None)
    out.run_id, out.data_date = run_id, day.isoformat()
    out.message = f"run {run_id} queued for data date {day}"
    return out


def target_name(spec: RunSpec) -> str:
    """How refusals name a target: ``conn_id:schema.table``."""
    return held.target_name(spec)


def held_data_date(spec: RunSpec) -> dt.date | None:
    """The data date the whole-table target holds: its own record, else Airflow's (None: unknown)."""
    return held.held_data_date(spec)


def backfill_dates(start: dt.date | None, end: dt.date | None, yesterday: dt.date,
                   timezone: str) -> tuple[dt.date, dt.date]:
    """The data dates [start, end] a backfill covers (defaults: start T-1, end = start): the one check
    of its limits, whoever asks (REST, CLI). Later dates than yesterday are the schedule's."""
    start = start or yesterday
    end = end or start
    if end < start:
        raise ValidationFailed.one("end", f"{end} is before start {start}")
    if end > yesterday:
        raise ValidationFailed.one("end", f"{end} is after yesterday ({yesterday} in {timezone}); "
                                          "later data dates are exported by the schedule")
    if (end - start).days + 1 > MAX_BACKFILL_DATES:
        raise ValidationFailed.one("end", f"a backfill covers at most {MAX_BACKFILL_DATES} data dates")
    return start, end


def backfill_plan(session: Session, name: str, start: dt.date | None = None,
                  end: dt.date | None = None) -> BackfillPlan:
    """What a backfill of [start, end] would do (defaults: start T-1, end = start), before it starts: the
    runs of Airflow's own backfill dry run, each other date of the range with why it is not run and what
    to do instead, and what a whole-table target ends at."""
    return _plan(session, lifecycle.get_service(session, name), start, end)[0]


def backfill(session: Session, actor: repo.Actor, name: str, start: dt.date | None = None,
             end: dt.date | None = None, allow_older: bool = False) -> ActionResult:
    """An Airflow backfill of a published recurring service: the runs its plan (``backfill_plan``) says,
    oldest first (defaults: start T-1, end = start). On a whole-table target, dates older than the one it
    holds are refused unless ``allow_older``; the outcome's ``warning`` says what it will end at."""
    svc = lifecycle.get_service(session, name)
    permissions.require_action(actor, svc, "backfill")
    if allow_older:
        permissions.require_allow_older(actor, svc)
    conf = {data_date.ALLOW_OLDER_PARAM: True} if allow_older else None
    plan, logical = _plan(session, svc, start, end, conf)
    if not logical:
        raise Conflict(f"backfill of {name!r}: Airflow has no run to create for data dates {plan.start} to "
                       f"{plan.end}: " + "; ".join(f"{s.data_date}: {s.reason}" for s in plan.skipped))
    if plan.needs_allow_older and not allow_older:
        assert plan.holds is not None
        raise Conflict("backfill: " + (data_date.older_refusal(
            target_name(RunSpec.model_validate(svc.published_spec)), dt.date.fromisoformat(plan.data_dates[0]),
            dt.date.fromisoformat(plan.holds), False) or ""))
    try:
        # Exactly the planned logical dates: a daily time passing meanwhile adds no run the plan did not say.
        created = af.create_backfill(dag_id_for(svc.slug), logical[0], logical[-1], actor.username, conf)
        # right away (its first run starts a scheduler loop later at least), as Airflow holds them: a date that
        # ran before is that run again, with its triggering user
        access_records.vouch(svc, af.run_identities(dag_id_for(svc.slug), created.run_ids))
    except af.AirflowCallFailed as exc:
        raise Conflict(f"Airflow refused the backfill of {name!r}: {exc}") from exc
    except Exception as exc:
        raise AirflowUnavailable(f"cannot reach Airflow to backfill {name!r}: {exc}") from exc
    tz = _timezone(svc)
    # A run that went in flight since the plan (a scheduled one starting) is left to that run by Airflow.
    gone = {_backfill_data_date(when, tz): f"Airflow did not re-run it: a run of it is {why}"
            for when, why in created.skipped}
    dates = [d for d in plan.data_dates if d not in gone]
    skipped = plan.skipped + [SkippedDate(data_date=d, reason=why) for d, why in sorted(gone.items())]
    svc.execution_status = ExecutionStatus.QUEUED
    repo.audit(session, actor, "backfill", "service", name,
               {"start": plan.start, "end": plan.end, "backfill_id": created.backfill_id, "runs": len(created.run_ids),
                "data_dates": dates, **({"skipped": [s.data_date for s in skipped]} if skipped else {}),
                **({"allow_older": True} if allow_older else {})})
    session.flush()
    out = _outcome(svc, "backfill", None)
    out.start, out.end, out.run_ids, out.warning = plan.start, plan.end, created.run_ids, plan.warning
    out.data_dates, out.skipped = dates, skipped
    span = f"data date {dates[0]}" if len(dates) == 1 else f"data dates {dates[0]} to {dates[-1]}" if dates else \
        "no data date"
    out.message = f"backfill {created.backfill_id}: {len(created.run_ids)} run(s) for {span}, oldest first" + "".join(
        f"; {s.data_date} not run: {s.reason}" for s in skipped)
    return out


def _plan(session: Session, svc: Service, start: dt.date | None, end: dt.date | None,
          conf: dict[str, Any] | None = None) -> tuple[BackfillPlan, list[dt.datetime]]:
    """The plan of a backfill and the logical dates of its runs, from Airflow's dry run."""
    if (why := states.refusal(svc, "backfill")) is not None:
        raise Conflict(why)
    tz = _timezone(svc)
    start, end = backfill_dates(start, end, yesterday(svc), tz)
    spec = RunSpec.model_validate(svc.published_spec)
    # The DAG's timetable puts the run of data date D at logical date D HH:MM (the interval start),
    # so the whole local days [start, end] hold exactly the logical dates of these data dates.
    zone = ZoneInfo(tz)
    first = dt.datetime.combine(start, dt.time(0, 0), zone)
    last = dt.datetime.combine(end, dt.time(23, 59, 59), zone)
    try:
        intervals = af.backfill_dry_run(dag_id_for(svc.slug), first, last, conf)
    except af.AirflowCallFailed as exc:
        raise Conflict(f"Airflow cannot plan a backfill of {svc.name!r}: {exc}") from exc
    except Exception as exc:
        raise AirflowUnavailable(f"cannot reach Airflow to plan a backfill of {svc.name!r}: {exc}") from exc
    by_date = {_backfill_data_date(i.logical_date, tz): i for i in intervals}
    logical, dates, skipped = [], [], []
    day = start
    while day <= end:
        interval = by_date.get(day.isoformat())
        if interval is not None and interval.runs:
            logical.append(interval.logical_date)
            dates.append(day.isoformat())
        else:
            skipped.append(SkippedDate(data_date=day.isoformat(), reason=_not_run_reason(interval, day, tz)))
        day += dt.timedelta(days=1)
    whole = spec.target.partition is None
    held = held_data_date(spec) if whole else None
    first_run, last_run = (dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[-1])) if dates else (None, None)
    plan = BackfillPlan(
        service=svc.name, start=start.isoformat(), end=end.isoformat(), runs=len(dates), data_dates=dates,
        skipped=skipped, whole_table=whole, holds=held.isoformat() if held else None,
        ends_at=last_run.isoformat() if whole and last_run else None,
        needs_allow_older=whole and first_run is not None and data_date.backfill_needs_allow_older(first_run, held),
        warning=data_date.backfill_outlook(target_name(spec), first_run, last_run, held)
        if whole and first_run and last_run else None)
    return plan, logical


def _backfill_data_date(logical_date: dt.datetime, tz: str) -> str:
    """The data date a backfill run of ``logical_date`` exports (``data_date``'s rule)."""
    return data_date.data_date_for_run("backfill", logical_date, None, tz).isoformat()


def _not_run_reason(interval: af.BackfillInterval | None, day: dt.date, tz: str) -> str:
    """Why Airflow's backfill leaves data date ``day`` out, and what to do instead."""
    trigger = f"or trigger a run with data date {day} now (Airflow's Trigger form)"
    if interval is None:
        return f"the schedule has no run for it (no daily time on {day} in {tz}); {trigger}"
    if interval.existing_run is not None:
        return (f"its run {interval.existing_run} is {interval.existing_state}: Airflow leaves the date to that run, "
                "which exports it (backfill it again once that run has finished to run it once more)")
    ends = interval.interval_end.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
    return (f"its data interval has not ended yet (it ends at {ends} {tz}), so Airflow cannot backfill it: "
            f"the scheduled run at that time exports it, {trigger}")


def airflow_pause(svc: Service) -> af.AirflowPause | None:
    """Who last paused or unpaused the DAG of ``svc`` outside the plugin since its latest publish, and when
    (Airflow's audit log); None when nobody did, or Airflow cannot be asked."""
    if not svc.ever_published:
        return None
    try:
        events = af.pause_events(dag_id_for(svc.slug), since=svc.publish_requested_at, limit=1)
    except Exception as exc:
        log.warning("cannot read who paused %s in Airflow: %s", svc.name, first_line(exc))
        return None
    return events[0] if events else None


def instances(session: Session, name: str, limit: int = 50) -> list[af.Instance]:
    """The DAG runs of a service, newest first, with the data date each exported and its report."""
    svc = lifecycle.get_service(session, name)
    try:
        rows = af.dag_runs(dag_id_for(svc.slug), limit, _timezone(svc))
    except Exception as exc:
        raise AirflowUnavailable(f"cannot read the runs of {name!r} from Airflow: {exc}") from exc
    if rows:
        _set_execution_status(svc, rows[0].state)
        session.flush()
    return rows


def sync_execution_status(session: Session, services: list[Service]) -> None:
    """Execution status = the state of the latest run (one Airflow query for the whole page)."""
    live = {dag_id_for(s.slug): s for s in services if s.ever_published and (s.status in (
        TaskStatus.PUBLISHED, TaskStatus.PUBLISHING, TaskStatus.UNPUBLISH_FAILED) or s.live_spec)}
    if not live:
        return
    try:
        latest = af.latest_run_states(live)
    except Exception as exc:
        log.warning("cannot read run states from Airflow: %s", exc)
        return
    for dag_id, state in latest.items():
        _set_execution_status(live[dag_id], state)
    session.flush()


# ---- helpers ----------------------------------------------------------------------------------

def _carries(doc_md: str | None, fingerprint: str | None) -> bool:
    return bool(doc_md and fingerprint and f"{FINGERPRINT_LABEL}`{fingerprint}`" in doc_md)


def _set_status(svc: Service, status: TaskStatus, message: str) -> None:
    svc.status, svc.status_message = status, message[:MAX_ERROR_CHARS]


#: Airflow's state of a run (its export task's while it is not over) → the service's execution status
_EXECUTION = {"queued": ExecutionStatus.QUEUED, "scheduled": ExecutionStatus.QUEUED,
              "running": ExecutionStatus.RUNNING, "restarting": ExecutionStatus.RUNNING,
              "deferred": ExecutionStatus.WAITING, "up_for_reschedule": ExecutionStatus.WAITING,
              "up_for_retry": ExecutionStatus.RETRYING,
              "success": ExecutionStatus.SUCCESS, "failed": ExecutionStatus.FAILED}


def _set_execution_status(svc: Service, state: str | None) -> None:
    mapped = _EXECUTION.get(state or "")
    if mapped is not None and svc.execution_status != mapped:
        svc.execution_status = mapped


def _timezone(svc: Service) -> str:
    spec: dict[str, Any] = svc.published_spec or {}
    return str(spec.get("schedule", {}).get("timezone") or config.default_timezone())


def _tail(text: str) -> str:
    """The end of a traceback says what went wrong."""
    text = text.strip()
    return text if len(text) <= MAX_ERROR_CHARS - 200 else "…" + text[-(MAX_ERROR_CHARS - 200):]


def _outcome(svc: Service, action: str, path: Path | None) -> ActionResult:
    return ActionResult(service=svc.name, action=action, status=svc.status, message=svc.status_message,
                         dag_id=dag_id_for(svc.slug), dag_file=str(path) if path else None)

