"""The server's one MQTT connection per ingest lane: paho-mqtt 2 behind a small asyncio adapter.

Why paho and not aiomqtt: aiomqtt acknowledges a QoS 1 message as soon as it is queued inside
the process, so a crash loses what was queued. Here acknowledgement is manual: ``ack()`` sends the
PUBACK only after the caller has committed the message's effects. Everything unacknowledged when
the process dies is redelivered by the broker when the same ``client_id`` reconnects, because the
session is persistent (``clean_start=False`` plus a Session Expiry Interval on MQTT 5;
``clean_session=False`` on 3.1.1).

Threads: paho's network thread (``loop_start``) runs the callbacks; it only appends to an
``InboundBuffer`` and flips flags. The asyncio side calls ``next_batch``, ``ack`` and ``publish``;
paho's ``publish`` and our batched PUBACKs only append to its outgoing deque and poke its
socketpair, which is thread-safe. If the network thread ever dies, ``next_batch`` raises rather
than waiting forever behind a healthy-looking API.

An ack is only valid on the connection that delivered the message (see ``ack_queue``).
Duplicates are expected under QoS 1; ingest dedupes on (device_id, msg_id).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as paho
import structlog
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from dispatcher.mqtt.ack_queue import AckQueue
from dispatcher.mqtt.endpoint import BrokerEndpoint
from dispatcher.mqtt.errors import MqttConnectError, MqttError, MqttPublishError, MqttSubscribeError
from dispatcher.mqtt.inbound import Inbound, InboundBuffer
from dispatcher.mqtt.paho_client import FastPahoClient
from dispatcher.mqtt.subscription import Subscription

__all__ = ["MqttIngestClient"]

_log = structlog.get_logger(__name__)
SEVEN_DAYS_S = 7 * 24 * 3600
MAX_RECEIVE_MAXIMUM = 65_535  # the largest value MQTT 5's two-byte Receive Maximum can carry
_MQTT311 = MQTTProtocolVersion.MQTTv311


class MqttIngestClient:
    """One persistent-session MQTT subscription, drained in batches and acknowledged by hand."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        filters: Sequence[str],
        shared_group: str | None = "huyuan",
        session_expiry_s: int = SEVEN_DAYS_S,
        keepalive: int = 30,
        max_buffer: int = 50_000,
        protocol_v5: bool = True,
        receive_maximum: int | None = None,
        connect_timeout_s: float = 10.0,
    ) -> None:
        if not client_id:
            raise ValueError("a persistent session needs a stable, non-empty client_id")
        self._subscription = Subscription.of(filters, shared_group)
        # Receive Maximum caps the unacknowledged QoS 1 messages the broker sends us at once: past
        # it the broker keeps them queued for us (backpressure; mosquitto 2.0.11 enforces it only
        # loosely, see inbound.py). Too small caps throughput under manual ack; it may not exceed
        # the buffer it is meant to bound.
        receive_maximum = receive_maximum or min(MAX_RECEIVE_MAXIMUM, max_buffer)
        if not 1 <= receive_maximum <= min(MAX_RECEIVE_MAXIMUM, max_buffer):
            raise ValueError("receive_maximum must be within 1..min(65535, max_buffer)")
        self._endpoint = BrokerEndpoint.parse(url)
        self._client_id = client_id
        self._session_expiry_s = session_expiry_s
        self._keepalive = keepalive
        self._protocol_v5 = protocol_v5
        self._receive_maximum = receive_maximum
        self._connect_timeout_s = connect_timeout_s
        self._max_buffer = max_buffer
        self._buffer = InboundBuffer(max_buffer)
        self._client: FastPahoClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._startup: asyncio.Future[None] | None = None
        self._acks = AckQueue()
        self._subscribe_mid: int | None = None
        self._connected = False
        self._ready = False
        self._closing = False
        self._session_present: bool | None = None
        self._log = _log.bind(client_id=client_id, broker=self._endpoint.url)

    # --- what the server reads -----------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True only while connected and subscribed (for /readyz).

        Subscribed means a SUBACK granted QoS 1 for every filter, or the broker resumed our
        persistent session, which holds the subscriptions already.
        """
        return self._ready

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """The filters as sent to the broker (``$share/{group}/…`` when a group is set)."""
        return self._subscription.filters

    @property
    def session_present(self) -> bool | None:
        """Whether the broker resumed our session on the last connect; None before any."""
        return self._session_present

    @property
    def buffered(self) -> int:
        """Messages received and not yet taken by ``next_batch``."""
        return len(self._buffer)

    @property
    def dropped_qos0(self) -> int:
        """QoS 0 messages dropped because the buffer was full (QoS 1 is never dropped)."""
        return self._buffer.dropped_qos0

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._client is not None:
            raise RuntimeError("MqttIngestClient is already open")
        loop = asyncio.get_running_loop()
        self._loop = loop
        # Anything left from an earlier connection was never acked: the broker redelivers it.
        self._buffer = InboundBuffer(self._max_buffer)
        self._buffer.bind(loop)
        self._startup = loop.create_future()
        self._closing = False
        client = self._client = self._make_client()
        self._acks.attach(loop, client)
        ep = self._endpoint
        try:
            try:
                if self._protocol_v5:
                    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                    props.SessionExpiryInterval = self._session_expiry_s
                    props.ReceiveMaximum = self._receive_maximum
                    await asyncio.to_thread(
                        client.connect,
                        ep.host,
                        ep.port,
                        self._keepalive,
                        clean_start=False,
                        properties=props,
                    )
                else:
                    await asyncio.to_thread(client.connect, ep.host, ep.port, self._keepalive)
            except (OSError, ValueError) as exc:  # ssl.SSLError and socket timeouts are OSErrors
                raise MqttConnectError(f"cannot connect to {ep.url}: {exc}") from exc
            client.loop_start()
            try:
                async with asyncio.timeout(self._connect_timeout_s):
                    await self._startup
            except TimeoutError as exc:
                if self._connected:
                    raise MqttSubscribeError(
                        f"no SUBACK from {ep.url} within {self._connect_timeout_s}s"
                    ) from exc
                raise MqttConnectError(
                    f"no CONNACK from {ep.url} within {self._connect_timeout_s}s"
                ) from exc
        except BaseException:
            await self._shutdown()
            raise
        finally:
            self._startup = None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        client = self._client
        if client is None:
            return
        self._acks.flush()  # what was committed is acknowledged, not redelivered
        self._closing = True
        self._ready = False
        # A normal DISCONNECT keeps the session (its expiry was set on CONNECT): what devices
        # publish while we are away is queued by the broker and delivered when we come back.
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)
        # Close the socket and paho's wake-up socketpair now rather than whenever the GC runs.
        client._reset_sockets()
        self._acks.attach(asyncio.get_running_loop(), None)
        self._client = None
        self._connected = False
        self._buffer.fail(MqttError("the MQTT client is closed"))  # no waiter hangs on
        self._log.info("mqtt.closed")

    def _make_client(self) -> FastPahoClient:
        client = FastPahoClient(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if self._protocol_v5 else _MQTT311,
            clean_session=None if self._protocol_v5 else False,
            manual_ack=True,
        )
        ep = self._endpoint
        if ep.username is not None:
            client.username_pw_set(ep.username, ep.password)
        if ep.tls:
            client.tls_set_context(ssl.create_default_context())
        client.connect_timeout = self._connect_timeout_s
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_pre_connect = self._on_pre_connect
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message  # QoS 2 only: the broker downgrades to our QoS 1
        client.sink = self._on_publish
        client.on_crash = self._on_crash
        client.on_socket_open = _no_delay
        return client

    # --- the asyncio side -----------------------------------------------------------------------

    async def next_batch(self, max_items: int, max_wait_s: float) -> list[Inbound]:
        """Wait for one message, then gather up to ``max_items`` arriving within ``max_wait_s``.

        Raises ``MqttSubscribeError`` if a re-subscription after a reconnect was refused: an
        ingest loop that silently receives nothing is worse than a crash.
        """
        return await self._buffer.next_batch(max_items, max_wait_s)

    def ack(self, msg: Inbound) -> None:
        """Acknowledge ``msg`` (PUBACK); call only after its effects are committed.

        Call it from the event loop's thread. The PUBACKs of one loop iteration (a batch acked
        in a ``for`` loop) leave together as one write when the iteration ends. A no-op for
        QoS 0, after close, and for a message delivered on an earlier connection (the broker has
        redelivered that one on the current connection: ack that copy).
        """
        if msg.qos == 1:
            self._acks.add(msg.mid, msg.connection)
        elif msg.qos == 2:
            self._acks.ack_qos2(msg.mid, msg.connection)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Queue a publish (device acks, commands); QoS 1 survives a reconnect in paho's queue."""
        client = self._client
        if client is None:
            raise MqttPublishError("the MQTT client is not open")
        try:
            info = client.publish(topic, payload, qos=qos, retain=retain)
        except (ValueError, TypeError) as exc:
            raise MqttPublishError(f"cannot publish to {topic!r}: {exc}") from exc
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            return
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0:
            return  # kept in paho's session queue, sent after the reconnect
        raise MqttPublishError(f"publish to {topic!r} not queued: {paho.error_string(info.rc)}")

    # --- paho's network thread ------------------------------------------------------------------

    def _on_publish(
        self, topic: str, payload: bytes, mid: int, qos: int, retain: bool, dup: bool
    ) -> None:
        # The hot path: no logging, no asyncio calls unless the consumer is waiting.
        try:
            self._buffer.put(
                Inbound(
                    topic, payload, mid, qos, datetime.now(UTC), retain, dup, self._acks.connection
                )
            )
        except Exception as exc:  # one escaping here would kill paho's thread
            self._buffer.fail(MqttError(f"cannot take in message {mid} on {topic!r}: {exc!r}"))

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self._on_publish(
            message.topic,
            bytes(message.payload),
            message.mid,
            message.qos,
            message.retain,
            message.dup,
        )

    def _on_pre_connect(self, client: paho.Client, userdata: Any) -> None:
        self._acks.new_connection()

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._log.error("mqtt.connect_refused", reason=str(reason_code))
            self._settle_startup(MqttConnectError(f"broker refused the connection: {reason_code}"))
            return
        if self._session_present is not None and not flags.session_present:
            # The broker lost or expired our session: whatever it held for us is gone.
            self._log.warning("mqtt.session_lost")
        self._session_present = flags.session_present
        self._connected = True
        self._log.info(
            "mqtt.connected",
            session_present=flags.session_present,
            connection=self._acks.connection,
        )
        # Subscribe on every connect: a new session needs it, and for a resumed one it applies
        # filters added since. A resumed session already holds our subscriptions, so we are
        # ready at once and do not wait for the SUBACK. (amqtt, resuming, sends queued messages
        # and holds the SUBACK until they are acknowledged: waiting for it would deadlock.)
        if flags.session_present:
            self._ready = True
            self._settle_startup(None)
        try:
            result, mid = client.subscribe(self._subscription.request(self._protocol_v5))
        except ValueError as exc:  # an exception here would kill paho's thread
            self._subscription_failed(f"SUBSCRIBE not sent: {exc}")
            return
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._subscription_failed(f"SUBSCRIBE not sent: {paho.error_string(result)}")
            return
        self._subscribe_mid = mid

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if mid != self._subscribe_mid:
            return
        refused = self._subscription.refused(reason_codes)
        if refused is not None:
            self._subscription_failed(refused)
            return
        self._ready = True
        self._log.info("mqtt.subscribed", filters=list(self._subscription.filters))
        self._settle_startup(None)

    def _subscription_failed(self, why: str) -> None:
        self._log.error("mqtt.subscribe_failed", reason=why)
        self._ready = False
        error = MqttSubscribeError(why)
        self._settle_startup(error)  # while starting: __aenter__ raises it
        self._buffer.fail(error)  # afterwards: next_batch raises it

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._acks.new_connection()
        self._ready = False
        self._connected = False
        if self._closing:
            return
        self._log.warning("mqtt.disconnected", reason=str(reason_code))
        self._settle_startup(MqttConnectError(f"connection closed while starting: {reason_code}"))

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        self._log.warning("mqtt.reconnect_failed")

    def _on_crash(self, exc: BaseException) -> None:
        self._ready = False
        self._log.error("mqtt.network_thread_died", error=repr(exc))
        error = MqttError(f"paho's network thread died: {exc!r}")
        self._settle_startup(error)
        self._buffer.fail(error)

    def _settle_startup(self, error: MqttError | None) -> None:
        loop, future = self._loop, self._startup
        if loop is None or future is None:
            return

        def settle() -> None:
            if future.done():
                return
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

        with contextlib.suppress(RuntimeError):  # the loop is closed
            loop.call_soon_threadsafe(settle)


def _no_delay(_client: paho.Client, _userdata: Any, sock: Any) -> None:
    # A PUBACK followed at once by a device ack is two small writes: with Nagle on, the second
    # waits for the peer's delayed ACK (~40 ms on Linux) — latency an SOS ack must not pay.
    with contextlib.suppress(AttributeError, OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
