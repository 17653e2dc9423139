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
* **catalog and grant administration** — Airflow admins, as decided by the auth manager
  (``airflow_admins.py`` says how, per auth manager).

The ``Actor`` built here carries the user name (what ``get_name()`` returns) into every write, so
the acting user lands in the audit log.
"""

from __future__ import annotations

from typing import Annotated

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends

from airflow_provider_tagoffline.airflow_admins import ADMIN_RESOURCE, is_airflow_admin, username_of
from airflow_provider_tagoffline.catalog.repository import Actor

__all__ = ["ADMIN_RESOURCE", "ActorDep", "get_actor", "is_airflow_admin", "username_of"]


def get_actor(user: GetUserDep) -> Actor:
    """FastAPI dependency: the authenticated caller (401 without a valid token)."""
    return Actor(username=username_of(user), is_admin=is_airflow_admin(user))


ActorDep = Annotated[Actor, Depends(get_actor)]

