"""The server's one MQTT connection per ingest lane: paho-mqtt 2 on the event loop, acked by hand.

Why paho and not aiomqtt: aiomqtt acknowledges a QoS 1 message as soon as it is queued inside
the process, so a crash loses what was queued. Here acknowledgement is manual (paho's
``manual_ack=True``): ``ack()`` sends the PUBACK only after the caller has committed the
message's effects. Everything unacknowledged when the process dies is redelivered by
the broker when the same ``client_id`` reconnects, because the session is persistent
(``clean_start=False`` plus a Session Expiry Interval on MQTT 5; ``clean_session=False`` on 3.1.1).

No network thread: paho runs on the event loop (``loop_driver``), so its callbacks, ``ack`` and
``publish`` all run on one thread. Only the blocking ``reconnect()`` (DNS, TCP, TLS) runs in a
worker thread, during which nothing else touches the client: publishes wait in a short list,
acks are void (see below). paho reconnects only inside its own loops, which we do not run, so the
supervisor task owned by this context manager does it: backoff from 1 s doubling to 30 s, the
same client id and ``clean_start=False``, so the broker resumes the session and redelivers what
was not acknowledged. ``ready`` is False from the moment the connection drops until the new one
is subscribed (or its session resumed). If paho itself raises, ``next_batch`` raises rather than
waiting forever behind a healthy-looking API.

On verified paho releases the receive path is ``paho_client.FastPahoClient`` (its private
overrides measured there: about a fifth of the public path's CPU per message), PUBACKs included;
``fast_path=False`` runs paho's public path throughout.

An ack is only valid on the connection that delivered the message: packet ids are per
connection, and after a reconnect the broker redelivers every unacknowledged message (flagged
``dup``) and reuses ids. paho's ``ack(mid, qos)`` does not check which connection a packet id
came from, so a late ack of an old delivery would acknowledge whatever now has that id, perhaps
before it is committed. Each message carries its connection number; ``ack`` drops an older one
(the redelivered copy is acked instead; ingest dedupes on ``(device_id, msg_id)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as paho
import structlog
from paho.mqtt import __version__ as paho_version
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from dispatcher.mqtt.backoff import Backoff
from dispatcher.mqtt.endpoint import BrokerEndpoint
from dispatcher.mqtt.errors import MqttConnectError, MqttError, MqttPublishError, MqttSubscribeError
from dispatcher.mqtt.inbound import Inbound, InboundBuffer
from dispatcher.mqtt.loop_driver import LoopDriver
from dispatcher.mqtt.paho_client import FastPahoClient, fast_path_verified
from dispatcher.mqtt.subscription import Subscription, check_topic

__all__ = ["MqttIngestClient"]

_log = structlog.get_logger(__name__)
SEVEN_DAYS_S = 7 * 24 * 3600
MAX_RECEIVE_MAXIMUM = 65_535  # the largest value MQTT 5's two-byte Receive Maximum can carry
TICK_S = 1.0  # how often paho's keepalive bookkeeping (loop_misc) runs
DISCONNECT_GRACE_S = 1.0  # how long a clean close waits for queued PUBACKs and the DISCONNECT
_MQTT311 = MQTTProtocolVersion.MQTTv311
_OK = MQTTErrorCode.MQTT_ERR_SUCCESS


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
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 30.0,
        fast_path: bool | None = None,
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
        self._backoff = Backoff(reconnect_min_s, reconnect_max_s)
        # None: paho_client's receive path when this paho version was verified, else paho's own.
        self._fast_path = fast_path_verified() if fast_path is None else fast_path
        if not self._fast_path and fast_path is None:
            _log.warning(
                "mqtt.fast_path_off", reason="paho version not verified", paho=paho_version
            )
        self._max_buffer = max_buffer
        self._buffer = InboundBuffer(max_buffer)
        self._client: paho.Client | None = None
        self._driver: LoopDriver | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._startup: asyncio.Future[None] | None = None
        self._changed = asyncio.Event()  # the connection opened, closed or was refused
        self._connection = 0  # bumped on every disconnect and before every connect
        self._received = 0  # messages paho delivered, ever: the driver's "reading made progress"
        self._deferred: list[tuple[str, bytes, int, bool]] = []
        self._acks: list[tuple[int, int]] = []  # fast path: (packet id, connection) to send
        self._subscribe_mid: int | None = None
        self._connecting = False
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
        persistent session, which holds the subscriptions already. False while disconnected and
        reconnecting.
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
        # Anything left from an earlier connection was never acked: the broker redelivers it.
        self._buffer = InboundBuffer(self._max_buffer)
        self._closing = False
        self._changed = asyncio.Event()
        client = self._client = self._make_client()
        self._driver = LoopDriver(
            client,
            loop,
            delivered=lambda: self._received,
            on_fault=self._on_fault,
            on_closed=self._changed.set,
            unread=client.unread if isinstance(client, FastPahoClient) else lambda: 0,
        )
        self._startup = loop.create_future()
        ep = self._endpoint
        try:
            await self._connect()
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
        supervisor = loop.create_task(self._supervise(), name=f"mqtt-{self._client_id}")
        supervisor.add_done_callback(self._supervisor_ended)
        self._supervisor = supervisor
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        client, driver = self._client, self._driver
        if client is None or driver is None:
            return
        self._closing = True
        self._ready = False
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        self._flush_acks()  # what was committed is acknowledged, not redelivered
        if self._connected and driver.open:
            # A normal DISCONNECT keeps the session (its expiry was set on CONNECT): what devices
            # publish while we are away is queued by the broker and delivered when we come back.
            # PUBACKs already queued leave before it: what was committed is not redelivered.
            client.disconnect()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DISCONNECT_GRACE_S):
                    while driver.open:
                        self._changed.clear()
                        await self._changed.wait()
        self._drop_socket()  # a broker that stopped reading: close without the DISCONNECT
        driver.unwatch()
        self._client = self._driver = None
        self._connected = False
        self._deferred.clear()
        self._acks.clear()
        self._buffer.fail(MqttError("the MQTT client is closed"))  # no waiter hangs on
        self._log.info("mqtt.closed")

    @property
    def fast_path(self) -> bool:
        """Whether paho_client's private receive path (reads, PUBLISH, PUBACKs) is in use."""
        return self._fast_path

    def _make_client(self) -> paho.Client:
        client = (FastPahoClient if self._fast_path else paho.Client)(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if self._protocol_v5 else _MQTT311,
            clean_session=None if self._protocol_v5 else False,
            manual_ack=True,
            reconnect_on_failure=False,  # the supervisor reconnects, never paho inside a read
        )
        ep = self._endpoint
        if ep.username is not None:
            client.username_pw_set(ep.username, ep.password)
        if ep.tls:
            client.tls_set_context(ssl.create_default_context())
        client.connect_timeout = self._connect_timeout_s
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message  # paho's path: every message, or QoS 2 only
        if isinstance(client, FastPahoClient):
            client.sink = self._on_publish
        return client

    def _arm(self, client: paho.Client) -> None:
        """Set the connect parameters; this also closes any open socket, here and at once."""
        ep = self._endpoint
        if self._protocol_v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self._session_expiry_s
            props.ReceiveMaximum = self._receive_maximum
            client.connect_async(
                ep.host, ep.port, self._keepalive, clean_start=False, properties=props
            )
        else:
            client.connect_async(ep.host, ep.port, self._keepalive)

    def _drop_socket(self) -> None:
        """Close the socket now, without a DISCONNECT (``connect_async`` closes it, publicly)."""
        if self._client is not None:
            self._arm(self._client)

    async def _connect(self) -> None:
        """Open a socket and send CONNECT; the CONNACK arrives later, in ``_on_connect``."""
        client, driver = self._client, self._driver
        assert client is not None and driver is not None
        self._connection += 1  # acks of earlier deliveries are void from here on
        self._connected = False
        self._arm(client)
        self._connecting = True
        attempt = asyncio.get_running_loop().run_in_executor(None, client.reconnect)
        try:
            # Blocking: DNS, TCP connect (up to connect_timeout_s), TLS handshake. Cancelling
            # waits for it, so no socket is opened behind a closed client's back.
            await asyncio.shield(attempt)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await attempt
            raise
        except (OSError, ValueError) as exc:  # ssl.SSLError and socket timeouts are OSErrors
            raise MqttConnectError(f"cannot connect to {self._endpoint.url}: {exc}") from exc
        finally:
            self._connecting = False
            self._flush_deferred(client)  # in order, before anything published from now on
        driver.watch()

    def _flush_deferred(self, client: paho.Client) -> None:
        deferred, self._deferred = self._deferred, []
        for topic, payload, qos, retain in deferred:
            try:
                self._publish(client, topic, payload, qos, retain)
            except MqttPublishError as exc:  # its caller has long returned: say so, go on
                self._log.error("mqtt.deferred_publish_failed", topic=topic, error=str(exc))

    def _supervisor_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._on_fault(exc)  # nobody would reconnect: let next_batch raise instead

    async def _supervise(self) -> None:
        """Keep the connection alive (keepalive ticks) and bring it back when it drops."""
        driver = self._driver
        assert driver is not None
        loop = asyncio.get_running_loop()
        connack_deadline: float | None = None
        while True:
            if driver.open:
                if self._connected:
                    connack_deadline = None
                elif connack_deadline is not None and loop.time() > connack_deadline:
                    self._log.warning("mqtt.no_connack", within_s=self._connect_timeout_s)
                    self._drop_socket()
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(TICK_S):
                        await self._changed.wait()
                self._changed.clear()
                driver.tick()
                continue
            delay = self._backoff.next()
            self._log.info("mqtt.reconnecting", in_s=round(delay, 2))
            await asyncio.sleep(delay)
            try:
                await self._connect()
            except MqttConnectError as exc:
                self._log.warning("mqtt.reconnect_failed", error=str(exc))
                continue
            connack_deadline = loop.time() + self._connect_timeout_s

    # --- the asyncio side -----------------------------------------------------------------------

    async def next_batch(self, max_items: int, max_wait_s: float) -> list[Inbound]:
        """Wait for one message, then gather up to ``max_items`` arriving within ``max_wait_s``.

        Raises ``MqttSubscribeError`` if a re-subscription after a reconnect was refused: an
        ingest loop that silently receives nothing is worse than a crash.
        """
        return await self._buffer.next_batch(max_items, max_wait_s)

    def ack(self, msg: Inbound) -> None:
        """Acknowledge ``msg`` (PUBACK); call only after its effects are committed.

        The PUBACKs of one loop iteration (a batch acked in a ``for`` loop) leave together, in
        one write on the fast path, when the loop next finds the socket writable. A no-op for
        QoS 0, after close, and for a message delivered on an earlier connection (the broker has
        redelivered that one on the current connection: ack that copy).
        """
        client = self._client
        if msg.qos == 0 or client is None or msg.connection != self._connection:
            return
        if msg.qos == 1 and isinstance(client, FastPahoClient):
            if not self._acks:
                asyncio.get_running_loop().call_soon(self._send_acks)
            self._acks.append((msg.mid, msg.connection))
            return
        client.ack(msg.mid, msg.qos)

    def _send_acks(self) -> None:
        """Right after the loop iteration that acked: the batch's PUBACKs leave, as one write."""
        self._flush_acks()
        if self._driver is not None:
            self._driver.flush()

    def _flush_acks(self) -> None:
        """Hand the PUBACKs acked so far to paho as one packet (fast path)."""
        acks, self._acks = self._acks, []
        client = self._client
        if not acks or not isinstance(client, FastPahoClient) or self._connecting:
            return  # closed, or reconnect() runs: these acks belong to a connection now gone
        mids = [mid for mid, connection in acks if connection == self._connection]
        if mids:
            client.queue_pubacks(mids)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Queue a publish (device acks, commands); QoS 1 survives a reconnect in paho's queue."""
        client = self._client
        if client is None:
            raise MqttPublishError("the MQTT client is not open")
        if self._connecting:  # reconnect() runs in a worker thread: leave paho alone until then
            try:
                check_topic(topic)
            except ValueError as exc:
                raise MqttPublishError(f"cannot publish to {topic!r}: {exc}") from exc
            if qos not in (1, 2):
                raise MqttPublishError(f"publish to {topic!r} not queued: not connected")
            self._deferred.append((topic, payload, qos, retain))
            return
        self._publish(client, topic, payload, qos, retain)

    def _publish(
        self, client: paho.Client, topic: str, payload: bytes, qos: int, retain: bool
    ) -> None:
        self._flush_acks()  # PUBACKs of messages committed before this publish go first
        try:
            info = client.publish(topic, payload, qos=qos, retain=retain)
        except (ValueError, TypeError) as exc:
            raise MqttPublishError(f"cannot publish to {topic!r}: {exc}") from exc
        if info.rc == _OK:
            if self._driver is not None:
                self._driver.flush()  # a device waits for this one; queued PUBACKs go with it
            return
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0:
            return  # kept in paho's session queue, sent after the reconnect
        raise MqttPublishError(f"publish to {topic!r} not queued: {paho.error_string(info.rc)}")

    # --- paho's callbacks (on the event loop's thread) -----------------------------------------

    def _on_publish(
        self, topic: str, payload: bytes, mid: int, qos: int, retain: bool, dup: bool
    ) -> None:
        # The hot path: no logging, no asyncio calls unless the consumer is waiting.
        self._received += 1
        self._buffer.put(
            Inbound(topic, payload, mid, qos, datetime.now(UTC), retain, dup, self._connection)
        )

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # a broker must refuse these; should one not, drop it loudly
            self._received += 1
            self._log.error("mqtt.topic_not_utf8", mid=message.mid)
            if message.qos:
                client.ack(message.mid, message.qos)
            return
        self._on_publish(
            topic,
            bytes(message.payload),
            message.mid,
            message.qos,
            message.retain,
            message.dup,
        )

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._changed.set()
        if reason_code.is_failure:
            self._log.error("mqtt.connect_refused", reason=str(reason_code))
            self._settle_startup(MqttConnectError(f"broker refused the connection: {reason_code}"))
            return  # paho closes the socket; the supervisor tries again after a backoff
        self._backoff.reset()
        if self._session_present is not None and not flags.session_present:
            # The broker lost or expired our session: whatever it held for us is gone.
            self._log.warning("mqtt.session_lost")
        self._session_present = flags.session_present
        self._connected = True
        self._log.info(
            "mqtt.connected", session_present=flags.session_present, connection=self._connection
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
        except ValueError as exc:  # the filters were checked when the client was built
            self._subscription_failed(f"SUBSCRIBE not sent: {exc}")
            return
        if result != _OK:
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
        self._connection += 1
        self._ready = False
        self._connected = False
        self._changed.set()
        if self._closing:
            return
        self._log.warning("mqtt.disconnected", reason=str(reason_code))
        self._settle_startup(MqttConnectError(f"connection closed while starting: {reason_code}"))

    def _on_fault(self, exc: BaseException) -> None:
        self._ready = False
        self._log.error("mqtt.paho_failed", error=repr(exc))
        error = MqttError(f"paho failed on the event loop: {exc!r}")
        self._settle_startup(error)
        self._buffer.fail(error)

    def _settle_startup(self, error: MqttError | None) -> None:
        future = self._startup
        if future is None or future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
