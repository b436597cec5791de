"""amqtt authentication for ``EmbeddedBroker``'s fallback; imported by amqtt only, by name.

amqtt keeps no offline messages for an anonymous session, persistent or not, and its stock
plugin either marks everyone anonymous or refuses clients without a user name. This one lets
everyone in and treats a client that gives a user name (the server's ingest client, via
``EmbeddedBroker.url``) as a real session, so devices can stay anonymous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amqtt.plugins.base import BaseAuthPlugin

__all__ = ["NamedSessionAuthPlugin"]


class NamedSessionAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no types
    """Accept every client; only one without a user name is anonymous."""

    async def authenticate(self, *, session: Any) -> bool:
        session.is_anonymous = not session.username
        return True

    @dataclass
    class Config:
        """No options."""
