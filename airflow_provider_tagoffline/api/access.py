"""What a route needs, declared on the route (as Airflow's own ``requires_access_*``): FastAPI
dependencies that ask ``service/permissions.py``, the one module deciding who may do what.

    @router.post("/{name}/publish", dependencies=[requires_service_action("publish")])

They run before the request body is read, so a caller without the right gets 403 whatever they
send. The service layer checks again when it acts (the CLI goes through it too), with the same
function and message.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path

from airflow_provider_tagoffline.api.auth import ActorDep
from airflow_provider_tagoffline.api.deps import SessionDep
from airflow_provider_tagoffline.service import lifecycle, permissions
from airflow_provider_tagoffline.service.states import ServiceAction
from airflow_provider_tagoffline.service.validation import NAME_RE

ServiceName = Annotated[str, Path(min_length=1, max_length=64, pattern=NAME_RE.pattern, description="the service name")]


def requires_admin(what: str) -> Any:
    """Catalog administration: Airflow admins only (``what``: "manage lookups", ...)."""
    def check(actor: ActorDep) -> None:
        permissions.require_admin(actor, what)
    return Depends(check)


def requires_service_action(action: ServiceAction) -> Any:
    """Managing the service named in the path (``action``: "publish", "delete", ...); 404 for an
    unknown one. Its state is the service layer's to check."""
    def check(name: ServiceName, session: SessionDep, actor: ActorDep) -> None:
        permissions.require_manage(actor, lifecycle.get_service(session, name), action)
    return Depends(check)


def requires_table_preview() -> Any:
    """The one-click create-table preview of the service named in the path."""
    def check(name: ServiceName, session: SessionDep, actor: ActorDep) -> None:
        permissions.require_table_preview(session, actor, lifecycle.get_service(session, name))
    return Depends(check)


def requires_table_creation() -> Any:
    """Creating the table of the service named in the path."""
    def check(name: ServiceName, session: SessionDep, actor: ActorDep) -> None:
        permissions.require_table_creation(session, actor, lifecycle.get_service(session, name))
    return Depends(check)


def requires_data_preview() -> Any:
    """Previewing a run of the service named in the path (its data: the application's users)."""
    def check(name: ServiceName, session: SessionDep, actor: ActorDep) -> None:
        permissions.require_data_preview(actor, lifecycle.get_service(session, name))
    return Depends(check)
