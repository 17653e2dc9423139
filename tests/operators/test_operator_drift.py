"""Catalog drift in a real Airflow run: the export task reads its service's attention record (an
Airflow Variable, through the Task SDK as on any worker) and fails before touching the target, with
one line naming the change; a record without drift lets the same DAG export."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_tagoffline import airflow_bridge
from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.rendering.factory import dag_id_for
from airflow_provider_tagoffline.rendering.render import write_dag_file
from airflow_provider_tagoffline.service import attention
from tests.run_data import EXPECTED_D, OUTPUT_COLUMNS, D, make_spec, normalize

# run_data's specs read the session's DuckDB warehouse (tests/conftest.py)
pytestmark = [pytest.mark.airflow, pytest.mark.usefixtures("warehouse_env")]

REASON = "tag user.gender was retyped from string to bigint"


def dags_test(spec_slug: str, dags: Path) -> str:
    env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(dags), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}
    proc = subprocess.run([str(Path(sys.executable).parent / "airflow"), "dags", "test", dag_id_for(spec_slug),
                           "2026-11-24T00:00:00+00:00", "-c", json.dumps({"data_date": D.isoformat()})],
                          env=env, capture_output=True, text=True, timeout=300)
    return proc.stdout + proc.stderr


def test_a_run_refuses_without_touching_the_target_until_the_record_is_clear(
        airflow_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = str(tmp_path / "target.db")
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", json.dumps({"conn_type": "sqlite", "host": target}))
    spec = make_spec("sqlite", "tot_target")
    db = sqlite3.connect(target)
    for sql in create_table_sql(spec, "sqlite"):
        db.execute(sql)
    db.execute("INSERT INTO user_tags (user_id) VALUES (424242)")  # the live content a refused run must keep
    db.commit()
    write_dag_file(spec, tmp_path / "dags")
    key = attention.record_key(spec.service.slug)

    def record(*reasons: str) -> str:
        found = attention.Attention(tuple(attention.Drift("tag", "user.gender", r) for r in reasons))
        entry = attention.record_entry(found)
        return json.dumps({"service": spec.service.name, "versions": {spec.fingerprint(): entry}})

    assert airflow_bridge.set_variables({key: record(REASON)}, "test") == 1
    try:
        out = dags_test(spec.service.slug, tmp_path / "dags")
        assert "state=failed" in out, out[-3000:]
        line = attention.run_message(spec, [REASON])
        assert line in out and "\n" not in line
        assert db.execute("SELECT user_id FROM user_tags").fetchall() == [(424242,)]
        assert [r for (r,) in db.execute("SELECT name FROM sqlite_master WHERE name LIKE '%dpfx%'")] == []

        assert airflow_bridge.set_variables({key: record()}, "test") == 1  # fixed and republished
        out = dags_test(spec.service.slug, tmp_path / "dags")
        assert "state=success" in out, out[-3000:]
        got = [normalize(r) for r in db.execute(f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM user_tags ORDER BY user_id")]
        assert got == EXPECTED_D
    finally:
        airflow_bridge.set_variables({key: None}, "test")
    assert airflow_bridge.get_variable(key) is None
