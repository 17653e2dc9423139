"""Who Airflow's auth manager calls an admin: for the user of a request (``api/auth.py``) and for every
user it can list (the access records the export task checks, ``service/access_records.py``).

1. ``SimpleAuthManager`` (the default): the user's role is ``admin`` (with
   ``simple_auth_manager_all_admins``, everybody). Its ``is_authorized_custom_view`` grants every role,
   so it cannot be asked. Its users are listed in ``[core] simple_auth_manager_users``.
2. Any other auth manager (FAB, Keycloak, AWS, a custom one): the user is authorized for ``PUT`` on the
   custom view ``Tag Offline Admin`` (``is_authorized_custom_view``). Grant that permission to whichever
   role should administer the catalog (FAB: ``can_edit`` on ``Tag Offline Admin``).
3. Also, for role-based managers whose users expose ``roles`` (FAB): a role named ``Admin``.

Only SimpleAuthManager and FAB can list their users (``airflow_bridge.auth_manager_users``); with any
other, ``listed`` is False and the export task knows Airflow admins only as far as the catalog makes
them application admins (docs/security.md).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_provider_tagoffline.airflow_access import AirflowAdmins

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


def airflow_admins() -> AirflowAdmins:
    """Every Airflow admin the configured auth manager can name (this process's Airflow configuration)."""
    from airflow_provider_tagoffline import airflow_bridge as af

    manager = af.auth_manager()
    source = type(manager).__name__
    if af.all_users_are_admins(manager):
        return AirflowAdmins(everyone=True, source=source)
    users = af.auth_manager_users(manager)
    if users is None:
        return AirflowAdmins(listed=False, source=source)
    return AirflowAdmins(tuple(sorted({username_of(u) for u in users if is_airflow_admin(u, manager)})),
                         source=source)
