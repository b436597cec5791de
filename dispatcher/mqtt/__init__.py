"""The server's MQTT adapter: the ingest client (paho-mqtt 2 on the event loop, manual ack) and
a local broker."""

from __future__ import annotations

from dispatcher.mqtt.broker import EmbeddedBroker
from dispatcher.mqtt.endpoint import BrokerEndpoint
from dispatcher.mqtt.errors import MqttConnectError, MqttError, MqttPublishError, MqttSubscribeError
from dispatcher.mqtt.inbound import Inbound
from dispatcher.mqtt.ingest_client import MqttIngestClient

__all__ = [
    "BrokerEndpoint",
    "EmbeddedBroker",
    "Inbound",
    "MqttConnectError",
    "MqttError",
    "MqttIngestClient",
    "MqttPublishError",
    "MqttSubscribeError",
]
