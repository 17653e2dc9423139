"""Catalog writes as the service layer performs them: who may (``service/permissions.py``), the
guarded write itself (``catalog/``: data only), and what follows a committed change (the live
services' attention and access records, ``service/records.py``).

The REST API and the CLI call these; ``catalog/`` asks no rule of the service layer (it imports
nothing from it: ``tests/test_import_graph.py``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog import apply as catalog_apply
from airflow_provider_tagoffline.catalog import repository as repo
from airflow_provider_tagoffline.catalog.apply import Plan
from airflow_provider_tagoffline.catalog.models import Grant
from airflow_provider_tagoffline.catalog.schemas import CatalogDef
from airflow_provider_tagoffline.service import permissions
from airflow_provider_tagoffline.service.records import catalog_changed


def apply_catalog(session: Session, actor: repo.Actor, catalog: CatalogDef, dry_run: bool = False) -> Plan:
    """``catalog apply`` (admins only); the attention records follow a real change after the commit."""
    permissions.require_admin(actor, "apply the catalog")
    plan = catalog_apply.apply_catalog(session, actor, catalog, dry_run=dry_run)
    if not dry_run and plan.changed:
        catalog_changed(session)
    return plan


def request_grant(session: Session, actor: repo.Actor, app_code: str, entity_code: str, tag_code: str,
                  expires: dt.date | None = None, reason: str = "") -> Grant:
    """An admin or member of the application asks for a tag."""
    permissions.require_application_user(actor, repo.get_application(session, app_code), "request grants for it")
    grant = repo.request_grant(session, actor, app_code, entity_code, tag_code, expires, reason)
    catalog_changed(session)
    return grant


def decide_grant(session: Session, actor: repo.Actor, app_code: str, entity_code: str, tag_code: str,
                 decision: str, reason: str = "") -> Grant:
    """Approve, reject or revoke (Airflow admins only), with the reason the grant keeps."""
    permissions.require_admin(actor, f"{decision} grants")
    grant = repo.decide_grant(session, actor, app_code, entity_code, tag_code, decision, reason)
    catalog_changed(session)
    return grant


def delete_application(session: Session, actor: repo.Actor, code: str) -> None:
    permissions.require_admin(actor, "delete applications")
    repo.delete_application(session, actor, code)


def delete_entity(session: Session, actor: repo.Actor, code: str) -> None:
    permissions.require_admin(actor, "delete entities")
    repo.delete_entity(session, actor, code)


def delete_entity_id(session: Session, actor: repo.Actor, entity_code: str, code: str) -> None:
    permissions.require_admin(actor, "delete entity IDs")
    repo.delete_entity_id(session, actor, entity_code, code)
    catalog_changed(session)


def delete_tag(session: Session, actor: repo.Actor, entity_code: str, code: str) -> None:
    permissions.require_admin(actor, "delete tags")
    repo.delete_tag(session, actor, entity_code, code)
    catalog_changed(session)


def delete_lookup(session: Session, actor: repo.Actor, code: str) -> None:
    permissions.require_admin(actor, "delete lookups")
    repo.delete_lookup(session, actor, code)


def delete_target_grant(session: Session, actor: repo.Actor, app_code: str, conn_id: str) -> None:
    permissions.require_admin(actor, "delete target grants")
    repo.delete_target_grant(session, actor, app_code, conn_id)
