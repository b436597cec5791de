"""The whole server under load: telemetry committed per second, and SOS-to-ack latency.

Starts a private mosquitto (EmbeddedBroker) and the real server as a child process
(``python -m dispatcher serve``, SQLite by default or ``HUYUAN_BENCH_DATABASE_URL``), registers
a district of devices over the API, then measures, each beside a reference from the same run:

1. telemetry ingest: N location reports published as fast as one paho client can (QoS 1);
   committed/s = N / time until the server's counter says all N are committed.
   Reference: ``mosquitto_sub`` draining the same number of messages from the same broker.
2. SOS → ack latency p50/p99 while telemetry flows at 2,000 msg/s: each SOS is a new press from
   its own device, timed from publish to the device's ``ack``.
   Reference: an MQTT round trip (publish, receive our own message) on the same broker.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from dispatcher.mqtt import BrokerEndpoint, EmbeddedBroker

DEVICES = 2_000
TELEMETRY_N = int(os.environ.get("BENCH_TELEMETRY_N", "50000"))
SOS_N = 150
SOS_INTERVAL_S = 0.2  # 5 presses a second: a surge far beyond the ~60 a day of a real district
BACKGROUND_RATE = int(os.environ.get("BENCH_BG_RATE", "2000"))


def _location(device: str, i: int) -> bytes:
    return orjson.dumps(
        {
            "v": 1,
            "msg_id": f"{device}-{i}",
            "device_id": device,
            "ts": "2026-11-23T14:30:00+08:00",
            "location": {
                "lat": 23.37 + (i % 100) * 1e-4,
                "lon": 116.70,
                "acc_m": 10,
                "fix": "gnss",
            },
        }
    )


def _no_delay(_client: paho.Client, _userdata: object, sock: object) -> None:
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _client(url: str, name: str) -> paho.Client:
    ep = BrokerEndpoint.parse(url)
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{name}-{uuid.uuid4().hex[:6]}",
        protocol=paho.MQTTv5,
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    # Devices' own TCP stacks vary; without NODELAY here the client's Nagle would be measured.
    client.on_socket_open = _no_delay
    client.connect(ep.host, ep.port)
    client.loop_start()
    return client


def _publish_many(
    url: str,
    messages: list[tuple[str, bytes]],
    rate: float | None,
    stop: threading.Event | None = None,
) -> None:
    client = _client(url, "bench-pub")
    try:
        start = time.perf_counter()
        for n, (topic, payload) in enumerate(messages):
            if stop is not None and stop.is_set():
                break
            info = client.publish(topic, payload, qos=1)
            if n % 1000 == 999:
                info.wait_for_publish(30)  # keep well under paho's 65,535 in-flight ids
            if rate:
                ahead = n / rate - (time.perf_counter() - start)
                if ahead > 0:
                    time.sleep(ahead)
    finally:
        client.loop_stop()
        client.disconnect()


def _mqtt_round_trip_ms(url: str, n: int = 200) -> list[float]:
    client = _client(url, "bench-rtt")
    topic = f"bench/rtt/{uuid.uuid4().hex[:8]}"
    got = threading.Event()
    client.on_message = lambda *_: got.set()
    client.subscribe(topic, qos=1)
    time.sleep(0.3)
    out = []
    for _ in range(n):
        got.clear()
        t = time.perf_counter()
        client.publish(topic, b"x", qos=1)
        got.wait(5)
        out.append((time.perf_counter() - t) * 1000)
    client.loop_stop()
    client.disconnect()
    return out


def _district(n: int) -> tuple[str, str, str, list[str]]:
    ids = [f"87{i:013d}" for i in range(n)]
    elders = ["ref,name,address,lat,lon"] + [
        f"B{i},长者{i},汕头市龙湖区,{23.33 + (i % 50) * 0.0015},{116.66 + (i // 50) * 0.002}"
        for i in range(n)
    ]
    devices = ["device_id,elder_ref,model,report_interval_s"] + [
        f"{d},B{i},wristband,600" for i, d in enumerate(ids)
    ]
    helpers = ["ref,name,phone,travel_mode,on_duty,lat,lon"] + [
        f"BH{i},助手{i},+86137{i:08d},ebike,true,{23.33 + (i % 20) * 0.004},"
        f"{116.66 + (i // 20) * 0.008}"
        for i in range(400)
    ]
    return "\n".join(elders), "\n".join(devices), "\n".join(helpers), ids


async def _wait_ready(api: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError("server exited during start-up")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server not ready")


async def _counter(http: httpx.AsyncClient, name: str) -> int:
    return int((await http.get("/readyz")).json()["counters"].get(name, 0))


def _spawn(env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    with (workdir / "server.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "dispatcher", "serve"], env=env, stderr=log, stdout=log
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=60)


async def _drain_rate(api: str, env: dict[str, str], workdir: Path, n: int) -> float:
    """Start the server on a backlog of ``n`` messages; committed/s from readiness to the last."""
    proc = _spawn(env, workdir)
    try:
        await _wait_ready(api, proc)
        async with httpx.AsyncClient(base_url=api, timeout=60) as http:
            start, already = time.perf_counter(), await _counter(http, "telemetry")
            while (done := await _counter(http, "telemetry")) < n:
                await asyncio.sleep(0.02)
                if time.perf_counter() - start > 300:
                    raise RuntimeError(f"only {done} of {n} telemetry messages arrived")
        return (n - already) / (time.perf_counter() - start)
    finally:
        _stop(proc)


def _mosquitto_sub_drain_rate(url: str, n: int) -> float:
    """The same backlog drained by ``mosquitto_sub`` (C, libmosquitto) with a persistent session."""
    binary = shutil.which("mosquitto_sub")
    if binary is None:
        return float("nan")
    ep = BrokerEndpoint.parse(url)
    topic, ident = f"bench/{uuid.uuid4().hex[:8]}", f"bench-sub-{uuid.uuid4().hex[:6]}"
    args = [
        binary,
        "-h",
        ep.host,
        "-p",
        str(ep.port),
        "-t",
        topic,
        "-q",
        "1",
        "-c",
        "-i",
        ident,
        "-V",
        "mqttv5",
        "-x",
        "600",
    ]
    subprocess.run([*args, "-E"], check=True)  # create the session, then leave
    _publish_many(url, [(topic, _location("x", i)) for i in range(n)], None)
    start = time.perf_counter()
    subprocess.run([*args, "-C", str(n)], check=True, stdout=subprocess.DEVNULL)
    return n / (time.perf_counter() - start)


async def _measure(mqtt_url: str, workdir: Path) -> None:
    port = 18000 + os.getpid() % 1000
    api = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HUYUAN_MQTT_URL": mqtt_url,
        "HUYUAN_HTTP_PORT": str(port),
        "HUYUAN_DATABASE_URL": os.environ.get(
            "HUYUAN_BENCH_DATABASE_URL", f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        ),
        "HUYUAN_NODE_ID": f"bench-{uuid.uuid4().hex[:6]}",
        "HUYUAN_LOG_LEVEL": "WARNING",
        "HUYUAN_DATA_DIR": str(workdir),
    }
    elders, devices, helpers, ids = _district(DEVICES)
    proc = _spawn(env, workdir)
    try:
        await _wait_ready(api, proc)
        async with httpx.AsyncClient(base_url=api, timeout=60) as http:
            for kind, body in (("elders", elders), ("devices", devices), ("helpers", helpers)):
                r = await http.post(
                    f"/api/v1/import/{kind}", content=body, headers={"content-type": "text/csv"}
                )
                r.raise_for_status()
    finally:
        _stop(proc)
    # 1. A backlog of telemetry waits in the server's persistent session, then is drained.
    msgs = [
        (f"hyt/v1/d/{ids[i % DEVICES]}/tel/location", _location(ids[i % DEVICES], i))
        for i in range(TELEMETRY_N)
    ]
    _publish_many(mqtt_url, msgs, None)
    ingest_rate = await _drain_rate(api, env, workdir, TELEMETRY_N)
    reference_rate = _mosquitto_sub_drain_rate(mqtt_url, TELEMETRY_N)
    print(
        f"telemetry ingest, committed:  {ingest_rate:10,.0f} msg/s  ({TELEMETRY_N:,} location "
        f"reports from {DEVICES:,} devices, drained from the broker into SQLite)"
    )
    print(
        f"  reference mosquitto_sub:    {reference_rate:10,.0f} msg/s  (same backlog, same broker)"
    )
    # 2. SOS latency while telemetry flows.
    proc = _spawn(env, workdir)
    try:
        await _wait_ready(api, proc)
        stop = threading.Event()
        background = [
            (
                f"hyt/v1/d/{ids[i % DEVICES]}/tel/location",
                _location(ids[i % DEVICES], 10_000_000 + i),
            )
            for i in range(BACKGROUND_RATE * 120)
        ]
        flood = threading.Thread(
            target=_publish_many, args=(mqtt_url, background, BACKGROUND_RATE, stop), daemon=True
        )
        latencies = await asyncio.to_thread(_sos_latencies, mqtt_url, ids, flood)
        stop.set()
        flood.join(timeout=30)
    finally:
        _stop(proc)
    rtt = _mqtt_round_trip_ms(mqtt_url)
    q = statistics.quantiles(latencies, n=100)
    rq = statistics.quantiles(rtt, n=100)
    print(
        f"SOS → ack latency:            p50 {q[49]:6.1f} ms   p99 {q[98]:6.1f} ms  "
        f"({len(latencies)} of {SOS_N} SOS acked, telemetry at {BACKGROUND_RATE:,} msg/s)"
    )
    print(f"  reference MQTT round trip:  p50 {rq[49]:6.1f} ms   p99 {rq[98]:6.1f} ms")


def _sos_latencies(url: str, ids: list[str], flood: threading.Thread) -> list[float]:
    client = _client(url, "bench-sos")
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    done = threading.Event()

    def on_message(_c: object, _u: object, message: paho.MQTTMessage) -> None:
        ack = orjson.loads(message.payload)
        if ack["ack_of"] in sent and ack["ack_of"] not in got:
            got[ack["ack_of"]] = time.perf_counter()
            if len(got) == SOS_N:
                done.set()

    client.on_message = on_message
    client.subscribe("hyt/v1/d/+/ack", qos=1)
    time.sleep(0.5)
    flood.start()
    time.sleep(2)  # let the telemetry flow settle in
    for i in range(SOS_N):
        device = ids[(i * 7) % len(ids)]
        msg_id = f"sos-{uuid.uuid4().hex[:10]}"
        payload = orjson.dumps(
            {
                "v": 1,
                "msg_id": msg_id,
                "device_id": device,
                "ts": "2026-11-23T14:30:00+08:00",
                "state": "raised",
                "location": {"lat": 23.36, "lon": 116.70, "fix": "gnss"},
            }
        )
        sent[msg_id] = time.perf_counter()
        client.publish(f"hyt/v1/d/{device}/evt/sos", payload, qos=1)
        time.sleep(SOS_INTERVAL_S)
    done.wait(60)
    client.loop_stop()
    client.disconnect()
    return [(got[m] - t) * 1000 for m, t in sent.items() if m in got]


def run() -> None:
    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            url = os.environ.get("HUYUAN_BENCH_MQTT_URL")
            if url:
                await _measure(url, Path(tmp))
                return
            async with EmbeddedBroker(data_dir=Path(tmp) / "broker") as broker:
                await _measure(broker.url, Path(tmp))

    asyncio.run(main())


if __name__ == "__main__":
    run()
