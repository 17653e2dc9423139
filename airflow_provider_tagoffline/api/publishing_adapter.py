"""The REST API's one door into ``service/publishing.py`` (publish, unpublish, run, backfill,
instances): calls it and turns whatever it returns into the API's response shapes.

Keeping the calls here means a change of the publishing module's signatures touches one file.
Without the publishing module (an incomplete build) the endpoints answer 501.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import inspect
from types import ModuleType
from typing import Any

from sqlalchemy.orm import Session

from airflow_provider_tagoffline.api.schemas import ActionResult, Instance, InstanceList
from airflow_provider_tagoffline.catalog.models import Service
from airflow_provider_tagoffline.catalog.repository import Actor
from airflow_provider_tagoffline.errors import TagOfflineError
from airflow_provider_tagoffline.rendering.factory import dag_id_for
from airflow_provider_tagoffline.service import lifecycle


class NotAvailable(TagOfflineError):
    """A feature this build does not have (REST: 501)."""

    http_status = 501


def _module() -> ModuleType:
    try:
        return importlib.import_module("airflow_provider_tagoffline.service.publishing")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.endswith("publishing"):
            raise NotAvailable("publishing is not available in this build (service/publishing.py is missing)") \
                from None
        raise


def _call(func_name: str, *args: Any, **kwargs: Any) -> Any:
    func = getattr(_module(), func_name, None)
    if func is None:
        raise NotAvailable(f"publishing has no {func_name}() in this build")
    params = inspect.signature(func).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs = {k: v for k, v in kwargs.items() if accepts_any or k in params}
    return func(*args, **kwargs)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _result(session: Session, action: str, name: str, returned: Any) -> ActionResult:
    data: dict[str, Any] = {}
    if isinstance(returned, Service):
        returned = None
    if returned is not None:
        plain = _plain(returned)
        data = plain if isinstance(plain, dict) else {"message": str(plain)}
    svc = session.get(Service, lifecycle.get_service(session, name).id)
    assert svc is not None
    session.refresh(svc)
    data.setdefault("dag_id", dag_id_for(svc.slug))
    data["status"] = svc.status
    data.setdefault("message", svc.status_message or "")
    for key in ("data_date", "start", "end", "run_id", "dag_file"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            data[key] = str(data[key])
    data.pop("service", None)
    data.pop("action", None)
    return ActionResult.model_validate({"service": name, "action": action, **data})


def publish(session: Session, actor: Actor, name: str) -> ActionResult:
    return _result(session, "publish", name, _call("publish", session, actor, name))


def unpublish(session: Session, actor: Actor, name: str) -> ActionResult:
    return _result(session, "unpublish", name, _call("unpublish", session, actor, name))


def run(session: Session, actor: Actor, name: str, data_date: dt.date | None) -> ActionResult:
    return _result(session, "run", name, _call("run", session, actor, name, data_date=data_date))


def backfill(session: Session, actor: Actor, name: str, start: dt.date | None, end: dt.date | None) -> ActionResult:
    return _result(session, "backfill", name, _call("backfill", session, actor, name, start=start, end=end))


def instances(session: Session, actor: Actor, name: str, limit: int) -> InstanceList:
    svc = lifecycle.get_service(session, name)
    returned = _call("instances", session, actor, name, limit=limit)
    rows = _plain(list(returned or []))
    items = []
    for row in rows:
        row = dict(row)
        row.setdefault("run_id", str(row.get("id", "")))
        items.append(Instance.model_validate(row))
    return InstanceList(service=name, dag_id=dag_id_for(svc.slug), total=len(items), items=items)
