"""The Airflow plugin: registered through the ``airflow.plugins`` entry point.

It adds the REST API (a FastAPI app, served by Airflow's API server under ``/tag-offline``) and
the web view: an entry "Tag Offline" in Airflow's navigation showing the page
``/tag-offline/ui/`` of that app inside the Airflow UI (``/plugin/tag-offline``).

Every Airflow process loads plugins (scheduler, dag-processor, workers, the CLI); only the API
server serves the app, so only there is it built (the edge3 provider does the same). Links carry the
path of ``[api] base_url``, so Airflow served under a prefix (``https://host/airflow/``) works.
"""

from __future__ import annotations

import logging
import sys
from typing import Any
from urllib.parse import urlsplit

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

URL_PREFIX = "/tag-offline"


def base_path(path: str) -> str:
    """``path`` under the path of ``[api] base_url`` (``/airflow/tag-offline/ui/`` for ``https://h/airflow``)."""
    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="") or ""
    prefix = (urlsplit(base).path if "://" in base else base).rstrip("/")
    return prefix + path


def running_api_server() -> bool:
    """Whether this process is Airflow's API server (``airflow api-server``, or uvicorn on its main module)."""
    return (len(sys.argv) > 1 and sys.argv[1] == "api-server") or any(
        arg.endswith("airflow/api_fastapi/main.py") or arg == "airflow.api_fastapi.main:app" for arg in sys.argv)


def _fastapi_apps() -> list[dict[str, Any]]:
    """The REST API app on the API server; an import failure is logged instead of breaking Airflow."""
    if not running_api_server():
        return []
    try:
        from airflow_provider_tagoffline.api.app import create_app
    except Exception:
        log.exception("tag offline: the REST API could not be loaded; %s is not served", URL_PREFIX)
        return []
    return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Tag Offline Services API"}]


class TagOfflinePlugin(AirflowPlugin):
    name = "tag_offline"
    fastapi_apps = _fastapi_apps()
    external_views = [{
        # Airflow's navigation shows about 11 characters under the icon: "Tag Offline Services" was cut
        "name": "Tag Offline",
        "href": base_path(f"{URL_PREFIX}/ui/"),
        "url_route": "tag-offline",
        "destination": "nav",
        "nav_top_level": True,
    }]
