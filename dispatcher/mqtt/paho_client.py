"""paho's ``Client`` with a cheaper receive path; everything else (sessions, acks, reconnects,
keepalive, publishing) is paho's own.

Measured on paho-mqtt 2.2 (bench/mqtt_ingest.py): stock paho spends ~35 µs of CPU per received
MQTT 5 PUBLISH, a third of it building a ``Properties`` object and a ``MQTTMessage`` (with its
own ``threading.Condition``) that ingest never reads, and it makes a ``select`` plus three
``recv`` calls per message, and one socketpair write plus one ``send`` per PUBACK. So:

* ``_sock_recv`` serves paho's 1-byte and n-byte reads from one 64 KiB ``recv``;
* ``loop_read`` reads packets until the socket is drained, not one per ``select``;
* ``queue_pubacks`` sends a batch's PUBACKs as one write instead of one per message;
* ``_handle_publish`` decodes QoS 0/1 PUBLISH packets directly and hands them to ``sink``,
  skipping the properties (we set no Topic Alias Maximum, so the broker never sends aliases
  and the topic is always in the packet). QoS 2 and clients without a sink take paho's path.

They override private methods, so paho is pinned below 3 in pyproject.toml and
tests/dispatcher/mqtt exercises them against a real broker.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion

__all__ = ["FastPahoClient", "Sink"]

Sink = Callable[[str, bytes, int, int, bool, bool], None]
"""Called in the network thread with topic, payload, packet id, QoS, retain, dup."""

_PUBACK = struct.Struct("!BBH")  # type, remaining length 2, packet id: "success" in 3.1.1 and 5
_PUBACK_HEADER = 0x40
_READ_SIZE = 65_536
# After this many packets in one loop_read, return to paho's loop (to send acks and pings) as
# soon as the read buffer is empty.
_PACKETS_PER_READ = 2_000


class FastPahoClient(paho.Client):
    """``paho.Client`` whose received PUBLISH packets go to ``sink`` without paho's objects."""

    sink: Sink | None = None
    on_crash: Callable[[BaseException], None] | None = None
    """Called in the network thread if it dies of an exception (paho would only print it)."""
    _rbuf: bytes = b""
    _rpos: int = 0
    _rsock: object = None

    def _thread_main(self) -> None:
        try:
            super()._thread_main()
        except BaseException as exc:
            if self.on_crash is not None:
                self.on_crash(exc)
            raise

    def _sock_recv(self, bufsize: int) -> bytes:
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf) or self._rsock is not self._sock:
            data = super()._sock_recv(_READ_SIZE)  # raises BlockingIOError when drained
            if len(data) <= bufsize:
                self._rbuf, self._rpos = b"", 0
                return data
            self._rbuf = buf = data
            self._rsock = self._sock  # bytes left over from a closed socket are never served
            pos = 0
        end = pos + bufsize
        self._rpos = end
        return buf[pos:end]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        packets = 0
        while True:
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            packets += 1
            if packets >= _PACKETS_PER_READ and self._rpos >= len(self._rbuf):
                return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> MQTTErrorCode:
        header: int = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        sink = self.sink
        if sink is None or qos == 2:
            return super()._handle_publish()
        packet: bytes | bytearray = self._in_packet["packet"]
        try:
            end = 2 + ((packet[0] << 8) | packet[1])
            topic = packet[2:end].decode("utf-8")
            mid = 0
            if qos:
                mid = (packet[end] << 8) | packet[end + 1]
                end += 2
            if self._protocol == MQTTProtocolVersion.MQTTv5:
                length, shift = 0, 0
                while True:  # Properties Length, a variable byte integer
                    byte = packet[end]
                    end += 1
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                end += length
            if not topic or end > len(packet):
                raise ValueError("empty topic or properties past the end")
        except (IndexError, ValueError):  # UnicodeDecodeError is a ValueError
            return MQTTErrorCode.MQTT_ERR_PROTOCOL  # paho drops the connection, as for its own
        sink(topic, bytes(packet[end:]), mid, qos, bool(header & 0x01), bool(header & 0x08))
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def queue_pubacks(self, mids: Sequence[int]) -> None:
        """Queue one PUBACK per packet id as a single write: one wake-up, one ``send``.

        paho's ``ack()`` costs a socketpair write in the caller and a ``send`` in the network
        thread per message; at 10,000 messages a second that is most of the acknowledging cost.
        """
        packet = b"".join([_PUBACK.pack(_PUBACK_HEADER, 2, mid) for mid in mids])
        self._packet_queue(_PUBACK_HEADER, packet, 0, 1)
