"""Helper app (issue 9): revocable helper sessions and used one-time sign-in links

``helper_sessions`` keeps one row per signed-in phone (the cookie's secret only as its
SHA-256; ``revoked_at`` set by an operator or by signing out); ``helper_signin_links`` the
random ids of sign-in links already used, so each link works once.

Revision ID: e5f1a8c3d9b2
Revises: d7a3e9c1f2b4
Create Date: 2026-11-25 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dispatcher.store.models
# Registers the helper-app tables on Base.metadata, so autogenerate (env.py imports only
# dispatcher.store.models) does not propose dropping them.
import dispatcher.store.helper_sessions  # noqa: F401

revision: str = 'e5f1a8c3d9b2'
down_revision: str | None = 'd7a3e9c1f2b4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('helper_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('helper_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', dispatcher.store.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', dispatcher.store.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', dispatcher.store.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('user_agent', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['helper_id'], ['helpers.id'], name=op.f('fk_helper_sessions_helper_id_helpers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_helper_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_helper_sessions_token_hash'))
    )
    op.create_index('ix_helper_sessions_helper', 'helper_sessions', ['helper_id', 'revoked_at'], unique=False)
    op.create_table('helper_signin_links',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('helper_id', sa.Integer(), nullable=False),
    sa.Column('used_at', dispatcher.store.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['helper_id'], ['helpers.id'], name=op.f('fk_helper_signin_links_helper_id_helpers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_helper_signin_links'))
    )


def downgrade() -> None:
    op.drop_table('helper_signin_links')
    op.drop_index('ix_helper_sessions_helper', table_name='helper_sessions')
    op.drop_table('helper_sessions')
