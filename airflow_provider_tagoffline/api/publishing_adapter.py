"""The REST API's door into ``service/publishing.py``: its outcomes in the API's response shapes."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy.orm import Session

from airflow_provider_tagoffline.api.schemas import ActionResult, Instance, InstanceList
from airflow_provider_tagoffline.catalog.repository import Actor
from airflow_provider_tagoffline.rendering.factory import dag_id_for
from airflow_provider_tagoffline.service import lifecycle, publishing


def _result(outcome: publishing.ActionOutcome) -> ActionResult:
    return ActionResult.model_validate(dataclasses.asdict(outcome))


def publish(session: Session, actor: Actor, name: str) -> ActionResult:
    return _result(publishing.publish(session, actor, name))


def unpublish(session: Session, actor: Actor, name: str) -> ActionResult:
    return _result(publishing.unpublish(session, actor, name))


def run(session: Session, actor: Actor, name: str, data_date: dt.date | None) -> ActionResult:
    return _result(publishing.run(session, actor, name, data_date))


def backfill(session: Session, actor: Actor, name: str, start: dt.date | None, end: dt.date | None) -> ActionResult:
    return _result(publishing.backfill(session, actor, name, start, end))


def instances(session: Session, name: str, limit: int) -> InstanceList:
    svc = lifecycle.get_service(session, name)
    rows = publishing.instances(session, name, limit)
    items = [Instance.model_validate(dataclasses.asdict(r)) for r in rows]
    return InstanceList(service=name, dag_id=dag_id_for(svc.slug), total=len(items), items=items)
