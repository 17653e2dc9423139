"""The plugin's FastAPI app, mounted by Airflow's API server under ``/tag-offline``.

OpenAPI document: ``/tag-offline/openapi.json`` (interactive: ``/tag-offline/docs``). Every
endpoint needs an authenticated Airflow user (``api/auth.py``); every error has the shape of
``api/errors.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from airflow_provider_tagoffline import __version__
from airflow_provider_tagoffline.api import routes_catalog, routes_helpers, routes_services
from airflow_provider_tagoffline.api.errors import install_error_handlers
from airflow_provider_tagoffline.api.schemas import ErrorResponse

URL_PREFIX = "/tag-offline"

DESCRIPTION = """\
Tag offline services for Apache Airflow: deliver warehouse entity tags into application databases.

**Authentication**: Airflow's own. Send `Authorization: Bearer <jwt>` with a token from Airflow's
`POST /auth/token`, or the `_token` cookie of the Airflow UI. Without a token: 401.

**Authorization**: every authenticated user reads. Airflow admins manage the catalog and decide
grants. Admins and members of an application create and manage its services (members only the
services they own) and request grants. Otherwise: 403.

**Errors**: `{"detail": [{"field": "target.table", "message": "..."}], "status": 422}`.
422 invalid input (every problem at once, each naming its field), 409 a state conflict (delete
while published, an update based on an old `version`, a catalog object still in use), 404 unknown.
"""

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no token, or an expired one"},
    403: {"model": ErrorResponse, "description": "not allowed, or an invalid token"},
    404: {"model": ErrorResponse, "description": "no such object"},
    409: {"model": ErrorResponse, "description": "a state conflict"},
    422: {"model": ErrorResponse, "description": "invalid input, each problem with its field"},
    500: {"model": ErrorResponse, "description": "an unexpected error (logged by the API server)"},
    502: {"model": ErrorResponse, "description": "Airflow's metadata database refused or could not be reached"},
    503: {"model": ErrorResponse, "description": "the catalog store is not migrated"},
}


def create_app() -> FastAPI:
    app = FastAPI(
        title="Tag Offline Services",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "services", "description": "Tag offline services and their lifecycle"},
            {"name": "catalog", "description": "Applications, entities, IDs, tags, lookups, grants"},
            {"name": "helpers", "description": "Connections, same-name mapping, one-click create table, audit"},
        ],
    )
    install_error_handlers(app)
    for router in (routes_services.router, routes_catalog.router, routes_helpers.router):
        app.include_router(router, responses=ERROR_RESPONSES)
    return app


app = create_app()
