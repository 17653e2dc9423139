"""Issue 21's rollback, reproduced through a real Airflow: a table exported in-process (as `tagoffline demo`
does, before Airflow's database knows anything of it) and then a DAG run of the day before. Airflow holds
no asset event for the table; the table's own record is what refuses the run, and the table is untouched."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.rendering.factory import dag_id_for
from airflow_provider_tagoffline.rendering.render import write_dag_file
from airflow_provider_tagoffline.runs import run_export
from airflow_provider_tagoffline.runspec import RunSpec
from tests.run_data import D_PREV, EXPECTED_D, OUTPUT_COLUMNS, D, make_spec, normalize

# run_data's specs read the session's DuckDB warehouse (tests/conftest.py)
pytestmark = [pytest.mark.airflow, pytest.mark.usefixtures("warehouse_env")]


def test_an_in_process_export_then_an_older_dag_run_is_refused_with_the_table_untouched(
        airflow_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "target.db"
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", json.dumps({"conn_type": "sqlite", "host": str(target)}))
    # a table of its own: no other test's asset events name it
    data = make_spec("sqlite", "tot_target", table="held_in_dag").to_dict()
    data["service"].update(name="held_in_dag", slug="held_in_dag")
    data["schedule"] = {"type": "recurring", "daily_at": "02:30", "timezone": "Asia/Shanghai"}
    spec = RunSpec.model_validate(data)
    db = sqlite3.connect(target)
    for sql in create_table_sql(spec, "sqlite"):
        db.execute(sql)
    db.commit()

    run_export(spec, D, run_id="tagoffline-demo__in-process", by="demo")  # what `tagoffline demo` does
    held = "SELECT data_date, run_id FROM _tagoffline_held WHERE table_name = 'held_in_dag'"
    rows = f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM held_in_dag ORDER BY user_id"
    assert db.execute(held).fetchone() == (D.isoformat(), "tagoffline-demo__in-process")

    # A DAG run of D-1 (logical date D 02:30 in Shanghai: T-1 is D-1), as `airflow dags test` runs it.
    write_dag_file(spec, tmp_path / "dags")
    env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"),
           "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}
    proc = subprocess.run([str(Path(sys.executable).parent / "airflow"), "dags", "test", dag_id_for(spec.service.slug),
                           f"{D_PREV.isoformat()}T18:30:00+00:00"], env=env, capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert "state=failed" in out, out[-4000:]
    assert (f"target tot_target:held_in_dag holds data date {D}; data date {D_PREV} is older and would roll it "
            "back: refused, the table is untouched") in out, out[-4000:]
    assert [normalize(r) for r in db.execute(rows)] == EXPECTED_D
    assert db.execute(held).fetchone() == (D.isoformat(), "tagoffline-demo__in-process")
    assert not db.execute("SELECT name FROM sqlite_master WHERE name LIKE '%dpfx%'").fetchall()
    db.close()
