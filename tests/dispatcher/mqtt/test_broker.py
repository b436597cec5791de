"""EmbeddedBroker: mosquitto as a child process, amqtt in-process as the fallback."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

from dispatcher.mqtt import BrokerEndpoint, EmbeddedBroker, MqttError
from dispatcher.mqtt.broker import find_mosquitto
from tests.dispatcher.mqtt.support import BrokerUnderTest, collect, publish
from tests.support.services import service_missing

REPO = Path(__file__).resolve().parents[3]


def _accepts(url: str) -> bool:
    ep = BrokerEndpoint.parse(url)
    try:
        with socket.create_connection((ep.host, ep.port), timeout=1):
            return True
    except OSError:
        return False


async def test_mosquitto_round_trips_and_goes_away(device: str) -> None:
    """A generated-config mosquitto accepts MQTT 5 and shared subscriptions, and stops on exit."""
    if find_mosquitto() is None:
        service_missing("the mosquitto binary")
    async with EmbeddedBroker() as broker:
        assert (broker.kind, broker.supports_v5, broker.supports_shared) == (
            "mosquitto",
            True,
            True,
        )
        tested = BrokerUnderTest(broker.url)
        async with tested.client(device, shared_group="demo") as client:
            await publish(broker.url, [(f"hyt/v1/d/{device}/evt/sos", b"{}")])
            [msg] = await collect(client, 1)
            client.ack(msg)
        assert broker.log_file is not None
        data_dir = broker.log_file.parent
        config = await asyncio.to_thread((data_dir / "mosquitto.conf").read_text)
        url = broker.url
    assert "max_queued_messages 200000" in config
    assert not _accepts(url)
    assert not await asyncio.to_thread(data_dir.exists)  # its temp dir is removed


async def test_mosquitto_keeps_its_data_dir(tmp_path: Path) -> None:
    """With a data_dir, the persistence file is written there on a clean stop and kept."""
    if find_mosquitto() is None:
        service_missing("the mosquitto binary")
    async with EmbeddedBroker(data_dir=tmp_path):
        pass
    assert await asyncio.to_thread((tmp_path / "mosquitto.db").exists)


async def test_amqtt_fallback_speaks_311_with_persistent_sessions(device: str) -> None:
    """Without mosquitto, amqtt serves 3.1.1 clients: anonymous devices, a persistent server."""
    async with EmbeddedBroker(prefer="amqtt") as broker:
        assert (broker.kind, broker.supports_v5, broker.supports_shared) == ("amqtt", False, False)
        tested = BrokerUnderTest(broker.url, supports_v5=False, supports_shared=False)
        anonymous = broker.url.replace("huyuan@", "")
        async with tested.client(device, client_id=f"server-{device}") as client:
            await publish(anonymous, [(f"hyt/v1/d/{device}/evt/sos", b"live")])
            [live] = await collect(client, 1)
            client.ack(live)
        await publish(anonymous, [(f"hyt/v1/d/{device}/evt/sos", b"while away")])
        async with tested.client(device, client_id=f"server-{device}") as client:
            [queued] = await collect(client, 1)
            client.ack(queued)
    assert (live.payload, queued.payload) == (b"live", b"while away")


async def test_a_fixed_port_in_use_is_an_error() -> None:
    """Asked for a port another listener holds, the broker refuses instead of reporting success."""
    if find_mosquitto() is None:
        service_missing("the mosquitto binary")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(MqttError, match="in use"):
            async with EmbeddedBroker(port=taken.getsockname()[1]):
                pass


async def test_an_orphaned_mosquitto_is_stopped_before_a_new_one_starts(tmp_path: Path) -> None:
    """A server killed with its broker running: the next start on that data dir stops the orphan."""
    if find_mosquitto() is None:
        service_missing("the mosquitto binary")
    script = (
        "import asyncio, sys\n"
        "from dispatcher.mqtt import EmbeddedBroker\n"
        "async def main():\n"
        f"    async with EmbeddedBroker(data_dir={str(tmp_path)!r}) as broker:\n"
        "        print('URL', broker.url, flush=True)\n"
        "        await asyncio.sleep(3600)\n"
        "asyncio.run(main())\n"
    )
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=REPO, stdout=asyncio.subprocess.PIPE
    )
    assert server.stdout is not None
    async with asyncio.timeout(20):
        while not (line := await server.stdout.readline()).startswith(b"URL "):
            assert line, "the server exited before starting its broker"
    server.kill()
    await server.communicate()
    orphan_url = line.split()[1].decode()
    assert _accepts(orphan_url)  # the child outlived its parent
    async with EmbeddedBroker(data_dir=tmp_path) as broker:
        assert _accepts(broker.url)
        if broker.url != orphan_url:
            assert not _accepts(orphan_url)
