"""device-reachable columns sized from the contract: last_alarms and dead-letter topics as TEXT

An evt/alarm whose codes joined past VARCHAR(200) failed its transaction on PostgreSQL (issue 7);
a dead letter must never be refused for its topic's length.

Revision ID: c4e8f1a2b3d5
Revises: b7c1d2e3f4a5
Create Date: 2026-11-24 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c4e8f1a2b3d5'
down_revision: str | None = 'b7c1d2e3f4a5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.alter_column('last_alarms',
               existing_type=sa.String(length=200),
               type_=sa.Text(),
               existing_nullable=True)
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.alter_column('topic',
               existing_type=sa.String(length=300),
               type_=sa.Text(),
               existing_nullable=False)


def downgrade() -> None:
    # Truncates, as VARCHAR requires: the raw payload of each dead letter is kept whole.
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.alter_column('topic',
               existing_type=sa.Text(),
               type_=sa.String(length=300),
               existing_nullable=False,
               postgresql_using='left(topic, 300)')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.alter_column('last_alarms',
               existing_type=sa.Text(),
               type_=sa.String(length=200),
               existing_nullable=True,
               postgresql_using='left(last_alarms, 200)')
