"""FastAPI dependencies shared by the routers: the catalog session."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog import store
from airflow_provider_tagoffline.errors import TagOfflineError

_migrated = threading.Event()


class StoreNotReady(TagOfflineError):
    """The catalog store has not been migrated (REST: 503)."""

    http_status = 503


def _check_store() -> None:
    if _migrated.is_set():
        return
    if not store.is_migrated():
        raise StoreNotReady("the tag offline catalog store is not migrated; run `tagoffline db migrate` "
                            "on the API server's host")
    _migrated.set()


def get_session() -> Iterator[Session]:
    """One catalog session per request: committed when the endpoint returns, rolled back on error.

    Used with ``scope="function"`` so the commit happens before the response is sent: a client
    that got a 2xx always sees its write in the next request.
    """
    _check_store()
    with store.session_scope() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
