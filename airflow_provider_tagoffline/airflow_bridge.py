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

from pydantic import BaseModel, ConfigDict

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


def trigger_run(dag_id: str, conf: dict[str, Any], user: str, from_cli: bool) -> str:
    """Queue a manual DAG run with ``conf``; returns its run id."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import AirflowException
    from airflow.utils.types import DagRunTriggeredByType

    by = DagRunTriggeredByType.CLI if from_cli else DagRunTriggeredByType.REST_API
    try:
        run = trigger_dag(dag_id, triggered_by=by, triggering_user_name=user, conf=conf)
    except (AirflowException, ValueError) as exc:
        raise AirflowCallFailed(str(exc)) from exc
    if run is None:
        raise AirflowCallFailed(f"Airflow created no run for {dag_id}")
    return str(run.run_id)


def create_backfill(dag_id: str, start: dt.datetime, end: dt.datetime, user: str,
                    conf: dict[str, Any] | None = None) -> tuple[int, list[str]]:
    """An Airflow backfill over logical dates [start, end], one run at a time, oldest first, re-running
    dates that already ran, each run with ``conf``. Returns the backfill id and the run ids it created."""
    from airflow.exceptions import AirflowException
    from airflow.models.backfill import BackfillDagRun, ReprocessBehavior, _create_backfill
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        backfill = _create_backfill(dag_id=dag_id, from_date=start, to_date=end, max_active_runs=1, reverse=False,
                                    dag_run_conf=conf or None, triggering_user_name=user,
                                    reprocess_behavior=ReprocessBehavior.COMPLETED)
    except (AirflowException, ValueError) as exc:
        raise AirflowCallFailed(str(exc)) from exc
    with create_session() as session:
        run_ids = list(session.scalars(
            select(DagRun.run_id).join(BackfillDagRun, BackfillDagRun.dag_run_id == DagRun.id)
            .where(BackfillDagRun.backfill_id == backfill.id).order_by(BackfillDagRun.sort_ordinal)))
    return int(backfill.id), run_ids


#: run states that are over: an instance shows the run's; otherwise its export task's (up_for_retry, deferred, ...)
FINISHED = ("success", "failed")
#: XCom key of a failed run's report (operators/tag_offline.py); a success's is the return value
FAILURE_REPORT_KEY = "report"


def dag_runs(dag_id: str, limit: int, timezone: str) -> list[Instance]:
    """The newest ``limit`` runs of a DAG, with the data date each exported (its report's, else
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
                                    .order_by(DagRun.run_after.desc(), DagRun.id.desc()).limit(limit)))
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
        partition_by=DagRun.dag_id, order_by=(DagRun.run_after.desc(), DagRun.id.desc())).label("rn")) \
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
