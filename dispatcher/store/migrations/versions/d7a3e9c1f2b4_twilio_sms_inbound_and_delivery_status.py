"""Twilio webhooks (issue 9): inbound SMS handled once per MessageSid; outbox delivery status

``sms_inbound`` keeps every inbound SMS by its MessageSid with the reply it got, so a retried
webhook changes nothing twice; ``outbox.delivery_status`` holds what Twilio's status callbacks
said, found by ``outbox.provider_id`` (now indexed).

Revision ID: d7a3e9c1f2b4
Revises: c4e8f1a2b3d5
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dispatcher.store.models
# Registers sms_inbound on Base.metadata, so autogenerate (env.py imports only
# dispatcher.store.models) does not propose dropping it.
import dispatcher.store.sms_inbox  # noqa: F401

revision: str = 'd7a3e9c1f2b4'
down_revision: str | None = 'c4e8f1a2b3d5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sms_inbound',
    sa.Column('message_sid', sa.String(length=64), nullable=False),
    sa.Column('received_at', dispatcher.store.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('from_number', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('helper_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('message_sid', name=op.f('pk_sms_inbound'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery_status', sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_provider_id'), ['provider_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_provider_id'))
        batch_op.drop_column('delivery_status')
    op.drop_table('sms_inbound')
