"""publish tracking: when a DAG file was written and the fingerprint of its run spec

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tagoffline_service") as batch:
        batch.add_column(sa.Column("publish_requested_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("spec_fingerprint", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("live_spec", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tagoffline_service") as batch:
        batch.drop_column("live_spec")
        batch.drop_column("spec_fingerprint")
        batch.drop_column("publish_requested_at")
