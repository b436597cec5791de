"""Console accounts: argon2 password hashes, account creation, sign-in with lock-out.

Lock-out counts failed attempts per user name inside a sliding window since the last success;
attempts on unknown names are recorded and limited the same way, and get the same answer and
the same hashing time, so the sign-in form does not reveal which names exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dispatcher.errors import Conflict, InvalidInput
from dispatcher.store import Session
from dispatcher.store.users import (
    Role,
    User,
    add_user,
    failures_since,
    last_success,
    record_attempt,
    user_by_name,
)

HASHER = PasswordHasher()
# Verified against when the user does not exist, so both paths cost one argon2 verification.
_DUMMY_HASH = HASHER.hash("not-a-password-of-anyone")
MIN_PASSWORD_LENGTH = 8


def normalise(username: str) -> str:
    return username.strip().lower()


async def create_user(
    s: Session, *, username: str, display_name: str, role: Role, password: str, now: datetime
) -> User:
    """A new account; refuses short passwords and names already taken."""
    name = normalise(username)
    if not name or len(name) > 64:
        raise InvalidInput("user name must be 1–64 characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if await user_by_name(s, name) is not None:
        raise Conflict(f"user {name} already exists")
    user = User(
        username=name,
        display_name=display_name.strip() or name,
        role=role.value,
        password_hash=HASHER.hash(password),
        active=True,
        created_at=now,
        session_version=1,
    )
    return await add_user(s, user)


async def set_password(s: Session, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = HASHER.hash(password)
    user.session_version += 1


@dataclass(frozen=True)
class SignIn:
    user: User | None
    # When refused because of lock-out: the moment the account can be tried again.
    locked_until: datetime | None = None


def _verify(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def locked_until(
    s: Session, username: str, now: datetime, failures: int, window: timedelta
) -> datetime | None:
    last_ok = await last_success(s, username)
    since = now - window if last_ok is None else max(now - window, last_ok)
    recent = await failures_since(s, username, since, failures)
    if len(recent) < failures:
        return None
    # Locked until the oldest of the last N failures leaves the window.
    return recent[-1] + window


async def sign_in(
    s: Session,
    username: str,
    password: str,
    *,
    now: datetime,
    client: str | None,
    failures: int,
    window: timedelta,
) -> SignIn:
    """Check a user name and password; every attempt is recorded, repeated failures lock."""
    name = normalise(username)[:64]
    until = await locked_until(s, name, now, failures, window)
    user = await user_by_name(s, name)
    ok = _verify(user.password_hash if user else _DUMMY_HASH, password)
    ok = ok and user is not None and user.active and until is None
    record_attempt(s, name, now, success=ok, client=client)
    if until is not None:
        return SignIn(None, locked_until=until)
    if not ok or user is None:
        return SignIn(None)
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    return SignIn(user)


__all__ = [
    "HASHER",
    "MIN_PASSWORD_LENGTH",
    "SignIn",
    "create_user",
    "locked_until",
    "normalise",
    "set_password",
    "sign_in",
]
