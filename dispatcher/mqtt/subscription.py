"""What the ingest client subscribes to: validated filters, shared or not, and the SUBACK check."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

__all__ = ["Subscription", "check_topic"]

_GROUP = re.compile(r"^[^/+#]+$")
_MAX_UTF8_BYTES = 65_535
# Retained messages only when a subscription is new, not again on every reconnect.
_OPTIONS_V5 = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)


def _check_filter(topic_filter: str) -> None:
    levels = topic_filter.split("/")
    if (
        not topic_filter
        or "\0" in topic_filter
        or len(topic_filter.encode()) > _MAX_UTF8_BYTES
        or any(("+" in level or "#" in level) and len(level) > 1 for level in levels)
        or "#" in levels[:-1]
    ):
        raise ValueError(f"bad MQTT topic filter {topic_filter!r}")


def check_topic(topic: str) -> None:
    """Raise ``ValueError`` for a topic no one may publish to (empty, a wildcard, too long)."""
    if (
        not topic
        or "+" in topic
        or "#" in topic
        or "\0" in topic
        or len(topic.encode()) > _MAX_UTF8_BYTES
    ):
        raise ValueError(f"bad MQTT topic {topic!r}")


@dataclass(frozen=True, slots=True)
class Subscription:
    """QoS 1 topic filters as sent to the broker: ``$share/{group}/{filter}`` with a group."""

    filters: tuple[str, ...]

    @classmethod
    def of(cls, filters: Sequence[str], shared_group: str | None) -> Subscription:
        """Validate now, so that ``subscribe()`` in paho's CONNACK callback cannot refuse them."""
        if not filters:
            raise ValueError("at least one topic filter is needed")
        for topic_filter in filters:
            _check_filter(topic_filter)
        if shared_group is not None and not _GROUP.match(shared_group):
            raise ValueError(f"bad shared-subscription group {shared_group!r}")
        prefix = f"$share/{shared_group}/" if shared_group else ""
        return cls(tuple(prefix + f for f in filters))

    def request(
        self, protocol_v5: bool
    ) -> list[tuple[str, SubscribeOptions]] | list[tuple[str, int]]:
        """The argument for paho's ``subscribe()``: options on MQTT 5, a plain QoS on 3.1.1."""
        if protocol_v5:
            return [(f, _OPTIONS_V5) for f in self.filters]
        return [(f, 1) for f in self.filters]

    def refused(self, reason_codes: Sequence[ReasonCode]) -> str | None:
        """Why the SUBACK is not acceptable, or None: every filter granted QoS 1 or more."""
        refused = [
            f"{flt} ({code})"
            for flt, code in zip(self.filters, reason_codes, strict=False)
            if code.is_failure or code.value < 1  # granted QoS 0 would mean no acknowledgement
        ]
        if refused:
            return f"broker refused {', '.join(refused)}"
        if len(reason_codes) != len(self.filters):
            return f"SUBACK has {len(reason_codes)} reason codes for {len(self.filters)} filters"
        return None
