"""config.py reads ``[tag_offline]`` without Airflow where Airflow is not loaded (the CLI): it must read what
Airflow's own ``conf`` reads. Each case runs in a fresh interpreter: every option read before Airflow is
imported, then again through Airflow's ``conf`` in the same process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = r"""
import json, sys
from airflow_provider_tagoffline import config

def read():
    return {"catalog_url": config.catalog_url(), "dags_folder": str(config.dags_folder()),
            "warehouse_conn_id": config.warehouse_conn_id(), "timezone": config.default_timezone(),
            "publish_timeout": config.publish_timeout(), "wait_poke_interval": config.wait_poke_interval()}

ours = read()
assert not [m for m in sys.modules if m == "airflow" or m.startswith("airflow.")], "read without Airflow"
import airflow.configuration  # noqa: F401  (from here on config.py asks Airflow's conf)
print(json.dumps({"without_airflow": ours, "airflow": read()}))
"""

CFG = """
[core]
dags_folder = ${TOT_DIR}/cfg_dags
default_timezone = Europe/Paris
load_examples = False

[tag_offline]
sql_alchemy_conn = sqlite:///${TOT_DIR}/from_cfg.db
suffix = east
warehouse_conn_id = dw_%(suffix)s
timezone =
publish_timeout = 45
"""


def _probe(env: dict[str, str]) -> dict[str, dict[str, object]]:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, dict[str, object]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    ours = ("AIRFLOW__TAG_OFFLINE__", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__DEFAULT_TIMEZONE", "AIRFLOW_CONFIG")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    (tmp_path / "home").mkdir()
    return {**env, "AIRFLOW_HOME": str(tmp_path / "home"), "TOT_DIR": str(tmp_path)}


def test_defaults_without_an_airflow_cfg_and_with_the_one_airflow_writes(base_env: dict[str, str],
                                                                          tmp_path: Path) -> None:
    read = _probe(base_env)
    assert read["without_airflow"] == read["airflow"]
    assert read["airflow"]["catalog_url"] == f"sqlite:///{tmp_path}/home/tag_offline.db"
    assert read["airflow"]["dags_folder"] == f"{tmp_path}/home/dags/tag_offline"
    # Airflow's CLI writes airflow.cfg on first use: every option, [tag_offline]'s commented out
    subprocess.run([str(Path(sys.executable).with_name("airflow")), "config", "get-value", "core", "dags_folder"],
                   check=True, capture_output=True, env=base_env, timeout=300)
    assert "[tag_offline]" in (tmp_path / "home" / "airflow.cfg").read_text()
    assert _probe(base_env) == read


def test_airflow_cfg_values_with_expansion_and_interpolation(base_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "home" / "airflow.cfg").write_text(CFG)
    read = _probe(base_env)
    assert read["without_airflow"] == read["airflow"] == {
        "catalog_url": f"sqlite:///{tmp_path}/from_cfg.db", "dags_folder": f"{tmp_path}/cfg_dags/tag_offline",
        "warehouse_conn_id": "dw_east", "timezone": "Europe/Paris", "publish_timeout": 45.0,
        "wait_poke_interval": 60.0}


def test_environment_wins_over_the_file_and_airflow_config_moves_it(base_env: dict[str, str], tmp_path: Path) -> None:
    elsewhere = tmp_path / "etc" / "airflow.cfg"
    elsewhere.parent.mkdir()
    elsewhere.write_text(CFG)
    env = {**base_env, "AIRFLOW_CONFIG": "${TOT_DIR}/etc/airflow.cfg",
           "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": "sqlite:///$TOT_DIR/from_env.db",
           "AIRFLOW__TAG_OFFLINE__DAGS_FOLDER": "~/rendered", "AIRFLOW__TAG_OFFLINE__TIMEZONE": "Asia/Shanghai",
           "AIRFLOW__CORE__UNIT_TEST_MODE": "False"}
    read = _probe(env)
    assert read["without_airflow"] == read["airflow"]
    assert read["airflow"]["catalog_url"] == f"sqlite:///{tmp_path}/from_env.db"
    assert read["airflow"]["dags_folder"] == str(Path("~/rendered").expanduser())
    assert (read["airflow"]["timezone"], read["airflow"]["warehouse_conn_id"]) == ("Asia/Shanghai", "dw_east")
