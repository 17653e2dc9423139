"""Build the Airflow DAG of one published service from its frozen run spec.

Called by the rendered DAG files at parse time. It reads nothing but the spec it is given: no
catalog, no connection (spec §7). Schedule (spec §4): a recurring service uses a cron *data
interval* timetable at HH:MM in its timezone, so the run fired on day D+1 covers the interval
[D HH:MM, D+1 HH:MM) and exports data date D = the interval start's date. A backfill over
logical dates D1..D2 therefore exports exactly data dates D1..D2, and a manual trigger with
logical date D (or ``conf={"data_date": "YYYY-MM-DD"}``) exports D.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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


def data_date_template(timezone: str) -> str:
    """Jinja template of the data date: ``conf.data_date`` if given, else the interval start's date."""
    return (
        "{{ (dag_run.conf or {}).get('data_date') or "
        f"data_interval_start.in_timezone({timezone!r}).strftime('%Y-%m-%d') }}}}"
    )


def target_asset_uri(spec: RunSpec) -> str:
    t = spec.target
    parts = [p for p in (t.schema_, t.table) if p]
    return f"tagoffline://{t.conn_id}/" + "/".join(parts)


def timetable_for(spec: RunSpec) -> Any:
    if spec.schedule.type != "recurring":
        return None
    import pendulum
    from airflow.timetables.interval import CronDataIntervalTimetable

    assert spec.schedule.daily_at is not None
    hh, mm = spec.schedule.daily_at.split(":")
    return CronDataIntervalTimetable(f"{int(mm)} {int(hh)} * * *", timezone=pendulum.timezone(spec.schedule.timezone))


def tag_offline_dag(run_spec: dict[str, Any]) -> Any:
    """The DAG of a published service (one task: the export with its atomic swap)."""
    import pendulum
    from airflow.sdk import DAG, Asset

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
        params={},
    ) as dag:
        # Only what the service sets: otherwise Airflow's own defaults (default_pool, [operators] default_queue).
        placement: dict[str, Any] = {k: v for k, v in (("pool", spec.pool), ("queue", spec.queue)) if v}
        TagOfflineOperator(
            task_id="export",
            task_display_name=f"Export {target}",
            run_spec=spec.to_dict(),
            data_date=data_date_template(tz),
            outlets=[Asset(name=f"tag_offline:{spec.target.conn_id}:{target}", uri=target_asset_uri(spec))],
            **placement,
        )
    return dag
