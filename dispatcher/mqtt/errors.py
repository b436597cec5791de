"""Errors of the MQTT adapter; paho's errors are translated into these once, at the adapter.

```
MqttError               anything the broker connection raises
├── MqttConnectError    unreachable, refused (CONNACK reason), TLS failure, no CONNACK in time
├── MqttSubscribeError  a SUBACK refused a filter or granted only QoS 0, or none in time
└── MqttPublishError    paho would not queue a publish (bad topic, not open, queue full)
```

A lost connection is not an error: the ingest client reconnects by itself (backoff 1 s to 30 s)
and ``MqttIngestClient.ready`` is False meanwhile. A refused re-subscription after a reconnect
is, and so is paho failing on the event loop: ``next_batch`` raises them.
"""

from __future__ import annotations

__all__ = ["MqttConnectError", "MqttError", "MqttPublishError", "MqttSubscribeError"]


class MqttError(Exception):
    """Base of every error the MQTT adapter raises."""


class MqttConnectError(MqttError):
    """The broker could not be reached, refused the connection, or did not answer in time."""


class MqttSubscribeError(MqttError):
    """The broker refused a subscription, granted QoS 0 instead of 1, or did not answer."""


class MqttPublishError(MqttError):
    """A publish could not be queued."""
