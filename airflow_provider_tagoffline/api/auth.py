"""Who is calling: the Airflow user behind the request, as a catalog ``Actor``.

Authentication is Airflow's own: ``GetUserDep`` reads ``Authorization: Bearer <jwt>`` (the token
of ``POST /auth/token``) or, without that header, the ``_token`` cookie the Airflow UI keeps, and
asks the configured auth manager to decode it. No token, or an expired one: 401. An invalid token:
403 (Airflow's choice, kept as is).

Authorization has three levels (spec §6):

* **read** — every authenticated Airflow user.
* **service management** — Airflow admins, and admins and members of a service's application
  (members only the services they own); looking inside connections follows target grants. Every
  such rule lives in ``service/permissions.py``; this module only says who the user is and whether
  Airflow calls them an admin.
* **catalog and grant administration** — Airflow admins, as decided by the auth manager:

  1. ``SimpleAuthManager`` (the default): the user's role is ``admin``. Its
     ``is_authorized_custom_view`` grants every role, so it cannot be asked.
  2. Any other auth manager (FAB, Keycloak, AWS, a custom one): the user is authorized for
     ``PUT`` on the custom view ``Tag Offline Admin`` (``is_authorized_custom_view``). Grant that
     permission to whichever role should administer the catalog (FAB: ``can_edit`` on
     ``Tag Offline Admin``).
  3. Also, for role-based managers whose users expose ``roles`` (FAB): a role named ``Admin``.

The ``Actor`` built here carries the user name (what ``get_name()`` returns) into every write, so
the acting user lands in the audit log.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends

from airflow_provider_tagoffline.catalog.repository import Actor

log = logging.getLogger(__name__)

#: the custom view (plugin resource) an auth manager is asked about for catalog administration
ADMIN_RESOURCE = "Tag Offline Admin"


def username_of(user: Any) -> str:
    """The name the catalog knows a user by (application admins / members, owner, audit log)."""
    name = user.get_name() if hasattr(user, "get_name") else None
    return str(name or user.get_id())


def is_airflow_admin(user: Any, auth_manager: Any = None) -> bool:
    """Whether the auth manager deems ``user`` an Airflow admin (see the module docstring)."""
    if auth_manager is None:
        from airflow.api_fastapi.app import get_auth_manager

        auth_manager = get_auth_manager()
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    if isinstance(auth_manager, SimpleAuthManager):
        return str(getattr(user, "role", "") or "").upper() == "ADMIN"
    roles = getattr(user, "roles", None)
    if roles:
        names = {str(getattr(r, "name", r)) for r in roles}
        if "Admin" in names:
            return True
    try:
        return bool(auth_manager.is_authorized_custom_view(method="PUT", resource_name=ADMIN_RESOURCE,
                                                           user=user))
    except Exception:  # an auth manager that does not know custom views: no admin
        log.warning("auth manager %s failed on is_authorized_custom_view; treating %s as non-admin",
                    type(auth_manager).__name__, username_of(user), exc_info=True)
        return False


def get_actor(user: GetUserDep) -> Actor:
    """FastAPI dependency: the authenticated caller (401 without a valid token)."""
    return Actor(username=username_of(user), is_admin=is_airflow_admin(user))


ActorDep = Annotated[Actor, Depends(get_actor)]

