"""Add the judging lease and an index on the judging status.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 20:18:47.167080
"""

from alembic import op
import sqlalchemy as sa
import db.models


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('judgings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_expires_at', db.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_judgings_status', ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('judgings', schema=None) as batch_op:
        batch_op.drop_index('ix_judgings_status')
        batch_op.drop_column('lease_expires_at')
