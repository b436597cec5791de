"""How fast the MQTT adapter takes in QoS 1 telemetry, against mosquitto_sub on the same broker.

50,000 QoS 1 messages of about 200 bytes of JSON, one device topic:

* publishers alone: one paho client, and ``mosquitto_pub -l`` (C), to know the ceiling of the
  feed on this machine;
* live: ``mosquitto_pub`` publishes while ``MqttIngestClient`` takes batches of 1,000 and acks
  every message (the round trip the ingest loop runs, minus the database), until the last ack;
* backlog drain: the messages queued in the broker while the client was away, then connect,
  drain and ack (the adapter alone, as after a restart); also with Receive Maximum 20;
* each ``MqttIngestClient`` row twice: with paho's public receive path (``fast_path=False``) and
  with the private overrides kept in dispatcher/mqtt/paho_client.py (``fast_path=True``), so one
  run says what they are worth (issue 8: keep them only if the public path loses more than 10 %);
* ``mosquitto_sub -C 50000`` (C, libmosquitto) draining the same backlog, and live.

CPU µs/msg is this process's CPU time (all threads) over the run: the adapter's share of the
budget the ingest's event loop also needs for decoding and the database. On a shared, noisy
machine it is the steadier figure; msg/s also depends on what else runs.

Run: ``.venv/bin/python -c "from bench.mqtt_ingest import run; run()"``. Uses a private mosquitto
(EmbeddedBroker) unless HUYUAN_BENCH_MQTT_URL names a broker, whose ``max_queued_messages`` must
then exceed 50,000 (mosquitto's default of 1,000 drops the rest of the backlog).
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import threading
import time
import uuid

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from dispatcher.mqtt import BrokerEndpoint, EmbeddedBroker, MqttIngestClient

N = 50_000
BATCH = 1_000
_PATHS = {False: "paho public", True: "fast path"}


def _payload(device: str, i: int) -> bytes:
    return orjson.dumps(
        {
            "v": 1,
            "msg_id": f"{device}-{i:08d}",
            "device_id": device,
            "ts": "2026-11-23T14:30:00.000+08:00",
            "location": {
                "lat": 31.230416,
                "lon": 121.473701,
                "acc_m": 12.5,
                "fix": "gnss",
            },
        }
    )


def _publish_all(url: str, topic: str, device: str, n: int) -> float:
    """Publish ``n`` QoS 1 messages with one paho client; seconds until every PUBACK is back."""
    ep = BrokerEndpoint.parse(url)
    done = threading.Event()
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1
        if acked == n:
            done.set()

    # MQTT 3.1.1 and no in-flight limit: paho rescans its whole outgoing queue on every PUBACK
    # when a limit is set (quadratic for a 50,000-message burst), and mosquitto does not limit
    # a 3.1.1 publisher's in-flight QoS 1 messages.
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex}")
    client.max_inflight_messages_set(0)
    client.on_publish = on_publish
    if ep.username is not None:
        client.username_pw_set(ep.username, ep.password)
    payloads = [_payload(device, i) for i in range(n)]
    client.connect(ep.host, ep.port)
    client.loop_start()
    start = time.perf_counter()
    for body in payloads:
        client.publish(topic, body, qos=1)
    if not done.wait(300):
        raise RuntimeError(f"only {acked} of {n} publishes acknowledged")
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return elapsed


async def _consume(client: MqttIngestClient, n: int) -> None:
    got = 0
    while got < n:
        batch = await client.next_batch(BATCH, 0.05)
        for msg in batch:
            client.ack(msg)
        got += len(batch)


def _cpu_s() -> float:
    """CPU seconds of this process, all threads (children such as mosquitto_pub not included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _tool(name: str) -> str | None:
    return shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/usr/local/bin/{name}") if os.access(p, os.X_OK)), None
    )


def _lines(device: str, n: int) -> bytes:
    return b"\n".join(_payload(device, i) for i in range(n)) + b"\n"


async def _mosquitto_pub(url: str, topic: str, lines: bytes) -> float | None:
    """Publish one QoS 1 message per line with mosquitto_pub -l (C, 1,000 in flight)."""
    binary = _tool("mosquitto_pub")
    if binary is None:
        return None
    ep = BrokerEndpoint.parse(url)
    start = time.perf_counter()
    pub = await asyncio.create_subprocess_exec(
        binary,
        *("-h", ep.host, "-p", str(ep.port), "-q", "1", "-t", topic, "-l", "-M", "1000"),
        stdin=asyncio.subprocess.PIPE,
    )
    await pub.communicate(lines)
    return time.perf_counter() - start


def _ingest_client(
    url: str, device: str, fast_path: bool, receive_maximum: int | None = None
) -> MqttIngestClient:
    return MqttIngestClient(
        url,
        client_id=f"bench-{device}",
        filters=[f"hyt/v1/d/{device}/tel/location"],
        shared_group=None,
        session_expiry_s=60,
        receive_maximum=receive_maximum,
        fast_path=fast_path,
    )


async def _live(url: str, fast_path: bool) -> tuple[float, float]:
    """mosquitto_pub publishes while the adapter consumes and acks: (seconds, CPU seconds)."""
    device = uuid.uuid4().hex
    lines = _lines(device, N)
    async with _ingest_client(url, device, fast_path) as client:
        start, cpu = time.perf_counter(), _cpu_s()
        publishing = asyncio.create_task(
            _mosquitto_pub(url, f"hyt/v1/d/{device}/tel/location", lines)
        )
        await _consume(client, N)
        took = time.perf_counter() - start, _cpu_s() - cpu
        await publishing
    return took


async def _backlog(
    url: str, fast_path: bool, receive_maximum: int | None = None
) -> tuple[float, float]:
    """Queue ``N`` for an absent session; time connecting, draining and acking them all."""
    device = uuid.uuid4().hex
    async with _ingest_client(url, device, fast_path, receive_maximum):
        pass  # leaves a persistent session behind: the broker queues for it from now on
    await asyncio.to_thread(_publish_all, url, f"hyt/v1/d/{device}/tel/location", device, N)
    start, cpu = time.perf_counter(), _cpu_s()
    async with _ingest_client(url, device, fast_path, receive_maximum) as client:
        await _consume(client, N)
        return time.perf_counter() - start, _cpu_s() - cpu


async def _mosquitto_sub(url: str, backlog: bool) -> float | None:
    binary = _tool("mosquitto_sub")
    if binary is None:
        return None
    ep = BrokerEndpoint.parse(url)
    device = uuid.uuid4().hex
    topic = f"hyt/v1/d/{device}/tel/location"
    args = ["-h", ep.host, "-p", str(ep.port), "-V", "mqttv5", "-q", "1", "-t", topic]
    args += ["-c", "-i", f"bench-sub-{device}", "-x", "60"]
    if backlog:
        first = await asyncio.create_subprocess_exec(binary, *args, "-E")
        await first.wait()
        await asyncio.to_thread(_publish_all, url, topic, device, N)
    sub = await asyncio.create_subprocess_exec(
        binary, *args, "-C", str(N), stdout=asyncio.subprocess.DEVNULL
    )
    start = time.perf_counter()
    if not backlog:
        await asyncio.sleep(0.3)  # let it subscribe
        start = time.perf_counter()
        await _mosquitto_pub(url, topic, _lines(device, N))
    await sub.wait()
    return time.perf_counter() - start


def _rate(took: float | tuple[float, float] | None) -> str:
    if took is None:
        return "n/a (not installed)"
    seconds, cpu = took if isinstance(took, tuple) else (took, None)
    figure = f"{N / seconds:>9,.0f} msg/s ({seconds:.2f} s)"
    return figure if cpu is None else f"{figure}, {cpu / N * 1e6:.1f} µs CPU/msg"


async def _main() -> None:
    url = os.environ.get("HUYUAN_BENCH_MQTT_URL")
    if url is None:
        async with EmbeddedBroker(prefer="mosquitto") as broker:
            await _report(broker.url)
    else:
        await _report(url)


async def _report(url: str) -> None:
    print(f"broker {url}, {N:,} QoS 1 messages of ~{len(_payload('x' * 32, 0))} bytes")
    device = uuid.uuid4().hex
    paho_s = await asyncio.to_thread(_publish_all, url, f"bench/{device}", device, N)
    lines = _lines(device, N)
    rows: list[tuple[str, float | tuple[float, float] | None]] = [
        ("publisher alone: paho, one client", paho_s),
        ("publisher alone: mosquitto_pub -l -M 1000", await _mosquitto_pub(url, "b/x", lines)),
    ]
    # Public and fast path alternate row by row, so drift on a shared machine hits both alike.
    for label, measure in [
        (f"live: mosquitto_pub -> MqttIngestClient, batches of {BATCH}, ack each", _live),
        ("backlog drain: MqttIngestClient, Receive Maximum 50000", _backlog),
    ]:
        for fast_path in (False, True):
            rows.append((f"{label}, {_PATHS[fast_path]}", await measure(url, fast_path)))
    for fast_path in (False, True):
        rows.append(
            (
                f"backlog drain: MqttIngestClient, Receive Maximum 20, {_PATHS[fast_path]}",
                await _backlog(url, fast_path, 20),
            )
        )
    rows += [
        (f"backlog drain: mosquitto_sub -C {N}", await _mosquitto_sub(url, True)),
        (f"live: mosquitto_pub -> mosquitto_sub -C {N}", await _mosquitto_sub(url, False)),
    ]
    for label, seconds in rows:
        print(f"{label:<84} {_rate(seconds)}")


def run() -> None:
    """Print the figures."""
    asyncio.run(_main())


if __name__ == "__main__":
    run()
