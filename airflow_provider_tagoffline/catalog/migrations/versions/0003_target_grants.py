"""target grants: which application may write which connection (and in which schemas)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00

Nothing that works before the upgrade breaks after it: every application gets a grant, with no
schema limit, on each connection its existing services target (docs/target-grants.md). Claims
are not stored (the oldest service targeting a table owns it), so they need no data here.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: who the audit log and the grants name as the granter of the grants this upgrade creates
MIGRATION_ACTOR = "tagoffline db migrate (0003)"


def upgrade() -> None:
    grants = op.create_table(
        "tagoffline_target_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("conn_id", sa.String(length=250), nullable=False),
        sa.Column("schemas", sa.JSON(), nullable=True),
        sa.Column("granted_by", sa.String(length=255), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["tagoffline_application.id"],
                                name=op.f("fk_tagoffline_target_grant_application_id_tagoffline_application"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tagoffline_target_grant")),
        sa.UniqueConstraint("application_id", "conn_id",
                            name=op.f("uq_tagoffline_target_grant_application_id_conn_id")),
    )
    _grant_what_services_target(grants)


def _grant_what_services_target(grants: sa.Table) -> None:
    bind = op.get_bind()
    service = sa.table("tagoffline_service", sa.column("application_id", sa.Integer),
                       sa.column("target_conn_id", sa.String))
    application = sa.table("tagoffline_application", sa.column("id", sa.Integer), sa.column("code", sa.String))
    audit = sa.table("tagoffline_audit_log", sa.column("at", sa.DateTime), sa.column("actor", sa.String),
                     sa.column("action", sa.String), sa.column("object_type", sa.String),
                     sa.column("object_key", sa.String), sa.column("detail", sa.JSON))
    pairs = bind.execute(
        sa.select(service.c.application_id, application.c.code, service.c.target_conn_id).distinct()
        .select_from(service.join(application, application.c.id == service.c.application_id))
        .order_by(application.c.code, service.c.target_conn_id)).all()
    if not pairs:
        return
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    op.bulk_insert(grants, [{"application_id": app_id, "conn_id": conn_id, "schemas": None,
                             "granted_by": MIGRATION_ACTOR, "granted_at": now} for app_id, _, conn_id in pairs])
    op.bulk_insert(audit, [{"at": now, "actor": MIGRATION_ACTOR, "action": "create", "object_type": "target_grant",
                            "object_key": f"{code}:{conn_id}",
                            "detail": {"schemas": None, "reason": "its services targeted the connection before "
                                                                  "target grants existed"}}
                           for _, code, conn_id in pairs])


def downgrade() -> None:
    op.drop_table("tagoffline_target_grant")
