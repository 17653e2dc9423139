"""``TagOfflineOperator``: one export run of a published service, inside an Airflow task.

Thin by design: the run spec arrives frozen in the DAG file; the engine does the work
(``runs.run_export``: its connections resolved once, then ``engine/runner.run``) and the run report
is the return value (XCom ``return_value``), logged at INFO. Around the engine, the Airflow side of a run (spec §4):

* the data date: ``data_date.data_date_for_run`` from the run's type, logical date and the
  ``data_date`` param / conf (Airflow's trigger form shows it as a date picker);
* a whole-table target holds one data date, recorded with the table by the swap (the engine reads it
  and refuses an older run, naming both dates, unless ``allow_older`` is set: a scheduled run so
  refused is skipped, any other fails without retries); the extra of the target asset's event says
  it too (``{"data_date": ...}``, on Airflow's asset page), and is what a table written before it
  recorded its own is compared with;
* a source with no rows for D yet: a scheduled run defers on ``SourcesReadyTrigger`` up to the
  service's wait, then fails without retries; any other run fails at once, without retries (a
  retry would not make the partition appear). Other failures keep Airflow's retries;
* who started it: a manual run, a backfill (or a run of any type but the schedule's) whose triggering user
  may not run the service (or allow an older data date, when it asks to) is refused before the target is
  opened, from the service's access record (an Airflow Variable the plugin writes, ``airflow_access.py``),
  one line, no retries;
* catalog drift: the service's attention record (an Airflow Variable the plugin writes, read through
  the Task SDK) refuses a version the catalog changed under, before the target is opened, with one
  line and no retries (``service/attention.py``);
* a failed run pushes its report (with the one-line error) as XCom ``report``: the plugin's
  instances show the reason;
* OpenLineage: Airflow's OpenLineage provider asks ``get_openlineage_facets_on_*`` for the run's
  datasets and column lineage; ``lineage.py`` builds them from the spec and the report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_tagoffline.engine.runner import DEFAULT_BATCH_SIZE

#: XCom key of a failed run's report (a success's report is the return value)
FAILURE_REPORT_KEY = "report"
#: how many of the target asset's latest events are looked through for the data date it holds
HELD_EVENTS = 20


class TagOfflineOperator(BaseOperator):
    """Export one data date of ``run_spec`` into its target.

    :param run_spec: the frozen run specification (``RunSpec.to_dict()``), connection ids only
    :param data_date: the data date D (``YYYY-MM-DD``, templated); by default the ``data_date`` param
        or conf, else the rule of ``data_date.data_date_for_run`` (T-1, or the scheduled interval's start)
    :param batch_size: rows per fetch from the warehouse's server-side cursor
    """

    template_fields: Sequence[str] = ("data_date",)
    ui_color = "#e8f4ea"

    def __init__(self, *, run_spec: dict[str, Any], data_date: str | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_spec = run_spec
        self.data_date = data_date
        self.batch_size = batch_size
        #: the data date and report of the run in this process, for the OpenLineage facets
        self._outcome: tuple[dt.date, dict[str, Any]] | None = None
        #: the run's connections as it resolved them once (``runs.resolve``): its lineage names them too
        self._connections: Any = None

    # ---- the run -------------------------------------------------------------------------------
    def execute(self, context: Any) -> dict[str, Any]:
        spec = self._spec()
        day = self._fail_on_bad_input(context, lambda: self._resolve_data_date(context, spec))
        self._refuse_unauthorized(context, spec, day)
        self._refuse_drift(context, spec, day)
        return self._export(context, spec, day, deadline=None)

    def resume_after_wait(self, context: Any, event: dict[str, Any] | None = None, data_date: str = "",
                          deadline: str = "", waiting_for: list[str] | None = None) -> dict[str, Any]:
        """Called by Airflow when ``SourcesReadyTrigger`` fired: run, or give up with the reason."""
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_provider_tagoffline import waiting

        spec = self._spec()
        day = dt.date.fromisoformat(data_date)
        event = event or {}
        if event.get("status") != "ready":
            missing = event.get("missing") or waiting_for or []
            waited = waiting.format_wait(waiting.wait_for_run("scheduled", spec.schedule.wait_for_data))
            reason = (f"waited {waited} for data date {day}: {', '.join(missing) or 'the sources'} still not there"
                      + (f" ({event['problem']})" if event.get("problem") else "") + "; the target is untouched")
            self._record_failure(context, spec, day, reason)
            raise AirflowFailException(reason)
        self.log.info("the sources hold data date %s now: exporting", day)
        self._refuse_drift(context, spec, day)  # the catalog may have changed while it waited
        return self._export(context, spec, day, deadline=deadline)

    def _export(self, context: Any, spec: Any, day: dt.date, deadline: str | None) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_provider_tagoffline.data_date import ALLOW_OLDER_PARAM
        from airflow_provider_tagoffline.errors import OlderDataDate, RunFailed, SourceNotReady
        from airflow_provider_tagoffline.runs import resolve, run_export

        run = context["dag_run"]
        try:
            self._connections = resolve(spec, day)
            report = run_export(spec, day, where=self._connections, batch_size=self.batch_size, echo=self.log.info,
                                allow_older=_truthy(_param(context, ALLOW_OLDER_PARAM)),
                                run_id=str(getattr(run, "run_id", "") or ""), by=_started_by(run),
                                held_elsewhere=lambda: self._held(context, spec))
        except OlderDataDate as exc:
            self._refuse_older(context, spec, day, exc)
        except SourceNotReady as exc:
            until = self._wait_until(context, spec, deadline)
            if until is not None:
                self._defer_for(spec, day, until, exc.missing)
            self._record_failure(context, spec, day, str(exc), exc.report)
            raise AirflowFailException(str(exc)) from None  # a retry would not make the partition appear
        except RunFailed as exc:
            if exc.report is not None:
                self.log.error("%s", exc.report.summary())  # type: ignore[attr-defined]
            self._record_failure(context, spec, day, str(exc), exc.report)
            raise
        self._record_held(context, spec, day)
        self._outcome = (day, report.to_dict())
        return report.to_dict()

    # ---- the data date -------------------------------------------------------------------------
    def _resolve_data_date(self, context: Any, spec: Any) -> dt.date:
        from airflow_provider_tagoffline.data_date import DATA_DATE_PARAM, data_date_for_run

        run = context["dag_run"]
        run_type = _run_type(run)
        requested = self.data_date or _param(context, DATA_DATE_PARAM)
        day = data_date_for_run(run_type, run.logical_date, requested, spec.schedule.timezone,
                                run_after=getattr(run, "run_after", None))
        why = ("as requested" if requested else "the start of the run's data interval"
               if run_type in ("scheduled", "backfill") else f"T-1 of the {run_type} run, {spec.schedule.timezone}")
        self.log.info("data date %s (%s)", day, why)
        return day

    def _refuse_older(self, context: Any, spec: Any, day: dt.date, refused: Exception) -> None:
        """The engine refused an older data date than the table holds: a scheduled run is skipped (superseded),
        any other fails at once, without retries (``data_date.skips_when_older``); the table is untouched."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from airflow_provider_tagoffline.data_date import skips_when_older

        reason = str(refused)
        if skips_when_older(_run_type(context["dag_run"])):
            self.log.warning("skipped: %s", reason)
            self._record_failure(context, spec, day, reason, status="skipped")
            raise AirflowSkipException(reason)
        self._record_failure(context, spec, day, reason)
        raise AirflowFailException(reason)

    def _held(self, context: Any, spec: Any) -> dt.date | None:
        """What Airflow says the target holds: the latest event of its asset that says one (asked by the engine
        only for a table that records none itself, written before it did)."""
        from airflow_provider_tagoffline.assets import target_asset

        try:
            events = context["inlet_events"][target_asset(spec)].ascending(False).limit(HELD_EVENTS)
            for event in events:
                said = (event.extra or {}).get("data_date")
                if isinstance(said, str):
                    return dt.date.fromisoformat(said)
        except KeyError:  # a DAG rendered before the target asset was an inlet
            return None
        except Exception as exc:
            self.log.warning("cannot read which data date the target holds (not checked): %s", exc)
        return None

    def _record_held(self, context: Any, spec: Any, day: dt.date) -> None:
        from airflow_provider_tagoffline.assets import target_asset

        try:
            context["outlet_events"][target_asset(spec)].extra = {"data_date": day.isoformat(),
                                                                  "service": spec.service.name}
        except Exception as exc:  # never fail a finished export over its record
            self.log.warning("cannot record data date %s on the target asset: %s", day, exc)

    # ---- who started it ------------------------------------------------------------------------
    def _refuse_unauthorized(self, context: Any, spec: Any, day: dt.date) -> None:
        """A manual run, a backfill (any run but the schedule's) goes on only when its triggering user may run
        the service (and allow an older data date, when the run asks to): the service's access record, an
        Airflow Variable the plugin writes (``airflow_access.py``), read through the Task SDK. Airflow's own
        doors (its Trigger, backfill, REST API) let in whoever the auth manager allows; this is where the
        service's rights hold."""
        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_provider_tagoffline.airflow_access import SERVICE_RUN_TYPES, AccessRecord, record_key, run_refusal
        from airflow_provider_tagoffline.data_date import ALLOW_OLDER_PARAM

        run = context["dag_run"]
        run_type = _run_type(run)
        if run_type in SERVICE_RUN_TYPES:
            return  # the schedule's runs are the service's own; any other type was chosen by someone
        user = getattr(run, "triggering_user_name", None)
        text = Variable.get(record_key(spec.service.slug), default=None)  # unreadable: raised, Airflow retries
        if text is None:
            self.log.warning("service %r has no access record (a DAG published before access records, or written "
                             "outside the plugin): who started this %s run (%s) is not checked; publish the service "
                             "again", spec.service.name, run_type, user)
            return
        allow = spec.target.partition is None and _truthy(_param(context, ALLOW_OLDER_PARAM))
        cleared = int(getattr(run, "clear_number", 0) or 0)  # re-run by whoever may clear it
        reason = run_refusal(AccessRecord.from_json(text), run_type, user, allow, cleared,
                             str(getattr(run, "run_id", "") or "") or None, getattr(run, "conf", None))
        if reason:
            self.log.error("%s", reason)
            self._record_failure(context, spec, day, reason)
            raise AirflowFailException(reason)  # no retry: the same user stays refused
        self.log.info("%s run started by %s, who may run service %r%s", run_type, user, spec.service.name,
                      " and allow an older data date" if allow else "")

    # ---- catalog drift -------------------------------------------------------------------------
    def _refuse_drift(self, context: Any, spec: Any, day: dt.date) -> None:
        """Fail before the target is opened when the catalog changed under this version (the plugin's
        attention record in an Airflow Variable, read through the Task SDK: no catalog needed here)."""
        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_provider_tagoffline.data_date import today
        from airflow_provider_tagoffline.service.attention import record_key, run_refusal

        try:
            record = Variable.get(record_key(spec.service.slug), default=None)
        except Exception as exc:  # the API server unreachable: the export's own checks still hold
            self.log.warning("cannot read the service's attention record (catalog drift not checked): %s", exc)
            return
        reason = run_refusal(record, spec, today(spec.schedule.timezone))
        if reason:
            self._record_failure(context, spec, day, reason)
            raise AirflowFailException(reason)  # no retry: only a fix and a republish help

    # ---- waiting -------------------------------------------------------------------------------
    def _wait_until(self, context: Any, spec: Any, deadline: str | None) -> dt.datetime | None:
        """Until when this run waits for missing sources (None: it does not wait, or no longer)."""
        from airflow_provider_tagoffline import waiting

        now = dt.datetime.now(dt.UTC)
        if deadline:
            until = dt.datetime.fromisoformat(deadline)
        else:
            seconds = waiting.wait_for_run(_run_type(context["dag_run"]), spec.schedule.wait_for_data)
            if seconds <= 0:
                return None
            until = now + dt.timedelta(seconds=seconds)
        return until if until > now else None

    def _defer_for(self, spec: Any, day: dt.date, until: dt.datetime, missing: list[str]) -> None:
        from airflow_provider_tagoffline import config
        from airflow_provider_tagoffline.operators.wait_trigger import SourcesReadyTrigger

        poke = config.wait_poke_interval()
        self.log.info("data date %s is not there yet: waiting for %s until %s (looking every %.0f s); "
                      "no worker is held meanwhile", day, ", ".join(missing), until.strftime("%Y-%m-%d %H:%M:%S %Z"),
                      poke)
        trigger = SourcesReadyTrigger(spec.warehouse_conn_id, [s.model_dump(mode="json") for s in spec.sources],
                                      day.isoformat(), until.isoformat(), poke, missing)
        # a little past the trigger's own deadline: it fires "timeout" itself, with the reason
        self.defer(trigger=trigger, method_name="resume_after_wait",
                   kwargs={"data_date": day.isoformat(), "deadline": until.isoformat(), "waiting_for": missing},
                   timeout=until - dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))

    # ---- OpenLineage (Airflow's OpenLineage provider calls these) ------------------------------
    def get_openlineage_facets_on_start(self) -> Any:
        return self._lineage(None)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return self._lineage(self._outcome)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return self._lineage(self._outcome)

    def _lineage(self, outcome: tuple[dt.date, dict[str, Any]] | None) -> Any:
        from airflow_provider_tagoffline import connections
        from airflow_provider_tagoffline.lineage import Naming, lineage_of

        spec = self._spec()
        where = self._connections if self._connections is not None else connections.resolve_run(spec)
        warehouse, target = where.warehouse, where.target
        day, report = outcome if outcome is not None else (None, None)
        return lineage_of(spec, day, report, warehouse=Naming(warehouse.dialect, warehouse.connection),
                          target=Naming(target.dialect, target.connection))

    # ---- helpers -------------------------------------------------------------------------------
    def _spec(self) -> Any:
        from airflow_provider_tagoffline.runspec import RunSpec

        return RunSpec.model_validate(self.run_spec)

    def _fail_on_bad_input(self, context: Any, resolve: Any) -> dt.date:
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_provider_tagoffline.errors import ValidationFailed

        try:
            day: dt.date = resolve()
        except ValidationFailed as exc:
            raise AirflowFailException(str(exc)) from None
        return day

    def _record_failure(self, context: Any, spec: Any, day: dt.date, reason: str, report: Any = None,
                        status: str = "failed") -> None:
        """The failed (or skipped) run's report, with its one-line reason, as XCom ``report`` (kept until a retry)."""
        from airflow_provider_tagoffline.errors import first_line

        out = report.to_dict() if report is not None else {"service": spec.service.name, "status": status}
        out.update({"data_date": day.isoformat(), "status": status, "error": first_line(Exception(reason))})
        self._outcome = (day, out)
        try:
            context["ti"].xcom_push(key=FAILURE_REPORT_KEY, value=out)
        except Exception as exc:
            self.log.warning("cannot record the failure's report: %s", exc)


def _run_type(run: Any) -> str:
    value = getattr(run, "run_type", "manual")
    return str(getattr(value, "value", value))


def _param(context: Any, name: str) -> Any:
    """A DAG param (the trigger form's field), else the same key of the run's conf."""
    params = context.get("params") or {}
    value = params.get(name) if hasattr(params, "get") else None
    if value in (None, ""):
        value = (getattr(context.get("dag_run"), "conf", None) or {}).get(name)
    return value


def _started_by(run: Any) -> str:
    """Who started a DAG run, as the table's record says it: the triggering user, else the scheduler."""
    user = getattr(run, "triggering_user_name", None)
    return str(user) if user else "scheduler" if _run_type(run) == "scheduled" else _run_type(run)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")
