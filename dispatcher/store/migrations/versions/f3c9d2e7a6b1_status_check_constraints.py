"""statuses as CHECK constraints: incident state, sla_status and category, offer and outbox status

Each column holds one value of its enum in the code (sla.State, sla.SlaStatus, sla.Category,
dispatcher.core.OfferStatus, dispatcher.store.models.OutboxStatus); the database now refuses
anything else. The values are written out here, as they were when this revision was made.

Revision ID: f3c9d2e7a6b1
Revises: e5f1a8c3d9b2
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'f3c9d2e7a6b1'
down_revision: str | None = 'e5f1a8c3d9b2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCIDENT_STATES = ('open', 'offered', 'assigned', 'on_scene', 'resolved', 'cancelled')
SLA_STATUSES = ('on_track', 'at_risk', 'breached', 'met', 'closed_unmeasured')
CATEGORIES = ('emergency', 'general')
OFFER_STATUSES = ('pending', 'accepted', 'declined', 'expired', 'withdrawn', 'released')
OUTBOX_STATUSES = ('pending', 'sending', 'sent', 'failed')

CHECKS: dict[str, dict[str, tuple[str, ...]]] = {
    'incidents': {'state': INCIDENT_STATES, 'sla_status': SLA_STATUSES, 'category': CATEGORIES},
    'offers': {'status': OFFER_STATUSES},
    'outbox': {'status': OUTBOX_STATUSES},
}


def _one_of(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, values in columns.items():
                batch_op.create_check_constraint(
                    op.f(f'ck_{table}_{column}'), _one_of(column, values)
                )


def downgrade() -> None:
    for table, columns in reversed(list(CHECKS.items())):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in reversed(list(columns)):
                batch_op.drop_constraint(op.f(f'ck_{table}_{column}'), type_='check')
