"""Which service holds a target place (spec §2: "a target place belongs to exactly one service,
recorded as data"): the claim rule, asked by validation and carried out by the lifecycle.

A place (``places.py``: physical database, resolved schema, table as the family compares names) is
held by the service whose ``TargetClaim`` row has its key. The key is UNIQUE in the store, so the
store decides between two saves at the same moment, never a read followed by a write: validation
reads the holder to say who it is, and ``claim`` writes the row, turning the constraint's refusal
into the same message. Age gives no right: a place another service holds is refused to every other
service, older or younger.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog.models import Service, TargetClaim, utcnow
from airflow_provider_tagoffline.errors import FieldError, ValidationFailed
from airflow_provider_tagoffline.places import TargetPlace, place_of, resolve_schema
from airflow_provider_tagoffline.service.definition import ServiceDef

__all__ = ["TargetPlace", "claim", "holder_of", "place_of", "refusal", "resolve_schema"]


def holder_of(session: Session, place: TargetPlace, service_id: int | None) -> TargetClaim | None:
    """The claim of ``place`` when another service than ``service_id`` (None: a new one) holds it."""
    q = select(TargetClaim).where(TargetClaim.place_key == place.claim_key)
    if service_id is not None:
        q = q.where(TargetClaim.service_id != service_id)
    return session.scalar(q)


def refusal(place: TargetPlace, held: TargetClaim) -> FieldError:
    """``target.table``: the place and who holds it (through which connection, when another id)."""
    holder = held.service
    via = "" if held.conn_id == place.conn_id else f" (the database of connection {held.conn_id!r})"
    return FieldError("target.table", f"table {place.full_name!r} on connection {place.conn_id!r}{via} is the "
                                      f"target of service {holder.name!r} (application {holder.application.code}); "
                                      f"a table belongs to one service")


def claim(session: Session, svc: Service, d: ServiceDef) -> None:
    """Make ``svc`` hold the place of ``d``'s target, in the caller's transaction: its claim row is
    written (or moved, freeing the old place in the same transaction). Another service holding the
    place, or claiming it at this very moment, makes the UNIQUE constraint refuse: ValidationFailed
    on ``target.table``, nothing written. A place that cannot be resolved (the connection is unknown
    to Airflow now) leaves the claim as it is; validation has said so."""
    t = d.target
    place = place_of(t.conn_id, t.schema_, t.table)
    if place is None:
        return
    partition = t.partition
    fields = {"place_key": place.claim_key, "conn_id": t.conn_id, "database": place.database_label,
              "schema_name": place.schema, "table_name": t.table,
              "partition_field": partition.field if partition and isinstance(partition.field, str) else None,
              "partition_format": partition.format if partition else None}
    row = svc.claim
    if row is not None and all(getattr(row, k) == v for k, v in fields.items()):
        return
    try:
        with session.begin_nested():  # the constraint's refusal rolls back this write only
            if row is None:
                row = TargetClaim(service=svc, claimed_at=utcnow(), **fields)
                session.add(row)
            else:
                for k, v in fields.items():
                    setattr(row, k, v)
                row.claimed_at = utcnow()
            session.flush()
    except IntegrityError:
        session.expire(svc, ["claim"])
        held = holder_of(session, place, svc.id)
        if held is None:  # the other claim was rolled back since: the place may be free, but not now
            raise ValidationFailed.one("target.table", f"table {place.full_name!r} on connection {t.conn_id!r} "
                                                       f"was being claimed by another service; save again") from None
        raise ValidationFailed([refusal(place, held)]) from None
