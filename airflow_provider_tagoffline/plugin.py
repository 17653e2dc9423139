"""The Airflow plugin: registered through the ``airflow.plugins`` entry point.

It adds the REST API (a FastAPI app, served by Airflow's API server under ``/tag-offline``) and
the web view: an entry "Tag Offline Services" in Airflow's navigation showing the page
``/tag-offline/ui/`` of that app inside the Airflow UI (``/plugin/tag-offline``).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)


def _fastapi_apps() -> list[dict[str, Any]]:
    """The REST API app; an import failure is logged instead of breaking every Airflow process."""
    try:
        from airflow_provider_tagoffline.api.app import URL_PREFIX, app
    except Exception:
        log.exception("tag offline: the REST API could not be loaded; /tag-offline is not served")
        return []
    return [{"app": app, "url_prefix": URL_PREFIX, "name": "Tag Offline Services API"}]


class TagOfflinePlugin(AirflowPlugin):
    name = "tag_offline"
    fastapi_apps = _fastapi_apps()
    external_views = [{
        "name": "Tag Offline Services",
        "href": "/tag-offline/ui/",
        "url_route": "tag-offline",
        "destination": "nav",
        "nav_top_level": True,
    }]
