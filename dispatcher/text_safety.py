"""Making untrusted text safe for any column, log line, ack or SMS (pure)."""

from __future__ import annotations

import re

__all__ = ["printable", "usable_msg_id"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str, limit: int) -> str:
    """``text`` with control characters and lone surrogates escaped, at most ``limit`` long."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)[:limit]


def usable_msg_id(msg_id: str | None) -> str | None:
    """A msg_id fit for the dedupe key and an ack (1-64 printable characters), else None."""
    if not msg_id or len(msg_id) > 64 or printable(msg_id, 64) != msg_id:
        return None
    return msg_id
