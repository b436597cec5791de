"""Notifier: reaching people. Channels (Twilio SMS, log), the texts they carry, their error tree."""

from dispatcher.notifier.channels import (
    Channel,
    LogChannel,
    SendResult,
    TwilioSmsChannel,
    backoff,
    channel_from_settings,
)
from dispatcher.notifier.errors import NotifierError, PermanentSendError, TransientSendError
from dispatcher.notifier.texts import (
    amap_link,
    device_prompt,
    sms_segments,
    wgs84_to_gcj02,
)

__all__ = [
    "Channel",
    "LogChannel",
    "NotifierError",
    "PermanentSendError",
    "SendResult",
    "TransientSendError",
    "TwilioSmsChannel",
    "amap_link",
    "backoff",
    "channel_from_settings",
    "device_prompt",
    "sms_segments",
    "wgs84_to_gcj02",
]
