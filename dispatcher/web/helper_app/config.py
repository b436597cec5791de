"""What the helper app is configured with, built once from ``Settings`` (or, where the
composition root does not pass one, from the console's configuration and the defaults)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from dispatcher.settings import Settings
from dispatcher.web.console.config import ConsoleConfig


@dataclass(frozen=True)
class HelperAppConfig:
    # Signs the one-time links (salted apart from the console's cookies); shared by processes.
    secret: str
    public_url: str | None = None
    link_max_age: timedelta = timedelta(minutes=10)
    session_max_age: timedelta = timedelta(days=90)
    checkin_radius_m: float = 200.0
    centre_phone: str | None = None
    sse_poll_s: float = 2.0
    sse_keepalive_s: float = 15.0
    # Sign-in SMS a phone number may get per hour (the form is open to anyone).
    signin_sms_per_hour: int = 5
    cookie_secure_override: bool | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def cookie_secure(self) -> bool:
        """Secure cookies when the public URL is https (or when told so)."""
        if self.cookie_secure_override is not None:
            return self.cookie_secure_override
        return bool(self.public_url and self.public_url.startswith("https://"))

    @classmethod
    def from_settings(cls, settings: Settings, console: ConsoleConfig) -> HelperAppConfig:
        return cls(
            secret=console.session_secret,
            public_url=settings.public_url,
            link_max_age=timedelta(minutes=settings.helper_link_minutes),
            session_max_age=timedelta(days=settings.helper_session_days),
            checkin_radius_m=settings.helper_checkin_radius_m,
            centre_phone=settings.helper_centre_phone,
            sse_poll_s=settings.helper_sse_poll_s,
            cookie_secure_override=True if settings.console_cookie_secure else None,
            stopping=console.stopping,
        )

    @classmethod
    def from_console(cls, console: ConsoleConfig, public_url: str | None) -> HelperAppConfig:
        return cls(
            secret=console.session_secret,
            public_url=public_url,
            cookie_secure_override=True if console.cookie_secure else None,
            stopping=console.stopping,
        )


__all__ = ["HelperAppConfig"]
