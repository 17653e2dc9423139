"""Every call into Airflow's internals, in one module.

Publishing needs things Airflow has no public Python API for: asking the dag-processor to parse a
file now, reading whether this version of a DAG was parsed (``DagCode``) or failed to import
(``ParseImportError``), pausing, deleting a DAG's records, triggering runs, creating backfills and
reading runs with their XCom; the web form's connection list reads the stored connections. These
are ORM models and ``airflow.api.common`` helpers that Airflow may change between minor versions,
so nothing else in the package imports them (``airflow.models``, ``airflow.utils.session``,
``airflow.api.common``): an upgrade of Airflow touches this file only. Written against Airflow 3.3.

Every function opens its own session on Airflow's metadata database (``create_session``), which
commits on success; so it works in the API server, in the ``tagoffline`` CLI and in tests alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

EXPORT_TASK_ID = "export"


class AirflowCallFailed(Exception):
    """Airflow refused or failed an operation; the message is Airflow's own."""


@dataclass(frozen=True)
class DagFileLocation:
    bundle_name: str
    relative_path: str  # inside the bundle, as Airflow stores it (DagModel.relative_fileloc)


@dataclass(frozen=True)
class ParseState:
    """What Airflow's metadata database says about one DAG and its file."""

    dag_known: bool
    is_stale: bool
    is_paused: bool | None
    doc_md: str | None  # the doc of the DAG as Airflow serialized it: what runs is this
    import_error: str | None
    import_error_at: dt.datetime | None
    #: when the dag-processor last parsed any DAG of the file's folder: Airflow is still working
    #: through a backlog of published files while this moves
    folder_parsed_at: dt.datetime | None = None


# One run of a service's DAG, as every surface shows it: built here from Airflow's records, returned
# by service/publishing.py and sent as it is by the REST API and `tagoffline service instances --json`.
# (No docstring: it would become the OpenAPI description.)
class Instance(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, allow_inf_nan=False)
    run_id: str
    data_date: str | None = None
    state: str | None = None
    start: str | None = None
    end: str | None = None
    duration: float | None = None
    rows_written: int | None = None
    log_url: str | None = None
    run_type: str | None = None
    error: str | None = None
    waiting_for: str | None = None
    waiting_until: str | None = None
    try_number: int | None = None


def locate(path: Path) -> DagFileLocation | None:
    """The DAG bundle holding ``path`` and the path inside it, or None when no bundle does."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    path = path.resolve()
    for bundle in DagBundlesManager().get_all_dag_bundles():
        try:
            root = Path(bundle.path).resolve()
        except Exception:  # a bundle whose path needs initialising (git): not ours
            continue
        if path.is_relative_to(root):
            return DagFileLocation(bundle.name, str(path.relative_to(root)))
    return None


def request_parse(location: DagFileLocation) -> None:
    """Ask the dag-processor to parse this file next, instead of at the next bundle refresh
    (``[dag_processor] refresh_interval``, 300 s by default)."""
    from airflow.models.dagbag import DagPriorityParsingRequest
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        pending = session.scalar(select(DagPriorityParsingRequest.id).where(
            DagPriorityParsingRequest.bundle_name == location.bundle_name,
            DagPriorityParsingRequest.relative_fileloc == location.relative_path))
        if pending is None:
            session.add(DagPriorityParsingRequest(bundle_name=location.bundle_name,
                                                  relative_fileloc=location.relative_path))


def parse_state(dag_id: str, location: DagFileLocation | None) -> ParseState:
    from airflow.models.dag import DagModel
    from airflow.models.errors import ParseImportError
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        dag = session.scalar(select(DagModel).where(DagModel.dag_id == dag_id))
        # Not DagCode: Airflow updates the stored source even when it skips re-serializing a DAG
        # written less than [core] min_serialized_dag_update_interval ago.
        serialized = session.scalar(SerializedDagModel.latest_item_select_object(dag_id))
        doc_md = serialized.data.get("dag", {}).get("doc_md") if serialized is not None else None
        error = None
        if location is not None:
            error = session.scalar(select(ParseImportError).where(
                ParseImportError.bundle_name == location.bundle_name,
                ParseImportError.filename == location.relative_path).order_by(ParseImportError.id.desc()).limit(1))
        folder_parsed_at = None
        if location is not None:
            folder = str(Path(location.relative_path).parent)
            escaped = folder.replace("!", "!!").replace("%", "!%").replace("_", "!_")
            pattern = "%" if folder == "." else escaped + "/%"
            folder_parsed_at = session.scalar(select(func.max(DagModel.last_parsed_time)).where(
                DagModel.bundle_name == location.bundle_name,
                DagModel.relative_fileloc.like(pattern, escape="!")))
        return ParseState(
            dag_known=dag is not None,
            is_stale=bool(dag.is_stale) if dag is not None else True,
            is_paused=bool(dag.is_paused) if dag is not None else None,
            doc_md=doc_md,
            import_error=error.stacktrace if error is not None else None,
            import_error_at=_naive_utc(error.timestamp) if error is not None else None,
            folder_parsed_at=_naive_utc(folder_parsed_at),
        )


def set_paused(dag_id: str, paused: bool) -> bool:
    """Pause or unpause a DAG; False when Airflow does not know it."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        result = session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused))
        return bool(result.rowcount)  # type: ignore[attr-defined]


def delete_dag_records(dag_id: str, location: DagFileLocation | None) -> int:
    """Delete Airflow's records of a DAG whose file is gone (runs, task instances, versions, import
    errors); Airflow's own audit log keeps its entries. Refuses while a task is running."""
    from airflow.api.common.delete_dag import delete_dag
    from airflow.exceptions import AirflowException, DagNotFound
    from airflow.models.errors import ParseImportError
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    count = 0
    try:
        with create_session() as session:
            count = delete_dag(dag_id, keep_records_in_log=True, session=session)
    except DagNotFound:
        pass
    except AirflowException as exc:
        raise AirflowCallFailed(str(exc)) from exc
    if location is not None:  # an import error of a file that never produced a DAG
        with create_session() as session:
            session.execute(delete(ParseImportError).where(ParseImportError.bundle_name == location.bundle_name,
                                                           ParseImportError.filename == location.relative_path))
    return count


def new_manual_run_id() -> str:
    """A run id as Airflow gives a manual run without a logical date, chosen before the run exists."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType

    return str(DagRun.generate_run_id(run_type=DagRunType.MANUAL, logical_date=None,
                                      run_after=dt.datetime.now(dt.UTC)))


def trigger_run(dag_id: str, conf: dict[str, Any], user: str, from_cli: bool, run_id: str | None = None) -> str:
    """Queue a manual DAG run with ``conf`` (and ``run_id``, else Airflow's); returns its run id. The run is
    ``user``'s: Airflow records them as its triggering user, which the export task checks."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import AirflowException
    from airflow.utils.types import DagRunTriggeredByType

    by = DagRunTriggeredByType.CLI if from_cli else DagRunTriggeredByType.REST_API
    try:
        run = trigger_dag(dag_id, triggered_by=by, triggering_user_name=user, conf=conf, run_id=run_id)
    except (AirflowException, ValueError) as exc:
        raise AirflowCallFailed(str(exc)) from exc
    if run is None:
        raise AirflowCallFailed(f"Airflow created no run for {dag_id}")
    return str(run.run_id)


#: how every backfill of a service runs, in its dry run and for real: oldest first, one run at a time,
#: re-running data dates that already ran (a date whose run is still in flight is left to that run)
BACKFILL_REVERSE = False
BACKFILL_MAX_ACTIVE_RUNS = 1


@dataclass(frozen=True)
class BackfillInterval:
    """One interval of a DAG's timetable inside a backfill's range, and whether Airflow's backfill dry
    run says it runs it."""

    logical_date: dt.datetime
    interval_end: dt.datetime
    runs: bool
    #: the newest existing run of that logical date (id and state), if any: an in-flight one is not re-run
    existing_run: str | None = None
    existing_state: str | None = None


@dataclass(frozen=True)
class BackfillCreated:
    backfill_id: int
    run_ids: list[str]  # oldest first
    #: logical dates Airflow did not create a run for after all, with its reason (``in flight``, ...)
    skipped: list[tuple[dt.datetime, str]]


def backfill_dry_run(dag_id: str, start: dt.datetime, end: dt.datetime,
                     conf: dict[str, Any] | None = None) -> list[BackfillInterval]:
    """Airflow's own backfill dry run (what ``POST /api/v2/backfills/dry_run`` answers) over logical dates
    [start, end] with the parameters ``create_backfill`` uses, and beside it every interval of the DAG's
    timetable in that range, each marked whether the dry run runs it: the ones it leaves out (an interval
    that has not ended yet, a run still in flight) can then be named."""
    from airflow.exceptions import AirflowException, DagNotFound
    from airflow.models.backfill import (
        ReprocessBehavior,
        _do_dry_run,
        _get_dag_run_no_create_reason,
        _get_latest_dag_run_row_query,
    )
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        try:
            planned = {info.logical_date for info in _do_dry_run(
                dag_id=dag_id, from_date=start, to_date=end, reverse=BACKFILL_REVERSE,
                reprocess_behavior=ReprocessBehavior.COMPLETED, dag_run_conf=conf or None, session=session)}
        except DagNotFound as exc:
            raise AirflowCallFailed(f"Airflow has no DAG {dag_id} (not parsed yet?)") from exc
        except (AirflowException, ValueError) as exc:
            raise AirflowCallFailed(str(exc)) from exc
        serialized = session.scalar(SerializedDagModel.latest_item_select_object(dag_id))
        assert serialized is not None  # the dry run found it
        out = []
        for info in serialized.dag.iter_dagrun_infos_between(start, end):
            if info.logical_date is None or info.data_interval is None:
                continue  # a partitioned timetable: not one a service renders
            existing = session.scalar(_get_latest_dag_run_row_query(dag_id=dag_id, info=info))
            blocked = existing is not None and _get_dag_run_no_create_reason(
                existing, ReprocessBehavior.COMPLETED) is not None
            out.append(BackfillInterval(
                logical_date=info.logical_date, interval_end=info.data_interval.end,
                runs=info.logical_date in planned,
                existing_run=existing.run_id if blocked else None,
                existing_state=_value(existing.state) if blocked else None))
        return out


def create_backfill(dag_id: str, start: dt.datetime, end: dt.datetime, user: str,
                    conf: dict[str, Any] | None = None) -> BackfillCreated:
    """An Airflow backfill over logical dates [start, end], as ``backfill_dry_run`` plans it, each run with
    ``conf``: the runs it created, oldest first, and the dates it did not after all. A date that
    ran before runs again as that run (its triggering user stays), with this conf."""
    from airflow.exceptions import AirflowException
    from airflow.models.backfill import BackfillDagRun, ReprocessBehavior, _create_backfill
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        backfill = _create_backfill(dag_id=dag_id, from_date=start, to_date=end,
                                    max_active_runs=BACKFILL_MAX_ACTIVE_RUNS, reverse=BACKFILL_REVERSE,
                                    # {} rather than none: a date that ran before runs again with this conf,
                                    # not with the one its earlier run had
                                    dag_run_conf=conf or {}, triggering_user_name=user,
                                    reprocess_behavior=ReprocessBehavior.COMPLETED)
    except (AirflowException, ValueError) as exc:
        raise AirflowCallFailed(str(exc)) from exc
    with create_session() as session:
        rows = session.execute(
            select(DagRun.run_id, BackfillDagRun.logical_date, BackfillDagRun.exception_reason)
            .outerjoin(DagRun, BackfillDagRun.dag_run_id == DagRun.id)
            .where(BackfillDagRun.backfill_id == backfill.id).order_by(BackfillDagRun.sort_ordinal)).all()
    return BackfillCreated(
        backfill_id=int(backfill.id), run_ids=[str(run_id) for run_id, _, _ in rows if run_id is not None],
        skipped=[(logical, str(_value(reason) or "not created")) for run_id, logical, reason in rows
                 if run_id is None])


def run_identities(dag_id: str, run_ids: list[str]) -> dict[str, tuple[str | None, dict[str, Any] | None, int]]:
    """Each run's triggering user, conf and clear number, as Airflow holds them (what its task will be told)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return {run_id: (user, conf, int(cleared or 0)) for run_id, user, conf, cleared in session.execute(
            select(DagRun.run_id, DagRun.triggering_user_name, DagRun.conf, DagRun.clear_number)
            .where(DagRun.dag_id == dag_id, DagRun.run_id.in_(run_ids)))}


#: run states that are over: an instance shows the run's; otherwise its export task's (up_for_retry, deferred, ...)
FINISHED = ("success", "failed")
#: XCom key of a failed run's report (operators/tag_offline.py); a success's is the return value
FAILURE_REPORT_KEY = "report"


def dag_runs(dag_id: str, limit: int, timezone: str) -> list[Instance]:
    """The newest ``limit`` runs of a DAG (``_newest_first``), with the data date each exported (its report's, else
    ``data_date.data_date_for_run`` of the run, the operator's own rule), its state as Airflow's UI
    shows it (the export task's while the run is not over: queued, deferred, up_for_retry, ...), the
    first line of why it failed or what it waits for, and the export task's times and report."""
    from airflow.configuration import conf
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_tagoffline.data_date import DATA_DATE_PARAM, data_date_for_run
    from airflow_provider_tagoffline.errors import ValidationFailed, first_line

    base_url = conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")
    with create_session() as session:
        runs = list(session.scalars(select(DagRun).where(DagRun.dag_id == dag_id)
                                    .order_by(*_newest_first(DagRun)).limit(limit)))
        run_ids = [r.run_id for r in runs]
        tis = {ti.run_id: ti for ti in session.scalars(select(TaskInstance).where(
            TaskInstance.dag_id == dag_id, TaskInstance.task_id == EXPORT_TASK_ID, TaskInstance.run_id.in_(run_ids)))}
        reports: dict[tuple[str, str], Any] = {}
        for run_id, key, value in session.execute(select(XComModel.run_id, XComModel.key, XComModel.value).where(
                XComModel.dag_id == dag_id, XComModel.task_id == EXPORT_TASK_ID,
                XComModel.key.in_(("return_value", FAILURE_REPORT_KEY)), XComModel.run_id.in_(run_ids))):
            reports[(run_id, key)] = XComModel.deserialize_value(_ValueRow(value))
        rows = []
        for r in runs:
            ti = tis.get(r.run_id)
            report = reports.get((r.run_id, "return_value"))
            if not isinstance(report, dict):
                report = reports.get((r.run_id, FAILURE_REPORT_KEY))
            report = report if isinstance(report, dict) else {}
            run_type = str(getattr(r.run_type, "value", r.run_type))
            run_state = _value(r.state)
            ti_state = _value(ti.state) if ti is not None else None
            state = run_state if run_state in FINISHED or not ti_state else ti_state
            if ti_state == "skipped":  # a scheduled run older than what the table holds: its run "succeeds"
                state = ti_state
            day = report.get("data_date")
            if not isinstance(day, str):
                try:
                    day = data_date_for_run(run_type, r.logical_date, (r.conf or {}).get(DATA_DATE_PARAM), timezone,
                                            run_after=r.run_after).isoformat()
                except ValidationFailed:
                    day = None
            start = (ti.start_date if ti else None) or r.start_date
            # an end only once it is over: a try that failed before a retry has ended, its run has not
            end = (ti.end_date if ti is not None and ti_state in FINISHED
                   else r.end_date if run_state in FINISHED else None)
            waiting = (ti.next_kwargs or {}) if ti is not None and ti_state == "deferred" else {}
            missing = waiting.get("waiting_for") if isinstance(waiting, dict) else None
            error = report.get("error") if state in ("failed", "up_for_retry", "skipped") else None
            rows.append(Instance(
                run_id=r.run_id, run_type=run_type, data_date=day, state=state,
                start=start.isoformat() if start else None, end=end.isoformat() if end else None,
                duration=(end - start).total_seconds() if start and end else None,
                rows_written=report.get("rows_written") if report.get("status") == "success" else None,
                error=first_line(Exception(error)) if isinstance(error, str) and error else None,
                waiting_for=", ".join(missing) if isinstance(missing, list) and missing else None,
                waiting_until=waiting.get("deadline") if missing else None,
                try_number=ti.try_number if ti is not None else None,
                log_url=f"{base_url}/dags/{quote(dag_id)}/runs/{quote(r.run_id)}/tasks/{EXPORT_TASK_ID}",
            ))
        return rows


def target_data_date(asset_uri: str) -> dt.date | None:
    """The data date a whole-table target holds: the latest event of its asset that says one (the
    export task writes ``{"data_date": ...}`` into its outlet event's extra)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(select(AssetEvent).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                                 .where(AssetModel.uri == asset_uri)
                                 .order_by(AssetEvent.timestamp.desc(), AssetEvent.id.desc()).limit(20))
        for event in events:
            said = (event.extra or {}).get("data_date")
            if isinstance(said, str):
                try:
                    return dt.date.fromisoformat(said)
                except ValueError:
                    continue
    return None


def stored_connections() -> list[Any]:
    """The connections in Airflow's metadata database, detached from its session; none when there is
    no metadata database to read (a CLI on a worker: the caller adds ``AIRFLOW_CONN_*`` ones)."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        with create_session() as session:
            found = list(session.scalars(select(Connection)))
            for conn in found:
                session.expunge(conn)
            return found
    except Exception:  # no metadata database reachable
        return []


def pool_exists(name: str) -> bool | None:
    """Whether Airflow has the pool ``name``; None when its metadata database cannot be asked."""
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        with create_session() as session:
            return session.scalar(select(Pool.id).where(Pool.pool == name)) is not None
    except Exception:  # no metadata database reachable: the task would wait for the pool, visibly
        return None


def set_variables(values: dict[str, str | None], description: str) -> int:
    """Bring Airflow Variables to ``values`` (key → text; None removes the key) in one session,
    writing only those that differ; how many were written or removed. Tasks read them through the
    Task SDK (``airflow.sdk.Variable``), on any worker."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    changed = 0
    with create_session() as session:
        stored = {v.key: v.get_val() for v in session.scalars(select(Variable).where(Variable.key.in_(list(values))))}
        for key, text in values.items():
            if text is None and key in stored:
                Variable.delete(key, session=session)
            elif text is not None and stored.get(key) != text:
                Variable.set(key, text, description=description, session=session)
            else:
                continue
            changed += 1
    return changed


def get_variables(keys: list[str]) -> dict[str, str]:
    """The text of the Airflow Variables ``keys`` that exist (one query)."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return {v.key: v.get_val() for v in session.scalars(select(Variable).where(Variable.key.in_(keys)))}


def get_variable(key: str) -> str | None:
    """The text of Airflow Variable ``key`` in the metadata database, or None."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        found = session.scalar(select(Variable).where(Variable.key == key))
        return None if found is None else found.get_val()


def latest_run_states(dag_ids: Iterable[str]) -> dict[str, str]:
    """The state of the newest run of each DAG that has runs (one query), as ``dag_runs`` says it: the
    export task's while the run is not over (``deferred`` while it waits for data, ``up_for_retry``)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import and_, func, select

    ids = list(dag_ids)
    if not ids:
        return {}
    ranked = select(DagRun.dag_id, DagRun.run_id, DagRun.state, func.row_number().over(
        partition_by=DagRun.dag_id, order_by=_newest_first(DagRun)).label("rn")) \
        .where(DagRun.dag_id.in_(ids)).subquery()
    with create_session() as session:
        out: dict[str, str] = {}
        for dag_id, run_state, ti_state in session.execute(
                select(ranked.c.dag_id, ranked.c.state, TaskInstance.state)
                .outerjoin(TaskInstance, and_(TaskInstance.dag_id == ranked.c.dag_id,
                                              TaskInstance.run_id == ranked.c.run_id,
                                              TaskInstance.task_id == EXPORT_TASK_ID))
                .where(ranked.c.rn == 1)):
            run, task = _value(run_state), _value(ti_state)
            state = run if run in FINISHED or not task else task
            if state:
                out[dag_id] = state
        return out


def _newest_first(dag_run: Any) -> tuple[Any, ...]:
    """Runs in the order they ran, newest first: not started yet (queued), then by start, then by when they
    were queued. Not by logical date or ``run_after``: a backfill run of an old date started now is new."""
    return (dag_run.start_date.is_(None).desc(), dag_run.start_date.desc(), dag_run.queued_at.desc(),
            dag_run.id.desc())


def _value(state: Any) -> str | None:
    return str(getattr(state, "value", state)) if state else None


class _ValueRow:
    """``XComModel.deserialize_value`` expects a row with a ``value`` attribute."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


# ---- auth managers: who Airflow's doors let in -------------------------------------------------

def auth_manager() -> Any:
    """The configured auth manager (the API server's own instance there; created, not initialised,
    elsewhere: the CLI)."""
    from airflow.api_fastapi.app import create_auth_manager

    return create_auth_manager()


def _is_simple(manager: Any) -> bool:
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    return isinstance(manager, SimpleAuthManager)


def _fab_models(manager: Any) -> Any | None:
    """FAB's user and role models when ``manager`` is the FAB auth manager, else None."""
    if "fab" not in type(manager).__module__:
        return None
    try:
        from airflow.providers.fab.auth_manager import models
    except ImportError:
        return None
    return models


def all_users_are_admins(manager: Any) -> bool:
    """SimpleAuthManager with ``[core] simple_auth_manager_all_admins``: everyone is an admin."""
    from airflow.configuration import conf

    return _is_simple(manager) and conf.getboolean("core", "simple_auth_manager_all_admins", fallback=False)


def auth_manager_users(manager: Any) -> list[Any] | None:
    """Every active user of ``manager`` as the auth manager's own user objects, or None when it cannot
    list them. SimpleAuthManager: ``[core] simple_auth_manager_users``. FAB: its user table, each user
    with its roles and their permissions loaded (so ``is_authorized_custom_view`` answers detached)."""
    if _is_simple(manager):
        return list(manager.get_users())
    models = _fab_models(manager)
    if models is None:
        return None
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        users = list(session.scalars(select(models.User).where(models.User.active.is_not(False))).unique())
        for user in users:
            _ = user.perms  # computed from roles → permissions now, while the session is open
            _ = [r.name for r in user.roles]
            session.expunge(user)
        return users


def role_names(manager: Any | None = None) -> set[str] | None:
    """The roles of the auth manager, or None when it has no roles a DAG's ``access_control`` names
    (only the FAB auth manager enforces ``access_control``)."""
    manager = manager or auth_manager()
    models = _fab_models(manager)
    if models is None:
        return None
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return set(session.scalars(select(models.Role.name)))


# ---- pause and unpause outside the plugin --------------------------------------------------------

#: Airflow's audit log events that pause or unpause one DAG: the REST API / UI (``PATCH /api/v2/dags/{id}``,
#: ``is_paused`` in the entry's extra) and ``airflow dags pause|unpause``. The plugin's own pauses
#: (``set_paused``) write no entry.
_PAUSE_EVENTS = {"patch_dag": None, "cli_dag_pause": True, "cli_dag_unpause": False}


# A pause or unpause of a DAG outside the plugin, as the service's details show it (REST, CLI, web view).
# (No docstring: it would become the OpenAPI description.)
class AirflowPause(BaseModel):
    paused: bool = Field(description="true: paused, false: unpaused")
    by: str = Field(description="the Airflow user (from the airflow CLI: the OS user) who did it")
    at: str = Field(description="when (UTC)")
    via: str = Field(description="Airflow REST API / UI, or airflow CLI")
    message: str = Field(description="one line saying it")


def pause_events(dag_id: str, since: dt.datetime | None = None, limit: int = 20) -> list[AirflowPause]:
    """Who paused or unpaused the DAG outside the plugin, and when, newest first (Airflow's audit log)."""
    import json

    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    q = select(Log).where(Log.dag_id == dag_id, Log.event.in_(list(_PAUSE_EVENTS)))
    if since is not None:
        q = q.where(Log.dttm >= (since if since.tzinfo else since.replace(tzinfo=dt.UTC)))
    out = []
    with create_session() as session:
        for entry in session.scalars(q.order_by(Log.dttm.desc(), Log.id.desc()).limit(limit * 5)):
            paused = _PAUSE_EVENTS[entry.event]
            if paused is None:
                try:
                    said = json.loads(entry.extra or "{}").get("is_paused")
                except (ValueError, AttributeError):
                    continue
                if said is None:
                    continue  # a patch of something else
                paused = said is True or str(said).lower() == "true"
            if entry.dttm is None:
                continue
            at, by = entry.dttm.astimezone(dt.UTC), entry.owner or "unknown"
            via = "airflow CLI" if entry.event.startswith("cli_") else "Airflow REST API / UI"
            out.append(AirflowPause(paused=bool(paused), by=by, at=at.isoformat(), via=via,
                                    message=f"{'paused' if paused else 'unpaused'} in Airflow by {by} at "
                                            f"{at:%Y-%m-%d %H:%M:%S} UTC ({via}), not through the plugin"))
            if len(out) >= limit:
                break
    return out
