"""How the package is installed: one extra per database family whose Airflow provider the base
install lacks, declared by the family and by ``setup.cfg`` alike; the Airflow range (``>=`` the
oldest minor CI smoke-tests, no upper pin); and, where a family's provider is missing, one line
naming the extra to install at the first place the connection is used — a save's validation, a
run's preflight, introspection — checked in subprocesses whose imports of that provider fail as
they fail where it is not installed (a meta-path finder in ``sitecustomize``).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

import pytest

from airflow_provider_tagoffline import DISTRIBUTION
from airflow_provider_tagoffline.dialects import FAMILIES, GENERIC

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXAMPLES = Path(str(resources.files("airflow_provider_tagoffline") / "examples"))
#: extras that are not a database family's: Airflow's OpenLineage listener, and the aggregates
OTHER_EXTRAS = {"openlineage"}
AGGREGATES = {"all", "dev"}


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def _requirements(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def _extras() -> dict[str, list[str]]:
    return {name: _requirements(text) for name, text in _setup_cfg()["options.extras_require"].items()}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower()


def test_every_family_needing_a_provider_has_its_extra_and_nothing_else_does() -> None:
    extras = _extras()
    declared = {f.extra for f in FAMILIES if f.extra}
    assert set(extras) - AGGREGATES - OTHER_EXTRAS == declared
    assert all(f.needs for f in FAMILIES if f.extra)  # what tells whether the extra is installed
    # the base install holds none of them: a PostgreSQL user builds no mysqlclient
    base = {_name(r) for r in _requirements(_setup_cfg()["options"]["install_requires"])}
    for extra in declared | OTHER_EXTRAS:
        assert not base & {_name(r) for r in extras[extra]}, extra


def test_all_installs_every_extra_and_dev_installs_all() -> None:
    extras = _extras()
    (everything,) = extras["all"]
    named = re.fullmatch(rf"{DISTRIBUTION}\[(.*)\]", everything)
    assert named and set(named.group(1).split(",")) == set(extras) - AGGREGATES
    assert f"{DISTRIBUTION}[all]" in extras["dev"]


def test_the_module_a_family_needs_is_shipped_by_its_extra() -> None:
    """What ``not_installed`` imports is a file of the distribution the family's extra installs."""
    extras = _extras()
    for family in FAMILIES:
        if not family.extra:
            continue
        (requirement,) = extras[family.extra]
        files = {str(f) for f in metadata.distribution(_name(requirement)).files or []}
        for module in family.needs:
            assert module.replace(".", "/") + ".py" in files, (family.name, module, requirement)


def test_airflow_is_a_range_from_the_oldest_minor_ci_smoke_tests() -> None:
    (airflow,) = [r for r in _requirements(_setup_cfg()["options"]["install_requires"])
                  if _name(r) == "apache-airflow"]
    minimum = re.fullmatch(r"apache-airflow>=(\d+\.\d+)", airflow)
    assert minimum, f"{airflow!r}: a lower bound, no upper pin"
    pinned = re.search(r"^apache-airflow==(\d+\.\d+)\.\d+$",
                       (ROOT / "scripts" / "oldest-airflow-constraints.txt").read_text(), re.M)
    assert pinned and pinned.group(1) == minimum.group(1)


@pytest.mark.smoke
def test_a_family_imports_exactly_where_its_extra_is_installed() -> None:
    """Real, without simulation: all extras in the full install (.venv), none in the base install the
    oldest-Airflow smoke run uses (.venv-oldest), where each family says which extra to install."""
    extras = _extras()
    for family in FAMILIES:
        if not family.extra:
            assert family.not_installed() is None, family.name
            continue
        (requirement,) = extras[family.extra]
        try:
            metadata.distribution(_name(requirement))
        except metadata.PackageNotFoundError:
            said = family.not_installed()
            assert said and said.endswith(f"install it with pip install '{DISTRIBUTION}[{family.extra}]'"), said
        else:
            assert family.not_installed() is None, family.name
    assert GENERIC.not_installed() is None  # any hook a connection has; its own message says so


# ---- a family whose provider is missing -----------------------------------------------------------
BLOCKER = '''
import importlib.abc, importlib.metadata, os, sys

MODULES = tuple(m for m in os.environ["TOT_NOT_INSTALLED_MODULES"].split(",") if m)
DISTRIBUTIONS = {d for d in os.environ["TOT_NOT_INSTALLED_DISTRIBUTIONS"].split(",") if d}


class NotInstalled(importlib.abc.MetaPathFinder):
    """Imports of MODULES fail as they do where their distribution is not installed."""

    def find_spec(self, name, path=None, target=None):
        if any(name == m or name.startswith(m + ".") for m in MODULES):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def hide_distributions(module):
    """DISTRIBUTIONS missing from the installed ones: Airflow finds no provider (entry point) of theirs."""
    discover = module.Distribution.discover.__func__

    def without(cls, **kwargs):
        return (d for d in discover(cls, **kwargs) if (d.metadata["Name"] or "").lower() not in DISTRIBUTIONS)

    module.Distribution.discover = classmethod(without)


sys.meta_path.insert(0, NotInstalled())
hide_distributions(importlib.metadata)
try:
    import importlib_metadata
except ImportError:
    pass
else:
    hide_distributions(importlib_metadata)
'''

MYSQL_LINE = ("connection 'crm_mysql' (mysql): its Airflow provider does not import here (No module named "
              f"'airflow.providers.mysql'); install it with pip install '{DISTRIBUTION}[mysql]'")


@pytest.fixture
def without_providers(tmp_path: Path) -> dict[str, str]:
    """The environment of a subprocess in which the MySQL and Hive providers are not installed."""
    (tmp_path / "blocker").mkdir()
    (tmp_path / "blocker" / "sitecustomize.py").write_text(BLOCKER)
    return {"PYTHONPATH": str(tmp_path / "blocker"),
            "TOT_NOT_INSTALLED_MODULES": "airflow.providers.mysql,airflow.providers.apache.hive",
            "TOT_NOT_INSTALLED_DISTRIBUTIONS": "apache-airflow-providers-mysql,apache-airflow-providers-apache-hive"}


def _tagoffline(store: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "tagoffline"), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": store,
                               "AIRFLOW_CONN_CRM_MYSQL": json.dumps({"conn_type": "mysql", "host": "127.0.0.1"}),
                               **(env or {})})


def test_the_blocker_hides_what_it_is_told_and_nothing_else(without_providers: dict[str, str]) -> None:
    code = ("import importlib, importlib.metadata as md\n"
            "for m in ('airflow.providers.mysql.hooks.mysql', 'airflow.providers.postgres.hooks.postgres'):\n"
            "    try:\n        importlib.import_module(m); print(m, 'ok')\n"
            "    except ImportError as e:\n        print(m, e)\n"
            "print(sorted(d.metadata['Name'] for d in md.distributions() if 'providers-my' in d.metadata['Name']"
            " or 'providers-postgres' in d.metadata['Name']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **without_providers})
    assert proc.stdout.splitlines() == [
        "airflow.providers.mysql.hooks.mysql No module named 'airflow.providers.mysql'",
        "airflow.providers.postgres.hooks.postgres ok",
        "['apache-airflow-providers-postgres']"], proc.stderr[-2000:]


def test_save_and_run_say_which_extra_to_install(tmp_path: Path, without_providers: dict[str, str]) -> None:
    store = f"sqlite:///{tmp_path / 'catalog.db'}"
    for args in (("db", "migrate"), ("catalog", "apply", str(EXAMPLES / "catalog.yaml"))):
        assert _tagoffline(store, *args).returncode == 0
    saved = _tagoffline(store, "service", "apply", str(EXAMPLES / "service.yaml"), env=without_providers)
    assert (saved.returncode, saved.stderr) == (1, f"error: target.conn_id: {MYSQL_LINE}\n")
    # saved where the provider is installed (the API server), run where it is not (a worker)
    assert _tagoffline(store, "service", "apply", str(EXAMPLES / "service.yaml")).returncode == 0
    ran = _tagoffline(store, "run", "crm_user_tags", "--date", "2026-11-23", env=without_providers)
    assert ran.returncode == 1 and ran.stderr.count("\n") == 1, ran.stderr
    assert ran.stderr.rstrip("\n").endswith(MYSQL_LINE), ran.stderr


def test_introspection_and_the_warehouse_say_which_extra_to_install(without_providers: dict[str, str]) -> None:
    code = """
import json
from airflow_provider_tagoffline import connections
from airflow_provider_tagoffline.api import introspection
from airflow_provider_tagoffline.errors import ValidationFailed

listed = {c.conn_id: c.kind for c in introspection.list_connections()}
said = []
for call in (lambda: introspection.schemas("crm_mysql"), lambda: connections.resolve_warehouse("spark_wh")):
    try:
        call()
        said.append(None)
    except ValidationFailed as exc:
        said.append(str(exc))
print(json.dumps({"listed": listed.get("crm_mysql"), "said": said}))
"""
    env = {**os.environ, **without_providers,
           "AIRFLOW_CONN_CRM_MYSQL": json.dumps({"conn_type": "mysql", "host": "127.0.0.1"}),
           "AIRFLOW_CONN_SPARK_WH": json.dumps({"conn_type": "hiveserver2", "host": "127.0.0.1"})}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["listed"] == "mysql"  # still offered in the form: choosing it says what to install
    assert out["said"] == [
        f"conn_id: {MYSQL_LINE}",
        "warehouse_conn_id: connection 'spark_wh' (hiveserver2): its Airflow provider does not import here "
        f"(No module named 'airflow.providers.apache.hive'); install it with pip install '{DISTRIBUTION}[hive]'"]
