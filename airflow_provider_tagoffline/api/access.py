"""What each route needs, declared on the route — the one place that says it (as Airflow's edge3
provider and its own ``requires_access_*`` do): FastAPI dependencies that ask
``service/permissions.py``, the one module deciding who may do what.

    @router.post("/{name}/publish", dependencies=[requires_service_action("publish")])

Every route of the plugin's app declares exactly one (``tests/api/test_route_permissions.py`` lists
them all, with ``PUBLIC_ROUTES`` the only exceptions, and fails on a route with none); the table in
docs/security.md is that list. A declaration that can decide from the path alone runs before the
request body is read, so a caller without the right gets 403 whatever they send. A right that
depends on the body (the application a new service or a draft belongs to) is declared here by the
permission function the service layer then asks with the parsed body (``requires_right_on_body``).
The service layer checks again when it acts (the CLI goes through it too), with the same function
and message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from airflow.api_fastapi.core_api.security import resolve_user_from_token
from fastapi import Depends, HTTPException, Path, Query, Request

from airflow_provider_tagoffline import places
from airflow_provider_tagoffline.api.auth import ActorDep, get_actor
from airflow_provider_tagoffline.api.deps import SessionDep
from airflow_provider_tagoffline.catalog.repository import Actor
from airflow_provider_tagoffline.service import lifecycle, permissions
from airflow_provider_tagoffline.service.states import ServiceAction
from airflow_provider_tagoffline.service.validation import NAME_RE

ServiceName = Annotated[str, Path(min_length=1, max_length=64, pattern=NAME_RE.pattern, description="the service name")]
# No control characters or "/": such a path never reaches the plugin (the mount does not match it).
ConnId = Annotated[str, Path(min_length=1, max_length=250, pattern=r"^[^\x00-\x1f/]+$",
                              description="an Airflow connection id")]
SchemaParam = Annotated[str | None, Query(min_length=1, max_length=128)]

#: the attribute a declaring dependency carries: what the route needs, as the route list says it
PERMISSION = "tagoffline_permission"

#: routes FastAPI itself serves (they cannot take dependencies): the API's description, no data
PUBLIC_ROUTES = {
    "/openapi.json": "the OpenAPI document (as Airflow's own /openapi.json): no data",
    "/docs": "the interactive OpenAPI page: no data (its calls need a token)",
    "/docs/oauth2-redirect": "part of the interactive OpenAPI page",
    "/redoc": "the OpenAPI document rendered: no data",
}


def _declared(permission: str, check: Callable[..., Any]) -> Any:
    setattr(check, PERMISSION, permission)
    return Depends(check)


def permission_of(dependency: Any) -> str | None:
    """What a route's dependency declares, or None when it declares nothing."""
    return getattr(getattr(dependency, "dependency", None), PERMISSION, None)


def requires_authenticated() -> Any:
    """Reading: any authenticated Airflow user (401 without a token)."""
    def check(actor: ActorDep) -> None:
        return None
    return _declared("any authenticated Airflow user", check)


def requires_admin(what: str) -> Any:
    """Catalog administration: Airflow admins only (``what``: "manage lookups", ...)."""
    def check(actor: ActorDep) -> None:
        permissions.require_admin(actor, what)
    return _declared(f"Airflow admin (permissions.require_admin: {what})", check)


def requires_service_action(action: ServiceAction) -> Any:
    """Managing the service named in the path (``action``: "publish", "delete", ...); 404 for an
    unknown one. Its state is the service layer's to check."""
    def check(name: ServiceName, session: SessionDep, actor: ActorDep) -> None:
        permissions.require_manage(actor, lifecycle.get_service(session, name), action)
    return _declared(f"manages the service in the path (permissions.require_manage: {action})", check)


def requires_table_preview() -> Any:
    """The one-click create-table preview of the service named in the path."""
    def check(name: ServiceName, session: SessionDep, actor: ActorDep) -> None:
        permissions.require_table_preview(session, actor, lifecycle.get_service(session, name))
    return _declared("admin or member of the service's application, with access to its connection "
                     "(permissions.require_table_preview)", check)


def requires_table_creation() -> Any:
    """Creating the table of the service named in the path."""
    def check(name: ServiceName, session: SessionDep, actor: ActorDep) -> None:
        permissions.require_table_creation(session, actor, lifecycle.get_service(session, name))
    return _declared("manages the service in the path, with access to its connection "
                     "(permissions.require_table_creation)", check)


def requires_data_preview() -> Any:
    """Previewing a run of the service named in the path (its data: the application's users)."""
    def check(name: ServiceName, session: SessionDep, actor: ActorDep) -> None:
        permissions.require_data_preview(actor, lifecycle.get_service(session, name))
    return _declared("admin or member of the service's application (permissions.require_data_preview)", check)


def requires_inside(check_schema: bool = True) -> Any:
    """Looking inside the connection in the path (its schemas; with ``check_schema``, tables and
    columns of the ``schema`` query parameter, or of the default schema); gives the granted scope."""
    rule = "Airflow admin, or admin or member of an application granted the connection in the path"
    if not check_schema:
        def connection(conn_id: ConnId, session: SessionDep, actor: ActorDep) -> permissions.SchemaScope:
            return permissions.require_inside(session, actor, conn_id)
        return _declared(f"{rule} (permissions.require_inside)", connection)

    def in_schema(conn_id: ConnId, session: SessionDep, actor: ActorDep,
                  schema: SchemaParam = None) -> permissions.SchemaScope:
        return permissions.require_inside(session, actor, conn_id, lambda: places.schema_on(conn_id, schema))
    return _declared(f"{rule}, inside the schema asked for or the default one (permissions.require_inside)",
                     in_schema)


def requires_right_on_body(rule: Callable[..., object], who: str) -> Any:
    """A right that depends on the request body (the application a new service, a draft or a grant
    request names): declared by the permission function ``rule`` that the route or the service
    layer asks with the parsed body; before the body, the caller must be authenticated."""
    def check(actor: ActorDep) -> None:
        return None
    return _declared(f"{who} (permissions.{rule.__name__}, on the body)", check)


def requires_signed_in_page() -> Any:
    """The web view's page: any signed-in Airflow user; others are sent to Airflow's login (the
    dependency gives the route None for them)."""
    async def check(request: Request) -> Actor | None:
        token = request.cookies.get("_token")
        authorization = request.headers.get("authorization", "")
        if not token and authorization.lower().startswith("bearer "):
            token = authorization.split(" ", 1)[1]
        try:
            return get_actor(await resolve_user_from_token(token))
        except HTTPException:
            return None
    return _declared("any authenticated Airflow user (others are sent to Airflow's login page)", check)


def public(why: str) -> Any:
    """No right at all: ``why`` says what is served (static assets of the web view)."""
    def check() -> None:
        return None
    return _declared(f"anyone: {why}", check)
