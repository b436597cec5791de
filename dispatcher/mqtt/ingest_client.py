"""The server's one MQTT connection per ingest lane: paho-mqtt 2 behind a small asyncio adapter.

Why paho and not aiomqtt: aiomqtt acknowledges a QoS 1 message as soon as it is queued inside
the process, so a crash loses what was queued. Here acknowledgement is manual: ``ack()`` sends the
PUBACK only after the caller has committed the message's effects. Everything unacknowledged when
the process dies is redelivered by the broker when the same ``client_id`` reconnects, because the
session is persistent (``clean_start=False`` plus a Session Expiry Interval on MQTT 5;
``clean_session=False`` on 3.1.1).

Threads: paho's network thread (``loop_start``) runs the callbacks; it only appends to an
``InboundBuffer`` and flips flags. The asyncio side calls ``next_batch``, ``ack`` and ``publish``;
paho's ``ack``/``publish`` only append to its outgoing deque and poke its socketpair, which is
thread-safe.

An ack is only valid on the connection that delivered the message: packet ids are per session
and the broker reuses them. After a reconnect the broker redelivers every unacknowledged message
with a fresh delivery on the new connection, so an ack of the old delivery is dropped (it could
otherwise acknowledge an unrelated message that reused the id). Duplicates are expected under
QoS 1; ingest dedupes on (device_id, msg_id).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import threading
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
from paho.mqtt.subscribeoptions import SubscribeOptions

from dispatcher.mqtt.endpoint import BrokerEndpoint
from dispatcher.mqtt.errors import MqttConnectError, MqttError, MqttPublishError, MqttSubscribeError
from dispatcher.mqtt.inbound import Inbound, InboundBuffer
from dispatcher.mqtt.paho_client import FastPahoClient

__all__ = ["MqttIngestClient"]

_log = structlog.get_logger(__name__)
_GROUP = re.compile(r"^[^/+#]+$")
SEVEN_DAYS_S = 7 * 24 * 3600
_RETAIN_IF_NEW = SubscribeOptions.RETAIN_SEND_IF_NEW_SUB
_MQTT311 = MQTTProtocolVersion.MQTTv311
MAX_RECEIVE_MAXIMUM = 65_535  # the largest value MQTT 5's two-byte Receive Maximum can carry


def _check_filter(topic_filter: str) -> None:
    # Checked here: paho raises ValueError from subscribe(), which runs in its network thread.
    levels = topic_filter.split("/")
    if (
        not topic_filter
        or "\0" in topic_filter
        or len(topic_filter.encode()) > 65_535
        or any(("+" in lv or "#" in lv) and len(lv) > 1 for lv in levels)
        or "#" in levels[:-1]
    ):
        raise ValueError(f"bad MQTT topic filter {topic_filter!r}")


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
        if not filters:
            raise ValueError("at least one topic filter is needed")
        for topic_filter in filters:
            _check_filter(topic_filter)
        if shared_group is not None and not _GROUP.match(shared_group):
            raise ValueError(f"bad shared-subscription group {shared_group!r}")
        # Receive Maximum caps the unacknowledged QoS 1 messages the broker sends us at once. It is
        # the throughput ceiling under manual ack (the broker waits for acks past it), and it is
        # what bounds the buffer, so it may not exceed it.
        receive_maximum = receive_maximum or min(MAX_RECEIVE_MAXIMUM, max_buffer)
        if not 1 <= receive_maximum <= min(MAX_RECEIVE_MAXIMUM, max_buffer):
            raise ValueError("receive_maximum must be within 1..min(65535, max_buffer)")
        self._endpoint = BrokerEndpoint.parse(url)
        self._client_id = client_id
        self._subscriptions = tuple(
            f"$share/{shared_group}/{f}" if shared_group else f for f in filters
        )
        self._session_expiry_s = session_expiry_s
        self._keepalive = keepalive
        self._protocol_v5 = protocol_v5
        self._receive_maximum = receive_maximum
        self._connect_timeout_s = connect_timeout_s
        self._buffer = InboundBuffer(max_buffer)
        self._client: FastPahoClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._startup: asyncio.Future[None] | None = None
        # Guards ``_connection`` against an ack racing a reconnect (see the module docstring).
        self._ack_lock = threading.Lock()
        self._connection = 0
        self._pending_acks: list[tuple[int, int]] = []  # (packet id, connection)
        self._flush_scheduled = False
        self._subscribe_mid: int | None = None
        self._connected = False
        self._ready = False
        self._closing = False
        self._session_present: bool | None = None
        self._log = _log.bind(client_id=client_id, broker=self._endpoint.url)

    # --- what the server reads -----------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True only while connected and every filter is subscribed at QoS 1 (for /readyz)."""
        return self._ready

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """The filters as sent to the broker (``$share/{group}/…`` when a group is set)."""
        return self._subscriptions

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
        self._buffer.bind(loop)
        self._startup = loop.create_future()
        self._closing = False
        client = self._client = self._make_client()
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
        self._flush_acks()  # what was committed is acknowledged, not redelivered
        self._closing = True
        self._ready = False
        # A normal DISCONNECT keeps the session (its expiry was set on CONNECT): what devices
        # publish while we are away is queued by the broker and delivered when we come back.
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)
        # Close the socket and paho's wake-up socketpair now rather than whenever the GC runs.
        client._reset_sockets()
        self._client = None
        self._connected = False
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
        if msg.qos == 0 or self._client is None:
            return
        if msg.qos == 2:  # never under our QoS 1 subscriptions; paho's own path
            with self._ack_lock:
                if msg.connection == self._connection:
                    self._client.ack(msg.mid, msg.qos)
            return
        self._pending_acks.append((msg.mid, msg.connection))
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush_acks)

    def _flush_acks(self) -> None:
        self._flush_scheduled = False
        pending, self._pending_acks = self._pending_acks, []
        client = self._client
        if client is None or not pending:
            return
        with self._ack_lock:
            current = self._connection
            mids = [mid for mid, connection in pending if connection == current]
            if mids:
                client.queue_pubacks(mids)

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
                Inbound(topic, payload, mid, qos, datetime.now(UTC), retain, dup, self._connection)
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
        with self._ack_lock:
            self._connection += 1

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
            "mqtt.connected", session_present=flags.session_present, connection=self._connection
        )
        if self._protocol_v5:
            # Retained messages only for a new subscription, not on every reconnect.
            options = SubscribeOptions(qos=1, retainHandling=_RETAIN_IF_NEW)
            result, mid = client.subscribe([(f, options) for f in self._subscriptions])
        else:
            result, mid = client.subscribe([(f, 1) for f in self._subscriptions])
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
        refused = [
            f"{flt} ({code})"
            for flt, code in zip(self._subscriptions, reason_codes, strict=False)
            if code.is_failure or code.value < 1  # granted QoS 0 would mean no acknowledgement
        ]
        if refused or len(reason_codes) != len(self._subscriptions):
            self._subscription_failed(f"broker refused {', '.join(refused) or 'a filter'}")
            return
        self._ready = True
        self._log.info("mqtt.subscribed", filters=list(self._subscriptions))
        self._settle_startup(None)

    def _subscription_failed(self, why: str) -> None:
        self._log.error("mqtt.subscribe_failed", reason=why)
        error = MqttSubscribeError(why)
        if self._startup is not None:
            self._settle_startup(error)
        else:
            self._buffer.fail(error)

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._ack_lock:
            self._connection += 1
        self._ready = False
        self._connected = False
        if self._closing:
            return
        self._log.warning("mqtt.disconnected", reason=str(reason_code))
        self._settle_startup(MqttConnectError(f"connection closed while starting: {reason_code}"))

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        self._log.warning("mqtt.reconnect_failed")

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
