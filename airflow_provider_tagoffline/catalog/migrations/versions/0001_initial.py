"""initial catalog schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 00:54:47.613218
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('tagoffline_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagoffline_application')),
    sa.UniqueConstraint('code', name=op.f('uq_tagoffline_application_code'))
    )
    op.create_table('tagoffline_audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_key', sa.String(length=255), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagoffline_audit_log'))
    )
    with op.batch_alter_table('tagoffline_audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tagoffline_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tagoffline_audit_log_object_key'), ['object_key'], unique=False)

    op.create_table('tagoffline_entity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagoffline_entity')),
    sa.UniqueConstraint('code', name=op.f('uq_tagoffline_entity_code'))
    )
    op.create_table('tagoffline_lookup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('source_table', sa.String(length=255), nullable=True),
    sa.Column('code_column', sa.String(length=255), nullable=True),
    sa.Column('name_column', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagoffline_lookup')),
    sa.UniqueConstraint('code', name=op.f('uq_tagoffline_lookup_code'))
    )
    op.create_table('tagoffline_application_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['tagoffline_application.id'], name=op.f('fk_tagoffline_application_user_application_id_tagoffline_application'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagoffline_application_user')),
    sa.UniqueConstraint('application_id', 'username', name=op.f('uq_tagoffline_application_user_application_id_username'))
    )
    op.create_table('tagoffline_entity_id',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('value_type', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['entity_id'], ['tagoffline_entity.id'], name=op.f('fk_tagoffline_entity_id_entity_id_tagoffline_entity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagoffline_entity_id')),
    sa.UniqueConstraint('entity_id', 'code', name=op.f('uq_tagoffline_entity_id_entity_id_code'))
    )
    op.create_table('tagoffline_lookup_value',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lookup_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=255), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['lookup_id'], ['tagoffline_lookup.id'], name=op.f('fk_tagoffline_lookup_value_lookup_id_tagoffline_lookup'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagoffline_lookup_value')),
    sa.UniqueConstraint('lookup_id', 'code', name=op.f('uq_tagoffline_lookup_value_lookup_id_code'))
    )
    op.create_table('tagoffline_service',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('slug', sa.String(length=128), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('entity_code', sa.String(length=64), nullable=False),
    sa.Column('entity_id_code', sa.String(length=64), nullable=False),
    sa.Column('schedule_type', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('target_conn_id', sa.String(length=255), nullable=False),
    sa.Column('target_kind', sa.String(length=32), nullable=False),
    sa.Column('target_schema', sa.String(length=255), nullable=True),
    sa.Column('target_table', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('status_message', sa.Text(), nullable=False),
    sa.Column('execution_status', sa.String(length=16), nullable=False),
    sa.Column('tag_codes', sa.Text(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('published_version', sa.Integer(), nullable=True),
    sa.Column('published_spec', sa.JSON(), nullable=True),
    sa.Column('ever_published', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=255), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['tagoffline_application.id'], name=op.f('fk_tagoffline_service_application_id_tagoffline_application')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagoffline_service')),
    sa.UniqueConstraint('name', name=op.f('uq_tagoffline_service_name')),
    sa.UniqueConstraint('slug', name=op.f('uq_tagoffline_service_slug'))
    )
    with op.batch_alter_table('tagoffline_service', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tagoffline_service_owner'), ['owner'], unique=False)
        batch_op.create_index(batch_op.f('ix_tagoffline_service_status'), ['status'], unique=False)

    op.create_table('tagoffline_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('value_type', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('lookup_id', sa.Integer(), nullable=True),
    sa.Column('source_table', sa.String(length=255), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('source_column', sa.String(length=255), nullable=False),
    sa.Column('source_partition', sa.String(length=255), nullable=True),
    sa.Column('source_partition_format', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['entity_id'], ['tagoffline_entity.id'], name=op.f('fk_tagoffline_tag_entity_id_tagoffline_entity')),
    sa.ForeignKeyConstraint(['key_id'], ['tagoffline_entity_id.id'], name=op.f('fk_tagoffline_tag_key_id_tagoffline_entity_id')),
    sa.ForeignKeyConstraint(['lookup_id'], ['tagoffline_lookup.id'], name=op.f('fk_tagoffline_tag_lookup_id_tagoffline_lookup')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagoffline_tag')),
    sa.UniqueConstraint('entity_id', 'code', name=op.f('uq_tagoffline_tag_entity_id_code'))
    )
    op.create_table('tagoffline_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('expires', sa.Date(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by', sa.String(length=255), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('decided_by', sa.String(length=255), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['tagoffline_application.id'], name=op.f('fk_tagoffline_grant_application_id_tagoffline_application')),
    sa.ForeignKeyConstraint(['tag_id'], ['tagoffline_tag.id'], name=op.f('fk_tagoffline_grant_tag_id_tagoffline_tag')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagoffline_grant')),
    sa.UniqueConstraint('application_id', 'tag_id', name=op.f('uq_tagoffline_grant_application_id_tag_id'))
    )
    op.create_table('tagoffline_service_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['tagoffline_service.id'], name=op.f('fk_tagoffline_service_tag_service_id_tagoffline_service'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tagoffline_tag.id'], name=op.f('fk_tagoffline_service_tag_tag_id_tagoffline_tag')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagoffline_service_tag')),
    sa.UniqueConstraint('service_id', 'tag_id', name=op.f('uq_tagoffline_service_tag_service_id_tag_id'))
    )



def downgrade() -> None:

    op.drop_table('tagoffline_service_tag')
    op.drop_table('tagoffline_grant')
    op.drop_table('tagoffline_tag')
    with op.batch_alter_table('tagoffline_service', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tagoffline_service_status'))
        batch_op.drop_index(batch_op.f('ix_tagoffline_service_owner'))

    op.drop_table('tagoffline_service')
    op.drop_table('tagoffline_lookup_value')
    op.drop_table('tagoffline_entity_id')
    op.drop_table('tagoffline_application_user')
    op.drop_table('tagoffline_lookup')
    op.drop_table('tagoffline_entity')
    with op.batch_alter_table('tagoffline_audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tagoffline_audit_log_object_key'))
        batch_op.drop_index(batch_op.f('ix_tagoffline_audit_log_at'))

    op.drop_table('tagoffline_audit_log')
    op.drop_table('tagoffline_application')

