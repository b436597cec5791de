"""Helpers' app sessions and the one-time sign-in links that open them.

A sign-in link carries a signed token with a random id (``jti``); redeeming it inserts that id
into ``helper_signin_links``, whose primary key makes a second use fail even when two requests
race. A session is a row in ``helper_sessions``: the cookie holds a random secret and only its
SHA-256 is stored, so a leaked database does not hand out sessions. An operator revokes a
session by stamping ``revoked_at``; every request checks it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, Integer, String, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from dispatcher.store import Session
from dispatcher.store.models import Base, Helper, OutboxMessage

__all__ = [
    "SIGNIN_PURPOSE",
    "HelperIdentity",
    "HelperSession",
    "HelperSessions",
    "SessionRef",
    "SigninLink",
    "token_hash",
]

SIGNIN_PURPOSE = "helper_signin"
"""The outbox purpose of a sign-in SMS."""

# Refresh last_seen_at at most this often: a page view must not always be a write.
_SEEN_EVERY = timedelta(minutes=5)


def token_hash(secret: str) -> str:
    """What is stored for a session's cookie secret (64 hex characters)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class HelperSession(Base):
    """One signed-in phone of one helper; revoked rows stay as the record."""

    __tablename__ = "helper_sessions"
    __table_args__ = (Index("ix_helper_sessions_helper", "helper_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str | None] = mapped_column(String(200))


class SigninLink(Base):
    """A sign-in link that has been used (its token's random id): each works once."""

    __tablename__ = "helper_signin_links"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id", ondelete="CASCADE"))
    used_at: Mapped[datetime]


@dataclass(frozen=True)
class HelperIdentity:
    """A helper as sign-in needs them."""

    id: int
    external_ref: str
    name: str
    phone: str


@dataclass(frozen=True)
class SessionRef:
    """A live session, as a request sees it."""

    id: int
    helper_id: int
    created_at: datetime


class HelperSessions:
    """Sessions, used links and the helper look-ups sign-in needs."""

    async def helper(self, s: Session, helper_id: int) -> HelperIdentity | None:
        row = (
            await s.execute(
                select(Helper.id, Helper.external_ref, Helper.name, Helper.phone).where(
                    Helper.id == helper_id
                )
            )
        ).one_or_none()
        return HelperIdentity(*row) if row is not None else None

    async def helper_by_ref(self, s: Session, ref: str) -> HelperIdentity | None:
        row = (
            await s.execute(
                select(Helper.id, Helper.external_ref, Helper.name, Helper.phone).where(
                    Helper.external_ref == ref
                )
            )
        ).one_or_none()
        return HelperIdentity(*row) if row is not None else None

    async def use_link(self, s: Session, jti: str, helper_id: int, now: datetime) -> bool:
        """Mark a link used; False if it already was (then nothing else in ``s`` is undone)."""
        try:
            async with s.begin_nested():
                s.add(SigninLink(jti=jti, helper_id=helper_id, used_at=now))
                await s.flush()
        except IntegrityError:
            return False
        return True

    async def open(
        self, s: Session, helper_id: int, secret: str, now: datetime, user_agent: str | None
    ) -> int:
        row = HelperSession(
            helper_id=helper_id,
            token_hash=token_hash(secret),
            created_at=now,
            last_seen_at=now,
            revoked_at=None,
            user_agent=(user_agent or "")[:200] or None,
        )
        s.add(row)
        await s.flush()
        return row.id

    async def find(
        self, s: Session, secret: str, now: datetime, max_age: timedelta
    ) -> SessionRef | None:
        """The live session whose cookie secret this is: not revoked, not older than
        ``max_age``; ``last_seen_at`` is refreshed now and then."""
        row = (
            await s.execute(
                select(HelperSession).where(HelperSession.token_hash == token_hash(secret))
            )
        ).scalar_one_or_none()
        if row is None or row.revoked_at is not None or row.created_at < now - max_age:
            return None
        if row.last_seen_at < now - _SEEN_EVERY:
            row.last_seen_at = now
        return SessionRef(row.id, row.helper_id, row.created_at)

    async def is_live(self, s: Session, session_id: int) -> bool:
        """Whether the session is still not revoked (a read: streams ask this as they go)."""
        revoked = await s.execute(
            select(HelperSession.revoked_at).where(HelperSession.id == session_id)
        )
        row = revoked.one_or_none()
        return row is not None and row[0] is None

    async def revoke(self, s: Session, session_id: int, now: datetime) -> bool:
        result = await s.execute(
            update(HelperSession)
            .where(HelperSession.id == session_id, HelperSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_all(self, s: Session, helper_id: int, now: datetime) -> int:
        """Sign a helper out everywhere (a lost phone); how many sessions were live."""
        result = await s.execute(
            update(HelperSession)
            .where(HelperSession.helper_id == helper_id, HelperSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def live_sessions(self, s: Session, helper_id: int) -> list[SessionRef]:
        rows = await s.execute(
            select(HelperSession.id, HelperSession.helper_id, HelperSession.created_at)
            .where(HelperSession.helper_id == helper_id, HelperSession.revoked_at.is_(None))
            .order_by(HelperSession.id)
        )
        return [SessionRef(*row) for row in rows]

    async def recent_signin_sms(self, s: Session, phone: str, since: datetime) -> int:
        """How many sign-in SMS went to ``phone`` since then (to stop SMS bombing)."""
        count = await s.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.purpose == SIGNIN_PURPOSE,
                OutboxMessage.recipient == phone,
                OutboxMessage.created_at >= since,
            )
        )
        return int(count or 0)
