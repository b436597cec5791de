"""Broker URLs: scheme, host, port, TLS and credentials."""

from __future__ import annotations

import pytest

from dispatcher.mqtt import BrokerEndpoint


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1:1883", BrokerEndpoint("127.0.0.1", 1883)),
        ("mqtt://broker", BrokerEndpoint("broker", 1883)),
        ("mqtts://broker.example.com", BrokerEndpoint("broker.example.com", 8883, tls=True)),
        ("mqtts://broker:8884", BrokerEndpoint("broker", 8884, tls=True)),
        ("MQTT://Broker:1884/", BrokerEndpoint("broker", 1884)),
        ("mqtt://huyuan@host:1", BrokerEndpoint("host", 1, username="huyuan")),
        (
            "mqtt://user:p%40ss%3Aword@host:1883",
            BrokerEndpoint("host", 1883, username="user", password="p@ss:word"),
        ),
        ("mqtt://[::1]:1883", BrokerEndpoint("::1", 1883)),
    ],
)
def test_parses_broker_urls(url: str, expected: BrokerEndpoint) -> None:
    """Each supported URL form parses to host, port, TLS flag and percent-decoded credentials."""
    assert BrokerEndpoint.parse(url) == expected


@pytest.mark.parametrize(
    "url",
    ["http://host:1883", "host:1883", "mqtt://", "mqtt://host:99999", "mqtt://host/topic"],
)
def test_rejects_what_is_not_a_broker_url(url: str) -> None:
    """Another scheme, no host, a bad port or a path is a ValueError, not a late connect error."""
    with pytest.raises(ValueError, match="MQTT URL"):
        BrokerEndpoint.parse(url)


def test_never_shows_the_password() -> None:
    """Neither repr nor the loggable url carries the password."""
    endpoint = BrokerEndpoint.parse("mqtts://user:secret@host:8883")
    assert "secret" not in repr(endpoint)
    assert endpoint.url == "mqtts://host:8883"
    assert BrokerEndpoint.parse("mqtt://[::1]:1").url == "mqtt://[::1]:1"
