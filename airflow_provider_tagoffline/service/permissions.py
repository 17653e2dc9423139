"""Who may do what: the one module that decides it (spec §6). The CLI, the REST API and the web view
ask it; a route only names the action it needs (``api/access.py``), the service layer calls the
``require_*`` of the action it performs, and ``api/auth.py`` only says who the caller is.

* **read** — every authenticated Airflow user reads the catalog and the services.
* **catalog administration** — Airflow admins (``Actor.is_admin``, decided by the auth manager in
  ``api/auth.py``): applications, entities, tags, lookups, tag grants, target grants.
* **services** — admins and members of an application create services of it (members only the
  ones they own) and manage them; Airflow admins manage every service. What a caller may do with a
  service *now* adds its state (``service/states.py``): ``service_actions`` says it for every
  action, with the reason of each refusal, and ``require_action`` refuses with the same message.
* **connections** — looking inside a connection (schemas, tables, columns) and creating tables on it
  needs an Airflow admin, or an admin or member of an application holding a target grant on it,
  and only inside the granted schemas.

Which connection an *application* may write is the target grant itself (``SchemaScope`` of
``application_scope``); ``service/validation.py`` holds a service to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog.models import Application, ApplicationUser, Service, TargetGrant
from airflow_provider_tagoffline.errors import Conflict, PermissionDenied
from airflow_provider_tagoffline.service import attention, states
from airflow_provider_tagoffline.service.states import ServiceAction

if TYPE_CHECKING:
    from airflow_provider_tagoffline.catalog.repository import Actor
    from airflow_provider_tagoffline.dialects import Dialect
    from airflow_provider_tagoffline.service.definition import ServiceDef


# ---- catalog administration ------------------------------------------------------------------

def may_administer_catalog(actor: Actor) -> bool:
    return actor.is_admin


def require_admin(actor: Actor, what: str) -> None:
    if not may_administer_catalog(actor):
        raise PermissionDenied(f"only Airflow admins may {what}")


def may_see_server_paths(actor: Actor) -> bool:
    """Server paths (the DAG file, a lock file, a traceback's files) say how the API server's host is
    laid out: Airflow admins see them, everyone else the file names only (``api/server_paths.py``)."""
    return actor.is_admin


# ---- applications and their services ---------------------------------------------------------

def is_application_user(actor: Actor, app: Application) -> bool:
    """Airflow admins, and the admins and members of ``app``."""
    return actor.is_admin or actor.username in app.usernames("admin") + app.usernames("member")


def application_user_refusal(actor: Actor, app: Application) -> str | None:
    """Why ``actor`` is no user of ``app`` (validation names it on the ``application`` field), or None."""
    if is_application_user(actor, app):
        return None
    return f"user {actor.username!r} is not an admin or member of application {app.code!r}"


def require_application_user(actor: Actor, app: Application, what: str) -> None:
    refusal = application_user_refusal(actor, app)
    if refusal:
        raise PermissionDenied(f"{refusal} and may not {what}")


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


def service_applications(session: Session, actor: Actor) -> list[str]:
    """The codes of the applications ``actor`` may create services in and request grants for."""
    q = select(Application.code).order_by(Application.code)
    if not actor.is_admin:
        q = q.join(ApplicationUser).where(ApplicationUser.username == actor.username).distinct()
    return list(session.scalars(q))


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


def require_edit(session: Session, actor: Actor, svc: Service, d: ServiceDef) -> None:
    """Who manages ``svc`` edits it; handing it to another owner or application must leave a service
    they could create."""
    require_manage(actor, svc, "edit")
    if d.owner != svc.owner or d.application != svc.application.code:
        require_creator(session, actor, d, "edit")


def can_manage(actor: Actor, svc: Service) -> bool:
    """Airflow admins and application admins manage any service of the application; members only
    the services they own (as Dataphin does)."""
    if actor.is_admin or actor.username in svc.application.usernames("admin"):
        return True
    return actor.username in svc.application.usernames("member") and svc.owner == actor.username


def manage_refusal(actor: Actor, svc: Service, action: str) -> str | None:
    """Why ``actor`` may not ``action`` ``svc`` whatever its state, or None."""
    if can_manage(actor, svc):
        return None
    return (f"user {actor.username!r} may not {action} service {svc.name!r}: only Airflow admins, admins of "
            f"application {svc.application.code!r} and the owner (a member of it) may")


def require_manage(actor: Actor, svc: Service, action: str) -> None:
    refusal = manage_refusal(actor, svc, action)
    if refusal:
        raise PermissionDenied(refusal)


# ---- runs started by hand: who may, and who may allow an older data date ----------------------

def may_allow_older(actor: Actor, svc: Service) -> bool:
    """Rolling a whole-table target back to an older data date (``allow_older``) is the application's
    decision: Airflow admins and admins of the application, not members (who may run the services they
    own)."""
    return actor.is_admin or actor.username in svc.application.usernames("admin")


def require_allow_older(actor: Actor, svc: Service) -> None:
    if not may_allow_older(actor, svc):
        raise PermissionDenied(f"user {actor.username!r} may not allow an older data date (allow_older) for "
                               f"service {svc.name!r}: only Airflow admins and admins of application "
                               f"{svc.application.code!r} may")


def run_access(svc: Service) -> tuple[list[str], list[str]]:
    """The catalog users (not Airflow admins, who may all) who may start runs of ``svc`` by hand, and those
    who may allow an older data date: the rules above, asked of every user they could admit. The export
    task checks a run's triggering user against them (``service/access_records.py``)."""
    from airflow_provider_tagoffline.catalog.repository import Actor

    candidates = sorted({u.username for u in svc.application.users} | {svc.owner})
    users = [Actor(username=u, is_admin=False) for u in candidates]
    return ([a.username for a in users if can_manage(a, svc)],
            [a.username for a in users if may_allow_older(a, svc)])


# ---- what a caller may do with a service now, and why not --------------------------------------

@dataclass(frozen=True)
class ServiceActions:
    """Every action on one service for one caller: the allowed ones, and why each other one is not
    (the message the action itself would be refused with)."""

    allowed: list[ServiceAction]
    refusals: dict[ServiceAction, str]


def _refusal(actor: Actor, svc: Service, action: ServiceAction,
             found: attention.Attention | None = None) -> PermissionDenied | Conflict | None:
    """The right first (403), then the state of spec §3 (409), then catalog drift (409; ``found``:
    the service's attention when the caller has it already, else read now)."""
    why = manage_refusal(actor, svc, action)
    if why:
        return PermissionDenied(why)
    why = states.refusal(svc, action)
    if why is None and action in attention.GUARDED:
        why = states.refusal(svc, action, attention.drift_refusing(svc, action, found or attention.of(svc)))
    return Conflict(why) if why else None


def service_actions(actor: Actor, svc: Service, found: attention.Attention | None = None) -> ServiceActions:
    """What ``actor`` may do with ``svc`` now and why not the rest: the REST API's ``actions`` and
    ``refusals``, which the web view's buttons show (``found``: its attention, read in bulk by a list)."""
    refusals = {a: str(r) for a in states.SERVICE_ACTIONS if (r := _refusal(actor, svc, a, found)) is not None}
    return ServiceActions([a for a in states.SERVICE_ACTIONS if a not in refusals], refusals)


def require_action(actor: Actor, svc: Service, action: ServiceAction) -> None:
    """403 unless ``actor`` manages ``svc``, 409 unless its state and its catalog allow ``action`` now."""
    refusal = _refusal(actor, svc, action)
    if refusal is not None:
        raise refusal


# ---- one-click create table ---------------------------------------------------------------------

def require_table_preview(session: Session, actor: Actor, svc: Service) -> None:
    """A preview says whether the table exists: only for who may create it, on a granted connection."""
    require_application_user(actor, svc.application, "preview the tables of its services")
    require_connection_access(session, actor, svc.target_conn_id, LOOK_INSIDE)


def require_table_creation(session: Session, actor: Actor, svc: Service) -> None:
    require_manage(actor, svc, "create the table of")
    require_connection_access(session, actor, svc.target_conn_id, CREATE_TABLES)


def require_draft_table_preview(session: Session, actor: Actor, d: ServiceDef) -> None:
    require_user_of(session, actor, d.application, "preview the tables of its services")
    if d.target.conn_id.strip():
        require_connection_access(session, actor, d.target.conn_id, LOOK_INSIDE)


def require_draft_table_creation(session: Session, actor: Actor, d: ServiceDef) -> None:
    require_may_create_services(session, actor, "create tables")
    require_creator(session, actor, d, "create tables for")
    if d.target.conn_id.strip():
        require_connection_access(session, actor, d.target.conn_id, CREATE_TABLES)


# ---- preview of a run ---------------------------------------------------------------------------

def data_preview_refusal(actor: Actor, svc: Service) -> str | None:
    """Why ``actor`` may not preview ``svc`` (any state: spec §3), or None. A preview shows tag values
    of the application and rows of its target table: its admins and members (and Airflow admins), not
    every reader. The target is the application's own (validation held it to its target grant)."""
    refusal = application_user_refusal(actor, svc.application)
    return f"{refusal} and may not preview the data of its services" if refusal else None


def require_data_preview(actor: Actor, svc: Service) -> None:
    refusal = data_preview_refusal(actor, svc)
    if refusal:
        raise PermissionDenied(refusal)


def require_draft_data_preview(session: Session, actor: Actor, d: ServiceDef) -> None:
    """A draft's target is not claimed yet: its connection must be one the caller may look inside."""
    require_user_of(session, actor, d.application, "preview the data of its services")
    if d.target.conn_id.strip():
        require_connection_access(session, actor, d.target.conn_id, LOOK_INSIDE)


# ---- connections: target grants ----------------------------------------------------------------

LOOK_INSIDE = "look inside connections"
CREATE_TABLES = "create tables on connections"


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


def require_inside(session: Session, actor: Actor, conn_id: str,
                   where: Callable[[], tuple[Dialect, str | None] | None] | None = None) -> SchemaScope:
    """403 unless ``actor`` may look inside ``conn_id`` and, given ``where`` (the connection's dialect
    and the schema a name lands in; None when the connection is unknown, which introspection then
    says), into that schema."""
    scope = require_connection_access(session, actor, conn_id, LOOK_INSIDE)
    if where is not None and scope.schemas is not None:
        place = where()
        if place is not None:
            require_schema_access(actor, scope, place[0], conn_id, place[1], LOOK_INSIDE)
    return scope


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
