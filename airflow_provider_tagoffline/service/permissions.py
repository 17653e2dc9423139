"""Who may do what: the one module the CLI, the REST API and the web view ask (spec §6).

* **read** — every authenticated Airflow user reads the catalog and the services.
* **catalog administration** — Airflow admins (``Actor.is_admin``, decided by the auth manager in
  ``api/auth.py``): applications, entities, tags, lookups, tag grants, target grants.
* **services** — admins and members of an application create services of it (members only the
  ones they own) and manage them; Airflow admins manage every service.
* **connections** — looking inside a connection (schemas, tables, columns) and creating tables on it
  needs an Airflow admin, or an admin or member of an application holding a target grant on it,
  and only inside the granted schemas.

Which connection an *application* may write is the target grant itself (``SchemaScope`` of
``application_scope``); ``service/validation.py`` holds a service to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog.models import Application, ApplicationUser, Service, TargetGrant
from airflow_provider_tagoffline.errors import PermissionDenied

if TYPE_CHECKING:
    from airflow_provider_tagoffline.catalog.repository import Actor
    from airflow_provider_tagoffline.dialects import Dialect
    from airflow_provider_tagoffline.service.definition import ServiceDef


# ---- catalog administration ------------------------------------------------------------------

def require_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"only Airflow admins may {what}")


# ---- applications and their services ---------------------------------------------------------

def is_application_user(actor: Actor, app: Application) -> bool:
    """Airflow admins, and the admins and members of ``app``."""
    return actor.is_admin or actor.username in app.usernames("admin") + app.usernames("member")


def require_application_user(actor: Actor, app: Application, what: str) -> None:
    if not is_application_user(actor, app):
        raise PermissionDenied(f"user {actor.username!r} is not an admin or member of application "
                               f"{app.code!r} and may not {what}")


def require_user_of(session: Session, actor: Actor, application: str, what: str) -> None:
    """An admin or member of the application with code ``application``; of any application when
    there is no such one (validation then names it)."""
    app = session.scalar(select(Application).where(Application.code == application))
    if app is None:
        require_may_create_services(session, actor, what)
    else:
        require_application_user(actor, app, what)


def may_create_services(session: Session, actor: Actor) -> bool:
    """Airflow admins, and anyone who is an admin or member of at least one application."""
    if actor.is_admin:
        return True
    return session.scalar(select(ApplicationUser.id).where(ApplicationUser.username == actor.username)
                          .limit(1)) is not None


def require_may_create_services(session: Session, actor: Actor, what: str) -> None:
    if not may_create_services(session, actor):
        raise PermissionDenied(f"user {actor.username!r} may not {what}: only Airflow admins and admins or "
                               f"members of an application may")


def require_creator(session: Session, actor: Actor, d: ServiceDef, action: str) -> None:
    """403 for a user outside the application; members may only create / keep services they own."""
    if actor.is_admin:
        return
    app = session.scalar(select(Application).where(Application.code == d.application))
    if app is None:
        return  # validation names the missing application (422)
    if actor.username in app.usernames("admin"):
        return
    if actor.username not in app.usernames("member"):
        raise PermissionDenied(f"user {actor.username!r} is not an admin or member of application "
                               f"{d.application!r} and may not {action} its services")
    if d.owner != actor.username:
        raise PermissionDenied(f"members of application {d.application!r} may only {action} services they "
                               f"own: set owner to {actor.username!r}")


def can_manage(actor: Actor, svc: Service) -> bool:
    """Airflow admins and application admins manage any service of the application; members only
    the services they own (as Dataphin does)."""
    if actor.is_admin or actor.username in svc.application.usernames("admin"):
        return True
    return actor.username in svc.application.usernames("member") and svc.owner == actor.username


def require_manage(actor: Actor, svc: Service, action: str) -> None:
    if not can_manage(actor, svc):
        raise PermissionDenied(f"user {actor.username!r} may not {action} service {svc.name!r}: only Airflow "
                               f"admins, admins of application {svc.application.code!r} and the owner (a member "
                               f"of it) may")


# ---- connections: target grants ----------------------------------------------------------------

@dataclass(frozen=True)
class SchemaScope:
    """The schemas of a connection one may write or look into; ``schemas=None``: every schema."""

    schemas: tuple[str, ...] | None = None

    def allows(self, dialect: Dialect, schema: str | None) -> bool:
        """Whether ``schema`` (already resolved to the default when unset) is inside; kinds without
        schemas are never limited."""
        if self.schemas is None or not dialect.has_schemas:
            return True
        if schema is None:
            return False
        return any(dialect.name_key(s) == dialect.name_key(schema) for s in self.schemas)

    def visible(self, dialect: Dialect, names: Iterable[str]) -> list[str]:
        return [n for n in names if self.allows(dialect, n)]

    def describe(self) -> str:
        return "every schema" if self.schemas is None else "schemas " + ", ".join(self.schemas)


EVERY_SCHEMA = SchemaScope(None)


def _merged(grants: Iterable[TargetGrant]) -> SchemaScope:
    names: list[str] = []
    for g in grants:
        if g.schemas is None:
            return EVERY_SCHEMA
        names.extend(s for s in g.schemas if s not in names)
    return SchemaScope(tuple(names))


def application_scope(session: Session, app: Application, conn_id: str) -> SchemaScope | None:
    """What ``app`` may write on ``conn_id`` (its target grant), or None without a grant."""
    grant = session.scalar(select(TargetGrant).where(TargetGrant.application_id == app.id,
                                                     TargetGrant.conn_id == conn_id))
    return None if grant is None else _merged([grant])


def _grants_of_user(session: Session, actor: Actor) -> list[TargetGrant]:
    return list(session.scalars(
        select(TargetGrant).join(ApplicationUser, ApplicationUser.application_id == TargetGrant.application_id)
        .where(ApplicationUser.username == actor.username).order_by(TargetGrant.conn_id, TargetGrant.id)))


def connection_scope(session: Session, actor: Actor, conn_id: str) -> SchemaScope | None:
    """What ``actor`` may look into on ``conn_id``: everything for Airflow admins, else the union of
    the grants of the applications they administer or belong to; None when none holds one."""
    if actor.is_admin:
        return EVERY_SCHEMA
    grants = [g for g in _grants_of_user(session, actor) if g.conn_id == conn_id]
    return _merged(grants) if grants else None


def require_connection_access(session: Session, actor: Actor, conn_id: str, what: str) -> SchemaScope:
    scope = connection_scope(session, actor, conn_id)
    if scope is None:
        raise PermissionDenied(f"user {actor.username!r} may not {what}: only Airflow admins and admins or "
                               f"members of an application granted connection {conn_id!r} may")
    return scope


def require_schema_access(actor: Actor, scope: SchemaScope, dialect: Dialect, conn_id: str,
                          schema: str | None, what: str) -> None:
    """``schema`` is the resolved one (the connection's default when the caller gave none)."""
    if not scope.allows(dialect, schema):
        shown = repr(schema) if schema is not None else "the default schema"
        raise PermissionDenied(f"user {actor.username!r} may not {what}: schema {shown} of connection "
                               f"{conn_id!r} is not granted to an application of theirs (granted: "
                               f"{scope.describe()})")


def visible_connections(session: Session, actor: Actor, application: str | None = None
                        ) -> dict[str, SchemaScope] | None:
    """The connections ``actor`` may see in the connection list, with the schemas granted there;
    None means every connection without a limit (Airflow admins, no application asked for).

    With ``application``: that application's grants, for its admins and members and Airflow admins
    (nobody else sees them).
    """
    if application is not None:
        app = session.scalar(select(Application).where(Application.code == application))
        if app is None or not is_application_user(actor, app):
            return {}
        grants = session.scalars(select(TargetGrant).where(TargetGrant.application_id == app.id))
        return {g.conn_id: _merged([g]) for g in grants}
    if actor.is_admin:
        return None
    by_conn: dict[str, list[TargetGrant]] = {}
    for g in _grants_of_user(session, actor):
        by_conn.setdefault(g.conn_id, []).append(g)
    return {conn_id: _merged(grants) for conn_id, grants in by_conn.items()}
