"""console users and sign-in attempts

Revision ID: b7c1d2e3f4a5
Revises: 0a974521befe
Create Date: 2026-11-23 14:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dispatcher.store.models
# Registers the console tables on Base.metadata, so autogenerate (env.py imports only
# dispatcher.store.models) does not propose dropping them.
import dispatcher.store.users  # noqa: F401

revision: str = 'b7c1d2e3f4a5'
down_revision: str | None = '0a974521befe'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('console_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', dispatcher.store.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_users')),
    sa.UniqueConstraint('username', name=op.f('uq_console_users_username'))
    )
    op.create_table('console_login_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('at', dispatcher.store.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_login_attempts'))
    )
    op.create_index('ix_console_login_attempts_user_time', 'console_login_attempts', ['username', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_console_login_attempts_user_time', table_name='console_login_attempts')
    op.drop_table('console_login_attempts')
    op.drop_table('console_users')
