"""The plugin's FastAPI app, mounted by Airflow's API server under ``/tag-offline`` (``plugin.py``).

OpenAPI document: ``/tag-offline/openapi.json`` (interactive: ``/tag-offline/docs``). Every
endpoint needs an authenticated Airflow user (``api/auth.py``); every error has the shape of
``api/errors.py``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Depends, FastAPI, Request

from airflow_provider_tagoffline import __version__
from airflow_provider_tagoffline.api import routes_catalog, routes_helpers, routes_services
from airflow_provider_tagoffline.api.body_limit import BodyLimit
from airflow_provider_tagoffline.api.errors import install_error_handlers
from airflow_provider_tagoffline.api.same_site import SameSiteWrites
from airflow_provider_tagoffline.api.schemas import ErrorResponse
from airflow_provider_tagoffline.errors import ValidationFailed
from airflow_provider_tagoffline.ui import routes as ui_routes

DESCRIPTION = """\
Tag offline services for Apache Airflow: deliver warehouse entity tags into application databases.

**Authentication**: Airflow's own. Send `Authorization: Bearer <jwt>` with a token from Airflow's
`POST /auth/token`, or the `_token` cookie of the Airflow UI. Without a token: 401.
A write (POST, PUT, PATCH, DELETE) authenticated by the cookie alone is refused (403) unless it comes
from the web view: the `X-Tag-Offline-Client` header, and, when the browser sends them,
`Sec-Fetch-Site: same-origin` and the server's own `Origin`.

**Authorization**: every authenticated user reads. Airflow admins manage the catalog and decide
grants. Admins and members of an application create and manage its services (members only the
services they own) and request grants. Otherwise: 403.

**Errors**: `{"detail": [{"field": "target.table", "message": "..."}], "status": 422}`.
422 invalid input (every problem at once, each naming its field), 409 a state conflict (delete
while published, an update based on an old `version`, a catalog object still in use), 404 unknown,
413 a request body over 1 MiB (refused before it is parsed).

**Who may call what**: every route declares the right it needs (`api/access.py`); the list is in
docs/security.md.
"""

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no token, or an expired one"},
    403: {"model": ErrorResponse, "description": "not allowed, or an invalid token"},
    404: {"model": ErrorResponse, "description": "no such object"},
    409: {"model": ErrorResponse, "description": "a state conflict"},
    413: {"model": ErrorResponse, "description": "the request body is larger than the API reads (1 MiB)"},
    422: {"model": ErrorResponse, "description": "invalid input, each problem with its field"},
    500: {"model": ErrorResponse, "description": "an unexpected error (logged by the API server)"},
    502: {"model": ErrorResponse, "description": "Airflow's metadata database refused or could not be reached"},
    503: {"model": ErrorResponse, "description": "the catalog store is not migrated"},
}


def _nul_path(value: Any, path: str) -> str | None:
    """The dotted path of the first string holding a NUL character, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _nul_path(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


async def reject_nul_characters(request: Request) -> None:
    """No database we store into keeps a NUL character in text (PostgreSQL refuses it): a clear
    422 naming the field instead of a failed statement."""
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if "\x00" in value:
            raise ValidationFailed.one(name, "must not contain a NUL character")
    body = await request.body()
    if body and b"\\u0000" in body:
        try:
            found = _nul_path(json.loads(body), "")
        except ValueError:
            return  # not JSON: the endpoint's own validation answers
        if found:
            raise ValidationFailed.one(found, "must not contain a NUL character")


def create_app() -> FastAPI:
    app = FastAPI(
        dependencies=[Depends(reject_nul_characters)],
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
    # Bodies over the limit: 413 before anything parses them (inside the same-site check below).
    app.add_middleware(BodyLimit)
    # Before anything else, body parsing included: a forged cross-site write must not run at all.
    app.add_middleware(SameSiteWrites)
    for router in (routes_services.router, routes_catalog.router, routes_helpers.router):
        app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(ui_routes.router)
    return app

