"""Every module the CLI's commands use beyond typer, imported when a command first touches it.

``tagoffline --help`` needs only typer; ``catalog export`` and ``service list`` need SQLAlchemy and
the catalog, never Airflow or a database driver; ``run`` needs the engine, never the REST API. Each
command module declares its commands at import time and takes the layers it calls from here, so
a command pays only for what it touches (``docs/performance.md``, CLI startup).

The heavy dependencies below them have one door each and are imported there when needed: Airflow
through ``config.py`` (read without Airflow where it is not loaded), ``connections.py`` and
``airflow_bridge.py``; database drivers through a family's ``"module:attribute"`` parts
(``contract/family.py``); Alembic in ``catalog/store.py``'s migrate and downgrade.

A name here is a ``LazyModule``: the module is imported at the first attribute read through it
(what PEP 810's ``lazy import`` spells in the language); mypy sees the real modules.
``tests/cli/test_cli_startup.py`` checks in a fresh interpreter what ``--help``, a catalog command and
``run`` import, and that both spellings of each name here agree.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any


class LazyModule(ModuleType):
    """Stands for the module of its name, imported by the first attribute read through it. Reads of
    anything but its own module dunders (``__name__``, ``__doc__``...) and every write go to that
    module (so a test patching ``service_cmd.lifecycle.x`` patches the module). Nothing is imported,
    nor put into ``sys.modules``, before that first read."""

    def __getattr__(self, attr: str) -> Any:  # only for what this stand-in does not hold itself
        return getattr(importlib.import_module(self.__name__), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(importlib.import_module(self.__name__), attr, value)


if TYPE_CHECKING:
    import httpx

    import airflow_provider_tagoffline.create_table.execute as create_table_execute
    import airflow_provider_tagoffline.create_table.parse as create_table_parse
    from airflow_provider_tagoffline import airflow_bridge, connections, create_table, data_date, runs, runspec, yaml_io
    from airflow_provider_tagoffline.catalog import apply as catalog_apply
    from airflow_provider_tagoffline.catalog import repository, store
    from airflow_provider_tagoffline.demo import run as demo_run
    from airflow_provider_tagoffline.rendering import factory
    from airflow_provider_tagoffline.service import attention, catalog_admin, held, lifecycle, publishing
    from airflow_provider_tagoffline.service import preview as service_preview
else:
    _P = "airflow_provider_tagoffline."
    httpx = LazyModule("httpx")
    create_table_execute = LazyModule(_P + "create_table.execute")
    create_table_parse = LazyModule(_P + "create_table.parse")
    airflow_bridge = LazyModule(_P + "airflow_bridge")
    connections = LazyModule(_P + "connections")
    create_table = LazyModule(_P + "create_table")
    data_date = LazyModule(_P + "data_date")
    runs = LazyModule(_P + "runs")
    runspec = LazyModule(_P + "runspec")
    yaml_io = LazyModule(_P + "yaml_io")
    catalog_apply = LazyModule(_P + "catalog.apply")
    repository = LazyModule(_P + "catalog.repository")
    store = LazyModule(_P + "catalog.store")
    demo_run = LazyModule(_P + "demo.run")
    factory = LazyModule(_P + "rendering.factory")
    attention = LazyModule(_P + "service.attention")
    held = LazyModule(_P + "service.held")
    catalog_admin = LazyModule(_P + "service.catalog_admin")
    lifecycle = LazyModule(_P + "service.lifecycle")
    service_preview = LazyModule(_P + "service.preview")
    publishing = LazyModule(_P + "service.publishing")
