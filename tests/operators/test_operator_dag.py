"""The rendered DAG in a real Airflow: DagBag parsing, and ``dag.test()`` running the operator."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.rendering.factory import dag_id_for
from airflow_provider_tagoffline.rendering.render import render_dag_source, write_dag_file
from airflow_provider_tagoffline.runspec import RunSpec
from tests.run_data import EXPECTED_D, OUTPUT_COLUMNS, D, hostile_spec, make_spec, normalize

# run_data's specs read the session's DuckDB warehouse (tests/conftest.py)
pytestmark = [pytest.mark.airflow, pytest.mark.usefixtures("warehouse_env")]


def recurring_spec(conn_id: str) -> RunSpec:
    data = make_spec("sqlite", conn_id).to_dict()
    data["schedule"] = {"type": "recurring", "daily_at": "02:30", "timezone": "Asia/Shanghai"}
    return RunSpec.model_validate(data)


def test_rendered_file_is_readable_and_holds_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", json.dumps({"conn_type": "sqlite", "host": "/x.db",
                                                              "password": "p4ss-never-here"}))
    source = render_dag_source(recurring_spec("tot_target"))
    assert "p4ss-never-here" not in source
    assert "'conn_id': 'tot_target'" in source and "tag_offline_dag(RUN_SPEC)" in source


def test_dagbag_loads_the_dag_and_a_broken_file_does_not_stop_it(tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    spec = recurring_spec("tot_target")
    path = write_dag_file(spec, tmp_path)
    (tmp_path / "tag_offline__broken.py").write_text(  # a spec that does not validate
        "from airflow_provider_tagoffline.rendering.factory import tag_offline_dag\n"
        "dag = tag_offline_dag({'spec_version': 1})\n")
    bag = DagBag(dag_folder=str(tmp_path))
    assert list(bag.import_errors) == [str(tmp_path / "tag_offline__broken.py")]
    assert "validation error" in next(iter(bag.import_errors.values()))
    dag = bag.dags.get(dag_id_for(spec.service.slug))
    assert dag is not None and str(path).endswith(".py")
    assert dag.dag_display_name == "用户标签 test"
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert set(dag.tags) == {"tag_offline", "crm"}
    # Airflow starts no run of another type (materializing the target's asset would: issue 20)
    assert sorted(t.value for t in dag.allowed_run_types) == ["backfill", "manual", "scheduled"]
    task = dag.get_task("export")
    assert task.owner == "alice" and task.retries == 2
    assert (task.pool, task.queue) == ("default_pool", "default")  # none set: Airflow's defaults
    assert [o.uri for o in task.outlets] == ["tagoffline://tot_target/user_tags"]
    # the target is also the inlet: a run reads which data date the table holds from its events
    assert [i.uri for i in task.inlets] == ["tagoffline://tot_target/user_tags"]
    # Airflow's trigger form: a date picker, empty by default, and (a whole table) the allow_older switch
    params = dag.params.dump()
    assert params == {"data_date": None, "allow_older": False}
    schema = dag.params.get_param("data_date").schema
    assert schema["type"] == ["null", "string"] and schema["format"] == "date"
    assert dag.params.get_param("allow_older").schema["type"] == ["boolean", "null"]  # not marked required
    partitioned = RunSpec.model_validate({**spec.to_dict(), "target": {
        **spec.to_dict()["target"], "table": "user_tags_p", "partition": {"column": "ds", "format": "yyyyMMdd"}},
        "service": {**spec.to_dict()["service"], "slug": "partitioned"}})
    write_dag_file(partitioned, tmp_path)
    assert DagBag(dag_folder=str(tmp_path)).dags[dag_id_for("partitioned")].params.dump() == {"data_date": None}
    # The run fired on D+1 at 02:30 (Asia/Shanghai) covers D: its data interval starts on D.
    info = dag.timetable.next_dagrun_info(last_automated_data_interval=None,
                                          restriction=_restriction(dt.datetime(2026, 11, 21, 18, 0, tzinfo=dt.UTC)))
    assert info is not None
    assert info.data_interval.start.in_timezone("Asia/Shanghai").strftime("%Y-%m-%d %H:%M") == "2026-11-22 02:30"
    assert info.run_after.in_timezone("Asia/Shanghai").strftime("%Y-%m-%d %H:%M") == "2026-11-23 02:30"


def test_the_export_task_takes_the_services_pool_and_queue(tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    spec = RunSpec.model_validate({**recurring_spec("tot_target").to_dict(), "pool": "tag_offline_heavy",
                                   "queue": "exports_eu"})
    write_dag_file(spec, tmp_path)
    task = DagBag(dag_folder=str(tmp_path)).dags[dag_id_for(spec.service.slug)].get_task("export")
    assert (task.pool, task.queue) == ("tag_offline_heavy", "exports_eu")


def _restriction(earliest: dt.datetime):
    from airflow.timetables.base import TimeRestriction

    return TimeRestriction(earliest=earliest, latest=None, catchup=True)


def test_dags_test_exports_the_data_date_of_its_interval(airflow_db: None, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    target = str(tmp_path / "target.db")
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", json.dumps({"conn_type": "sqlite", "host": target}))
    spec = recurring_spec("tot_target")
    db = sqlite3.connect(target)
    for sql in create_table_sql(spec, "sqlite"):
        db.execute(sql)
    db.commit()
    write_dag_file(spec, tmp_path / "dags")
    # `airflow dags test` (what dag.test() does, in its own process with this dags folder).
    # A run at D+1 02:30 Asia/Shanghai (18:30 UTC on D) covers the interval [D 02:30, D+1 02:30)
    # and so exports data date D: T-1.
    env = {"AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}
    proc = subprocess.run([str(Path(sys.executable).parent / "airflow"), "dags", "test",
                           dag_id_for(spec.service.slug), "2026-11-23T18:30:00+00:00"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "state=success" in proc.stdout + proc.stderr
    got = [normalize(r) for r in db.execute(f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM user_tags ORDER BY user_id")]
    assert got == EXPECTED_D and D.isoformat() == "2026-11-23"


def test_airflow_loads_a_dag_whose_names_hold_hostile_text(tmp_path: Path) -> None:
    """Quotes, newlines, backslashes and line separators in the service's texts reach Airflow intact."""
    from airflow.dag_processing.dagbag import DagBag

    spec = hostile_spec()
    write_dag_file(spec, tmp_path)
    bag = DagBag(dag_folder=str(tmp_path))
    assert bag.import_errors == {}
    dag = bag.dags[dag_id_for(spec.service.slug)]
    assert dag.dag_display_name == spec.service.name
    assert dag.get_task("export").owner == spec.service.owner
