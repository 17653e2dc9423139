"""The package as Airflow sees it: a provider (`airflow providers list`) and a plugin (`airflow plugins`),
on every Airflow minor it supports (smoke tests: also run on the oldest one, scripts/smoke_oldest.sh)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import airflow_provider_tagoffline
from airflow_provider_tagoffline import config

pytestmark = [pytest.mark.smoke]

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def _airflow_json(*args: str) -> list[dict]:
    env = {**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    proc = subprocess.run([AIRFLOW, *args, "-o", "json"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    start = proc.stdout.index("[")
    return json.loads(proc.stdout[start:])


def test_airflow_lists_the_provider():
    providers = {p["package_name"]: p for p in _airflow_json("providers", "list")}
    assert providers["airflow-provider-tagoffline"]["version"] == airflow_provider_tagoffline.__version__


def test_airflow_loads_the_plugin():
    plugins = {p["name"]: p for p in _airflow_json("plugins")}
    assert "airflow-provider-tagoffline" in plugins["tag_offline"]["source"]


def test_plugin_serves_the_api_only_on_the_api_server_and_links_under_base_url():
    """Schedulers, workers and the CLI load plugins too: they must not build the REST API; and with
    Airflow served under a prefix the navigation link carries it."""
    code = ("from airflow_provider_tagoffline.plugin import TagOfflinePlugin as P; import sys, json; "
            "print(json.dumps([P.external_views[0]['href'], len(P.fastapi_apps), "
            "'airflow_provider_tagoffline.api.app' in sys.modules]))")
    env = {**os.environ, "AIRFLOW__API__BASE_URL": "https://airflow.example.com/data/airflow/"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == ["/data/airflow/tag-offline/ui/", 0, False]


def test_provider_info_names_the_distribution_and_config_section():
    info = airflow_provider_tagoffline.get_provider_info()
    assert info["package-name"] == "airflow-provider-tagoffline"
    assert set(info["config"]["tag_offline"]["options"]) == {
        "sql_alchemy_conn", "dags_folder", "warehouse_conn_id", "timezone", "publish_timeout", "wait_poke_interval",
        "application_roles", "wait_for_lock"}


def test_config_defaults_and_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN", raising=False)
    monkeypatch.delenv("AIRFLOW__TAG_OFFLINE__WAREHOUSE_CONN_ID", raising=False)
    assert config.catalog_url() == f"sqlite:///{tmp_path}/tag_offline.db"
    assert config.warehouse_conn_id() == "tag_warehouse"
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__WAREHOUSE_CONN_ID", "dw")
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__DAGS_FOLDER", str(tmp_path / "rendered"))
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__TIMEZONE", "Asia/Shanghai")
    assert config.warehouse_conn_id() == "dw"
    assert config.dags_folder() == tmp_path / "rendered"
    assert config.default_timezone() == "Asia/Shanghai"
