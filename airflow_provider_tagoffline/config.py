"""The ``[tag_offline]`` configuration section, read as Airflow reads its configuration.

Every option can also be set as ``AIRFLOW__TAG_OFFLINE__<OPTION>``, as for any Airflow option.
Defaults are computed here (not in provider info) so they work whether or not Airflow has
loaded provider configuration in this process.

Importing Airflow costs more than a whole catalog command (``docs/performance.md``), so a process
that has not loaded Airflow (the CLI) reads an option the way Airflow's own parser would: the
``AIRFLOW__<SECTION>__<KEY>`` variable, else the option in ``airflow.cfg`` (``AIRFLOW_CONFIG``),
both with Airflow's expansion of ``$VARS`` and ``~``. Anything that only Airflow resolves (its
unit-test configuration, a file ``configparser`` cannot read) goes to Airflow's ``conf``, as does
every read in a process where Airflow is already loaded. ``tests/test_config_reader.py`` compares
the two readers.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SECTION = "tag_offline"
#: the environment variables of the section: ``AIRFLOW__TAG_OFFLINE__<OPTION>``, as Airflow reads them
ENV_PREFIX = f"AIRFLOW__{SECTION.upper()}__"


def _expand(value: str) -> str:
    """Airflow's ``expand_env_var``: ``$VARS`` and ``~``, repeated until nothing changes."""
    while True:
        expanded = os.path.expanduser(os.path.expandvars(value))
        if expanded == value:
            return expanded
        value = expanded


def _airflow_home() -> Path:
    return Path(_expand(os.environ.get("AIRFLOW_HOME", "~/airflow")))


def _airflow_cfg_path() -> str:
    explicit = os.environ.get("AIRFLOW_CONFIG")
    return _expand(explicit) if explicit is not None else str(_airflow_home() / "airflow.cfg")


@cache
def _airflow_cfg(path: str, mtime_ns: int) -> configparser.ConfigParser | None:
    """``airflow.cfg`` as Airflow's parser (a ``ConfigParser``) reads it; None where only Airflow can."""
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None  # let Airflow's conf raise its own message
    return parser


def _from_airflow(section: str, key: str) -> str | None:
    from airflow.configuration import conf

    return conf.get(section, key, fallback=None)


def _airflow_option(section: str, key: str) -> str | None:
    """Airflow's value of ``[section] key``; None when it is not set (Airflow's own defaults are not
    known here: the callers fall back to the same values)."""
    if "airflow.configuration" in sys.modules:
        return _from_airflow(section, key)
    variable = f"AIRFLOW__{section.upper()}__{key.upper()}"
    if variable in os.environ:
        return _expand(os.environ[variable])
    test_mode = os.environ.get("AIRFLOW__CORE__UNIT_TEST_MODE")
    if test_mode is not None and not _is_false(test_mode):
        return _from_airflow(section, key)  # Airflow then reads its unit-test configuration instead
    path = _airflow_cfg_path()
    try:
        parser = _airflow_cfg(path, os.stat(path).st_mtime_ns)
    except OSError:  # no airflow.cfg yet: Airflow would write one holding only its defaults
        return None
    if parser is None:
        return _from_airflow(section, key)
    if test_mode is None and not _is_false(parser.get("core", "unit_test_mode", raw=True, fallback="False")):
        return _from_airflow(section, key)  # unit-test mode set in airflow.cfg: the same
    try:
        return _expand(parser.get(section, key)) if parser.has_option(section, key) else None
    except configparser.Error:  # e.g. a bad %(interpolation)s: Airflow's message says where
        return _from_airflow(section, key)


def _is_false(value: str) -> bool:
    """False as Airflow's ``getboolean`` reads it (anything else is true, or an error Airflow reports)."""
    return value.split("#")[0].strip().lower() in ("f", "false", "0")


def _airflow_dags_folder() -> Path:
    # Airflow's own default of [core] dags_folder is AIRFLOW_HOME/dags
    return Path(_airflow_option("core", "dags_folder") or str(_airflow_home() / "dags")).expanduser()


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
    "wait_for_lock": ConfigOption(
        "How long a run's swap keeps trying to take the target table's exclusive lock while other "
        "sessions use the table (a duration: 10m, 1h, 90s), for services that set no "
        "target.wait_for_lock. Each try waits at most 1.5 s, so readers of the table are never held "
        "longer; when the time is up the run fails, the table untouched, naming the sessions in the way.",
        lambda: "10m",
        "10m",
        "10m",
    ),
    "timezone": ConfigOption(
        "Default timezone of recurring schedules. Empty means Airflow's [core] default_timezone.",
        lambda: "",
        "",
        "Asia/Shanghai",
    ),
    "application_roles": ConfigOption(
        "The Airflow roles of an application: comma-separated role names, {application} standing for the "
        "application's code; none for no role. Under the FAB auth manager a published DAG gives these roles "
        "access to it (access_control: see, trigger, clear, pause), and publishing refuses a role FAB does "
        "not have (docs/security.md).",
        lambda: "tag_offline_{application}",
        "tag_offline_{application}",
        "tag_offline_{application},data_platform",
    ),
}


def get(option: str) -> str:
    """Value of one ``[tag_offline]`` option, falling back to the computed default."""
    spec = CONFIG_OPTIONS[option]
    value = _airflow_option(SECTION, option)
    return value if value not in (None, "") else spec.default()


def is_set(option: str) -> bool:
    """Whether ``[tag_offline] option`` is set (airflow.cfg or the environment), not its computed default."""
    return _airflow_option(SECTION, option) not in (None, "")


def airflow_home() -> Path:
    return _airflow_home()


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


def application_roles() -> str:
    return get("application_roles")


def default_timezone() -> str:
    tz = get("timezone")
    if tz:
        return tz
    tz = _airflow_option("core", "default_timezone") or "utc"  # Airflow's own default
    return "UTC" if tz.lower() in ("utc", "system") else tz


def secrets_backend_configured() -> bool:
    """Whether Airflow would ask a secrets backend of its own configuration for a connection before the
    ``AIRFLOW_CONN_*`` variables: ``[secrets] backend``, or ``[workers] secrets_backend`` (what a process
    outside a task, such as this CLI, consults first: Airflow's ``ensure_secrets_backend_loaded``)."""
    return any(_airflow_option(section, key) not in (None, "")
               for section, key in (("secrets", "backend"), ("workers", "secrets_backend")))
