"""Build the Airflow DAG of one published service from its frozen run spec.

Called by the rendered DAG files at parse time. It reads nothing but the spec it is given: no
catalog, no connection (spec §7). Schedule (spec §4): a recurring service uses a cron *data
interval* timetable at HH:MM in its timezone, so the run fired on day D+1 covers the interval
[D HH:MM, D+1 HH:MM) and exports data date D = the interval start's date. A backfill over
logical dates D1..D2 therefore exports exactly data dates D1..D2.

Every DAG has the params Airflow's trigger form shows: ``data_date`` (a date picker; empty means
the rule of ``data_date.data_date_for_run``: T-1 for a run triggered by hand) and, for a whole-table
target, ``allow_older``. The target table is the task's outlet asset (each event's extra says the
data date written) and its inlet (so the next run reads which data date the table holds). Under the
FAB auth manager the DAG's ``access_control`` opens it to its application's roles only (the run spec's
``airflow_roles``, frozen at publish: ``airflow_access.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow_provider_tagoffline.assets import target_asset
from airflow_provider_tagoffline.runspec import RunSpec

DAG_ID_PREFIX = "tag_offline__"
# The doc of every rendered DAG ends with this label and the run spec's fingerprint: publishing
# reads it back from Airflow's serialized DAG to know Airflow loaded exactly this version.
FINGERPRINT_LABEL = "Run spec fingerprint: "
# Early enough that any data date can be backfilled; catchup=False keeps the scheduler to the latest.
START_DATE = dt.datetime(2000, 1, 1)
RETRIES = 2
RETRY_DELAY = dt.timedelta(minutes=5)


def dag_id_for(slug: str) -> str:
    return DAG_ID_PREFIX + slug


def params_for(spec: RunSpec) -> dict[str, Any]:
    """The fields of Airflow's trigger form (and its backfill form's params)."""
    from airflow.sdk import Param

    from airflow_provider_tagoffline.data_date import ALLOW_OLDER_PARAM, DATA_DATE_PARAM

    tz = spec.schedule.timezone
    params = {DATA_DATE_PARAM: Param(
        None, type=["null", "string"], format="date", title="Data date",
        description=f"The data date to export. Empty: the day before the run's logical date in {tz} (T-1). "
                    "A backfill ignores it: each of its runs exports its own date (the start of its data interval).")}
    if spec.target.partition is None:
        # "null" in the type: Airflow's trigger form marks every field whose type excludes null as required
        params[ALLOW_OLDER_PARAM] = Param(
            False, type=["boolean", "null"], title="Allow an older data date",
            description="The target is a whole table holding one data date. A run of an older date is refused "
                        "unless this is set; with it, the table goes back to that date. A backfill leaves the table "
                        "at its last date: to set this for one, tick 'Override parameters' of the backfill form.")
    return params


def timetable_for(spec: RunSpec) -> Any:
    if spec.schedule.type != "recurring":
        return None
    import pendulum
    from airflow.timetables.interval import CronDataIntervalTimetable

    assert spec.schedule.daily_at is not None
    hh, mm = spec.schedule.daily_at.split(":")
    return CronDataIntervalTimetable(f"{int(mm)} {int(hh)} * * *", timezone=pendulum.timezone(spec.schedule.timezone))


def callbacks_for(spec: RunSpec) -> dict[str, Any]:
    """The export task's callbacks that notify (``spec.notify``): failure ones for ``failure`` /
    ``gate_failure``, a success one for ``success``. Connection id and addresses only."""
    n = spec.notify
    if n is None:
        return {}
    from airflow_provider_tagoffline.operators.notifier import RunNotifier

    def notifier(succeeded: bool) -> Any:
        return RunNotifier(service=spec.service.name, conn_id=n.conn_id, to=n.to, events=list(n.events),
                           succeeded=succeeded)

    out: dict[str, Any] = {}
    if {"failure", "gate_failure"} & set(n.events):
        out["on_failure_callback"] = notifier(False)
    if "success" in n.events:
        out["on_success_callback"] = notifier(True)
    return out


def tag_offline_dag(run_spec: dict[str, Any]) -> Any:
    """The DAG of a published service (one task: the export with its atomic swap)."""
    import pendulum
    from airflow.sdk import DAG

    from airflow_provider_tagoffline.airflow_access import ALLOWED_RUN_TYPES, dag_access_control
    from airflow_provider_tagoffline.operators.tag_offline import TagOfflineOperator

    spec = RunSpec.model_validate(run_spec)
    svc = spec.service
    tz = spec.schedule.timezone
    target = ".".join(p for p in (spec.target.schema_, spec.target.table) if p)
    doc = (
        f"Tag offline service **{svc.name}** (version {svc.version}) of application `{svc.application}`: "
        f"tags {', '.join(t.code for t in spec.tags)} of entity `{spec.entity_key.entity}` keyed by "
        f"`{spec.entity_key.code}` into `{target}` on connection `{spec.target.conn_id}` "
        f"({spec.target.kind}). Generated at publish; edit the service, not this file.\n\n"
        f"{FINGERPRINT_LABEL}`{spec.fingerprint()}`"
    )
    with DAG(
        dag_id=dag_id_for(svc.slug),
        dag_display_name=svc.name,
        description=(svc.description or f"Tag offline service {svc.name}")[:200],
        doc_md=doc,
        schedule=timetable_for(spec),
        start_date=pendulum.instance(START_DATE, tz=tz),
        catchup=False,
        max_active_runs=1,
        tags=["tag_offline", svc.application],
        owner_links={},
        default_args={"owner": svc.owner, "retries": RETRIES, "retry_delay": RETRY_DELAY},
        params=params_for(spec),
        # the application's roles see, trigger, clear and pause it (enforced by the FAB auth manager)
        access_control=dag_access_control(spec.airflow_roles),
        # no door of Airflow's starts a run of another type (materializing the target's asset would, with any
        # conf); the SDK converts the names into its DagRunType, which it does not export
        allowed_run_types=list(ALLOWED_RUN_TYPES),  # type: ignore[arg-type]
    ) as dag:
        # Only what the service sets: otherwise Airflow's own defaults (default_pool, [operators] default_queue).
        placement: dict[str, Any] = {k: v for k, v in (("pool", spec.pool), ("queue", spec.queue)) if v}
        TagOfflineOperator(
            **callbacks_for(spec),
            task_id="export",
            task_display_name=f"Export {target}",
            run_spec=spec.to_dict(),
            inlets=[target_asset(spec)],
            outlets=[target_asset(spec)],
            **placement,
        )
    return dag
