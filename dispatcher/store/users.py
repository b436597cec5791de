"""Console accounts and sign-in attempts, on the same ``Base`` as every other table.

Kept out of ``models.py`` because only the operators' console uses them. Lock-out is counted
from ``LoginAttempt`` rows (not a counter on the user) so that attempts on names that do not
exist are recorded and limited the same way, and the audit trail is the same rows.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dispatcher.store.models import Base


class Role(StrEnum):
    """What a console user may do; each role includes the ones before it."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class User(Base):
    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # Bumped on password change: sessions signed for an older version stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)


class LoginAttempt(Base):
    """Append-only record of every sign-in attempt (who, when, from where, whether it worked)."""

    __tablename__ = "console_login_attempts"
    __table_args__ = (Index("ix_console_login_attempts_user_time", "username", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    success: Mapped[bool] = mapped_column(Boolean)
    client: Mapped[str | None] = mapped_column(String(64))


__all__ = ["LoginAttempt", "Role", "User"]
