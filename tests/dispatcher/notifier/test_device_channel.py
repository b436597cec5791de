"""Prompts reach the elder's device as a show_prompt command on its own cmd/req topic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from device_protocol import CommandRequest, decode_outbound
from dispatcher.notifier.device_channel import DeviceChannel
from dispatcher.notifier.errors import PermanentSendError, TransientSendError

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, int]] = []

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self.sent.append((topic, payload, qos))


async def test_a_prompt_is_a_show_prompt_command_at_qos_1() -> None:
    """The text goes out as cmd/req show_prompt, readable by the device side of the contract."""
    recorder = Recorder()
    channel = DeviceChannel(lambda: recorder, lambda: NOW)
    result = await channel.send("860000000000001", "服务人员张伟已出发，约6分钟到达，请稍候")
    topic, payload, qos = recorder.sent[0]
    command = decode_outbound(topic, payload)
    assert isinstance(command, CommandRequest) and qos == 1
    assert topic == "hyt/v1/d/860000000000001/cmd/req"
    assert command.cmd == "show_prompt" and str(command.args["text"]).startswith("服务人员张伟")
    assert result.provider_id == command.msg_id


async def test_no_connection_is_a_retryable_failure() -> None:
    """Before the MQTT connection is open the outbox is told to try again later."""
    channel = DeviceChannel(lambda: None, lambda: NOW)
    with pytest.raises(TransientSendError):
        await channel.send("860000000000001", "x")


async def test_a_malformed_device_id_is_not_retried() -> None:
    """A recipient that is no device id fails for good instead of retrying forever."""
    channel = DeviceChannel(lambda: Recorder(), lambda: NOW)
    with pytest.raises(PermanentSendError):
        await channel.send("not a device/#", "x")
