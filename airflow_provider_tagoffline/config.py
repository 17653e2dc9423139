"""The ``[tag_offline]`` configuration section, read through Airflow's config.

Every option can also be set as ``AIRFLOW__TAG_OFFLINE__<OPTION>``, as for any Airflow option.
Defaults are computed here (not in provider info) so they work whether or not Airflow has
loaded provider configuration in this process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SECTION = "tag_offline"


def _airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()


def _airflow_dags_folder() -> Path:
    from airflow.configuration import conf

    return Path(conf.get("core", "dags_folder", fallback=str(_airflow_home() / "dags"))).expanduser()


@dataclass(frozen=True)
class ConfigOption:
    description: str
    default: Callable[[], str]
    default_doc: str  # what provider info declares; "" when the default is computed here
    example: str


CONFIG_OPTIONS: dict[str, ConfigOption] = {
    "sql_alchemy_conn": ConfigOption(
        "SQLAlchemy URL of the tag offline catalog store. Empty: a SQLite file "
        "AIRFLOW_HOME/tag_offline.db. PostgreSQL or MySQL for production.",
        lambda: "sqlite:///" + str(_airflow_home() / "tag_offline.db"),
        "",
        "postgresql+psycopg://airflow@db/tag_offline",
    ),
    "dags_folder": ConfigOption(
        "Folder the published services' DAG files are rendered into. "
        "Empty: the tag_offline folder inside [core] dags_folder.",
        lambda: str(_airflow_dags_folder() / "tag_offline"),
        "",
        "/opt/airflow/dags/tag_offline",
    ),
    "warehouse_conn_id": ConfigOption(
        "Airflow connection of the warehouse the tags are read from.",
        lambda: "tag_warehouse",
        "tag_warehouse",
        "tag_warehouse",
    ),
    "publish_timeout": ConfigOption(
        "Seconds to wait for Airflow to parse a published service's DAG before the service is "
        "marked publish_failed; while the dag-processor keeps parsing the folder (a backlog of "
        "files published at once) the wait goes on, up to ten times this.",
        lambda: "120",
        "120",
        "120",
    ),
    "wait_poke_interval": ConfigOption(
        "Seconds between two looks at the warehouse while a scheduled run waits for a late source "
        "partition (the wait runs in Airflow's triggerer).",
        lambda: "60",
        "60",
        "60",
    ),
    "timezone": ConfigOption(
        "Default timezone of recurring schedules. Empty means Airflow's [core] default_timezone.",
        lambda: "",
        "",
        "Asia/Shanghai",
    ),
}


def get(option: str) -> str:
    """Value of one ``[tag_offline]`` option, falling back to the computed default."""
    from airflow.configuration import conf

    spec = CONFIG_OPTIONS[option]
    value = conf.get(SECTION, option, fallback=None)
    return value if value not in (None, "") else spec.default()


def catalog_url() -> str:
    return get("sql_alchemy_conn")


def dags_folder() -> Path:
    return Path(get("dags_folder")).expanduser()


def warehouse_conn_id() -> str:
    return get("warehouse_conn_id")


def publish_timeout() -> float:
    return float(get("publish_timeout"))


def wait_poke_interval() -> float:
    return max(1.0, float(get("wait_poke_interval")))


def default_timezone() -> str:
    tz = get("timezone")
    if tz:
        return tz
    from airflow.configuration import conf

    tz = conf.get("core", "default_timezone", fallback="utc")
    return "UTC" if tz.lower() in ("utc", "system") else tz
