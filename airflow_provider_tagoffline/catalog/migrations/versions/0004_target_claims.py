"""target claims: which service holds which target place, as data; notification connections granted

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 09:00:00

Claims become rows (``tagoffline_target_claim``, the place's key UNIQUE): a place belongs to one
service whoever is older. This upgrade fills them from the existing services, oldest first, as the
rule said until now: the oldest service on a place keeps it; a younger one sharing it is left
without a claim and is refused at its next save or publish, naming the holder. A service whose
connection Airflow does not know (or whose place cannot be resolved here) is left without a claim
too and claims its place at its next save or publish, if it is free then.

Notification connections now need a connection grant like targets: so that nothing that works
breaks, every application gets one on each connection its services notify through (no schema
limit), named ``tagoffline db migrate (0004)`` as granter in the table and the audit log.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: who the audit log and the grants name as the granter of the grants this upgrade creates
MIGRATION_ACTOR = "tagoffline db migrate (0004)"
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    claims = op.create_table(
        "tagoffline_target_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_key", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("conn_id", sa.String(length=250), nullable=False),
        sa.Column("database", sa.Text(), nullable=False),
        sa.Column("schema_name", sa.String(length=255), nullable=True),
        sa.Column("table_name", sa.String(length=255), nullable=False),
        sa.Column("partition_field", sa.String(length=255), nullable=True),
        sa.Column("partition_format", sa.String(length=16), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["tagoffline_service.id"],
                                name=op.f("fk_tagoffline_target_claim_service_id_tagoffline_service"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tagoffline_target_claim")),
        sa.UniqueConstraint("place_key", name=op.f("uq_tagoffline_target_claim_place_key")),
        sa.UniqueConstraint("service_id", name=op.f("uq_tagoffline_target_claim_service_id")),
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    services = _services()
    _claim_oldest_first(claims, services, now)
    _grant_notification_connections(services, now)


_SERVICE = sa.table("tagoffline_service", sa.column("id", sa.Integer), sa.column("name", sa.String),
                    sa.column("application_id", sa.Integer), sa.column("target_conn_id", sa.String),
                    sa.column("target_schema", sa.String), sa.column("target_table", sa.String),
                    sa.column("definition", sa.JSON))


def _services() -> list[Any]:
    return list(op.get_bind().execute(sa.select(_SERVICE).order_by(_SERVICE.c.id)).all())


def _claim_oldest_first(claims: sa.Table, services: list[Any], now: dt.datetime) -> None:
    from airflow_provider_tagoffline.places import place_of

    rows, taken, unclaimed = [], set(), []
    for svc in services:
        try:
            place = place_of(svc.target_conn_id, svc.target_schema, svc.target_table)
        except Exception as exc:  # Airflow's connections unreachable from here: claimed at the next save
            log.warning("service %r: its target place cannot be resolved now (%s)", svc.name, exc)
            place = None
        if place is None or place.claim_key in taken:
            unclaimed.append(svc.name)
            continue
        taken.add(place.claim_key)
        partition = ((svc.definition or {}).get("target") or {}).get("partition") or {}
        field = partition.get("field")
        rows.append({"place_key": place.claim_key, "service_id": svc.id, "conn_id": svc.target_conn_id,
                     "database": place.database_label, "schema_name": place.schema, "table_name": svc.target_table,
                     "partition_field": field if isinstance(field, str) else None,
                     "partition_format": partition.get("format") if partition else None, "claimed_at": now})
    if rows:
        op.bulk_insert(claims, rows)
    if unclaimed:
        log.warning("services left without a target claim (another holds their place, or it is unknown now; "
                    "refused at their next save or publish while it is held): %s", ", ".join(unclaimed))


def _grant_notification_connections(services: list[Any], now: dt.datetime) -> None:
    bind = op.get_bind()
    grants = sa.table("tagoffline_target_grant", sa.column("application_id", sa.Integer),
                      sa.column("conn_id", sa.String), sa.column("schemas", sa.JSON),
                      sa.column("granted_by", sa.String), sa.column("granted_at", sa.DateTime))
    application = sa.table("tagoffline_application", sa.column("id", sa.Integer), sa.column("code", sa.String))
    audit = sa.table("tagoffline_audit_log", sa.column("at", sa.DateTime), sa.column("actor", sa.String),
                     sa.column("action", sa.String), sa.column("object_type", sa.String),
                     sa.column("object_key", sa.String), sa.column("detail", sa.JSON))
    have = {(a, c) for a, c in bind.execute(sa.select(grants.c.application_id, grants.c.conn_id))}
    codes = dict(bind.execute(sa.select(application.c.id, application.c.code)).all())
    wanted: list[tuple[int, str]] = []
    for svc in services:
        conn_id = ((svc.definition or {}).get("notify") or {}).get("conn_id")
        if not isinstance(conn_id, str) or not conn_id.strip():
            continue
        pair = (int(svc.application_id), conn_id)
        if pair not in have and pair not in wanted:
            wanted.append(pair)
    if not wanted:
        return
    op.bulk_insert(grants, [{"application_id": app_id, "conn_id": conn_id, "schemas": None,
                             "granted_by": MIGRATION_ACTOR, "granted_at": now} for app_id, conn_id in wanted])
    op.bulk_insert(audit, [{"at": now, "actor": MIGRATION_ACTOR, "action": "create", "object_type": "target_grant",
                            "object_key": f"{codes[app_id]}:{conn_id}",
                            "detail": {"schemas": None, "reason": "its services notified through the connection "
                                                                  "before notification connections needed a grant"}}
                           for app_id, conn_id in wanted])


def downgrade() -> None:
    # The notification grants stay: they were grants like any other once made.
    op.drop_table("tagoffline_target_claim")
