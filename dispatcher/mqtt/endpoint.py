"""Where the broker is: ``mqtt://[user[:password]@]host[:port]``, or ``mqtts://`` for TLS."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

__all__ = ["BrokerEndpoint"]

_SCHEMES = {"mqtt": (False, 1883), "tcp": (False, 1883), "mqtts": (True, 8883), "ssl": (True, 8883)}


@dataclass(frozen=True, slots=True)
class BrokerEndpoint:
    """A parsed broker URL; the password never shows in ``repr``."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> BrokerEndpoint:
        """Parse ``url``; raise ``ValueError`` for an unknown scheme or a missing host."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError("MQTT URL has no host")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("MQTT URL takes no path, query or fragment")
        tls, default_port = _SCHEMES[scheme]
        try:
            port = parts.port or default_port
        except ValueError as exc:  # urlsplit validates the port lazily
            raise ValueError(f"MQTT URL has a bad port: {exc}") from exc
        return cls(
            host=parts.hostname,
            port=port,
            tls=tls,
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )

    @property
    def url(self) -> str:
        """The URL without credentials, safe to log."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"
