"""The elder's device as a channel: a prompt is a ``show_prompt`` command over MQTT.

The outbox hands it one text for one device id; it publishes ``cmd/req`` at QoS 1 through the
emergency lane's connection (paho keeps QoS 1 publishes queued across a reconnect). A device that
cannot show text answers ``ok: false``; a prompt is never retried, the next state change brings
a fresh one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from device_protocol import CommandRequest, encode, topic_of
from dispatcher.notifier.channels import SendResult
from dispatcher.notifier.errors import PermanentSendError, TransientSendError

__all__ = ["DeviceChannel", "Publisher"]


class Publisher(Protocol):
    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None: ...


class DeviceChannel:
    """Sends prompts to devices; ``publisher`` is the MQTT client (None until it is open)."""

    name = "device"

    def __init__(self, publisher: Callable[[], Publisher | None], clock: Callable[[], datetime]):
        self._publisher = publisher
        self._clock = clock

    async def send(self, to: str, body: str) -> SendResult:
        publisher = self._publisher()
        if publisher is None:
            raise TransientSendError("the MQTT connection is not open")
        msg_id = f"srv-{uuid.uuid4().hex[:16]}"
        try:
            command = CommandRequest(
                v=1,
                msg_id=msg_id,
                device_id=to,
                ts=self._clock(),
                cmd="show_prompt",
                args={"text": body},
            )
        except ValueError as exc:  # a device id the contract refuses: no retry will fix it
            raise PermanentSendError(f"not a device id: {to!r}") from exc
        try:
            publisher.publish(topic_of(command), encode(command), qos=1)
        except Exception as exc:  # the adapter's MqttPublishError: try again later
            raise TransientSendError(f"publish to device {to} failed: {exc}") from exc
        return SendResult(provider_id=msg_id, detail="published")

    async def aclose(self) -> None:
        """Nothing to release: the MQTT connection belongs to the server."""
