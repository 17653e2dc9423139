"""``runs.py``: a run's connections are resolved once, by its caller, and the engine runs on what it is
handed (it never resolves one itself: ``tests/test_import_graph.py``); a connection that cannot be
resolved fails the run as a failure inside it does, with its report."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_tagoffline import connections
from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.engine import runner
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runs import run_export
from tests.run_data import EXPECTED_D, D, LiveTarget, make_spec
from tests.run_data import target_content as content

# run_data's specs read the session's DuckDB warehouse (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("warehouse_env")


def _sqlite_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LiveTarget:
    path = str(tmp_path / "target.db")
    target = LiveTarget("sqlite", "tot_target", json.dumps({"conn_type": "sqlite", "host": path}),
                        lambda: sqlite3.connect(path))
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", target.conn_json)
    target.execute(*create_table_sql(make_spec("sqlite", "tot_target"), "sqlite"))
    return target


def test_the_engine_runs_on_the_connections_its_caller_resolved(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = _sqlite_target(tmp_path, monkeypatch)
    spec = make_spec("sqlite", "tot_target")
    where = connections.resolve_run(spec)
    # Airflow no longer knows the target connection: an engine resolving it again would fail here.
    monkeypatch.delenv("AIRFLOW_CONN_TOT_TARGET")
    with pytest.raises(Exception, match="does not exist"):
        connections.resolve_run(spec)

    report = runner.run(spec, D, where)

    assert report.status == "success" and content(target) == EXPECTED_D


def test_a_connection_that_cannot_be_resolved_fails_the_run_with_its_report(tmp_path: Path) -> None:
    spec = make_spec("sqlite", "tot_nowhere")
    with pytest.raises(RunFailed, match="'tot_nowhere' does not exist") as info:
        run_export(spec, D)
    report = info.value.report
    assert report is not None and report.status == "failed"
    assert report.data_date == D.isoformat() and "tot_nowhere" in (report.error or "")


def test_a_bad_data_date_is_refused_before_anything_is_resolved() -> None:
    with pytest.raises(RunFailed, match="is not a date") as info:
        run_export(make_spec("sqlite", "tot_nowhere"), "2026-13-40")
    assert info.value.report is None
