"""The records the export task reads, written into Airflow Variables: per published service its
attention record (``service/attention.py``: the catalog drift under its live run spec) and its access
record (``service/access_records.py``: who may start its runs). One writer for both, so neither rule's
module has to know the other: at publish, unpublish and owner changes, and after every committed
catalog change (``catalog_changed``, which ``service/catalog_admin.py`` calls).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload

from airflow_provider_tagoffline.catalog.models import Service
from airflow_provider_tagoffline.service import access_records, attention

log = logging.getLogger(__name__)


def sync_records(session: Session, services: Iterable[Service] | None = None) -> int:
    """Write the attention records of ``services`` (default: every service live in Airflow) into
    Airflow, and their access records (``access_records.py``); how many changed. Airflow unreachable:
    logged, the list and the REST API still say it."""
    from airflow_provider_tagoffline import airflow_bridge as af

    if services is None:
        live = select(Service).where(*attention.MAYBE_LIVE).options(selectinload(Service.application))
        services = session.scalars(live).all()
    services = list(services)
    wanted = attention.records(session, services)
    wanted.update(access_records.records(services))  # who may start its runs: the export task checks it too
    if not wanted:
        return 0
    try:
        return af.set_variables(wanted, "attention record of a tag offline service (written by the plugin)")
    except Exception as exc:
        log.warning("cannot write the attention records of %d service(s) into Airflow: %s", len(wanted), exc)
        return 0


# ---- after a catalog change ---------------------------------------------------------------------

_CHANGED = "tagoffline_catalog_changed"


def catalog_changed(session: Session) -> None:
    """Called by every catalog write: once the transaction commits, the attention records of the live
    services are written again (a rolled-back change writes nothing)."""
    session.info[_CHANGED] = True
    if not event.contains(session, "after_commit", _after_commit):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_rollback", _after_rollback)


def _after_commit(session: Session) -> None:
    if not session.info.pop(_CHANGED, False):
        return
    # The committed session cannot run SQL in this hook: a short one of its own on the same store.
    with Session(bind=session.get_bind(), expire_on_commit=False) as fresh:
        try:
            sync_records(fresh)
        except Exception as exc:  # never fail a committed catalog write over its follow-up
            log.warning("cannot refresh the attention records after a catalog change: %s", exc)


def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
