"""Console accounts and sign-in attempts, on the same ``Base`` as every other table, and their
queries (the hashing and the lock-out rule are ``web/console/passwords.py``'s).

Kept out of ``models.py`` because only the operators' console uses them. Lock-out is counted
from ``LoginAttempt`` rows (not a counter on the user) so that attempts on names that do not
exist are recorded and limited the same way, and the audit trail is the same rows.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Index, Integer, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from dispatcher.store import Session
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


async def user_by_id(s: Session, user_id: int) -> User | None:
    return await s.get(User, user_id)


async def user_by_name(s: Session, username: str) -> User | None:
    """The account signed in as ``username`` (already normalised)."""
    return (await s.execute(select(User).where(User.username == username))).scalar_one_or_none()


async def add_user(s: Session, user: User) -> User:
    s.add(user)
    await s.flush()
    return user


def record_attempt(
    s: Session, username: str, at: datetime, *, success: bool, client: str | None
) -> None:
    s.add(LoginAttempt(username=username, at=at, success=success, client=client))


async def last_success(s: Session, username: str) -> datetime | None:
    """When ``username`` last signed in successfully."""
    stmt = select(func.max(LoginAttempt.at)).where(
        LoginAttempt.username == username, LoginAttempt.success.is_(True)
    )
    return (await s.execute(stmt)).scalar()


async def failures_since(s: Session, username: str, since: datetime, limit: int) -> list[datetime]:
    """The times of the latest failed attempts on ``username`` after ``since``, newest first."""
    stmt = (
        select(LoginAttempt.at)
        .where(
            LoginAttempt.username == username,
            LoginAttempt.success.is_(False),
            LoginAttempt.at > since,
        )
        .order_by(LoginAttempt.at.desc())
        .limit(limit)
    )
    return list((await s.execute(stmt)).scalars())


__all__ = [
    "LoginAttempt",
    "Role",
    "User",
    "add_user",
    "failures_since",
    "last_success",
    "record_attempt",
    "user_by_id",
    "user_by_name",
]
