"""The private overrides of paho kept, because ``make bench`` says so: a cheaper receive path.

Everything else is paho's public API: the network loop (``loop_driver``), ``manual_ack=True``,
``connect_async``/``reconnect``, publishing. Measured on paho-mqtt 2.2 (docs/broker.md has the
figures): paho's public path costs ~55 µs of CPU per received MQTT 5 PUBLISH on the event loop,
this one ~12 µs, and the whole server commits ~15 % fewer telemetry messages per CPU second with
only the first override below than with all three. Issue 8's rule was to keep them only if the
public path lost more than 10 %. Where paho's time goes, and what each override skips:

* ``_handle_publish``: paho builds a ``Properties`` object (~20 µs, mostly string handling for
  property names) and an ``MQTTMessage`` with its own ``threading.Condition`` per message, none
  of which ingest reads. Here QoS 0/1 PUBLISH packets are decoded directly and handed to
  ``sink``, skipping the properties: we set no Topic Alias Maximum, so the broker never sends an
  alias and the topic is always in the packet. QoS 2, and a client without a sink, take paho's
  path.
* ``_sock_recv``: paho reads each packet with three or four ``recv`` calls (one byte of header,
  the length byte by byte, the body); here they are served from one 64 KiB ``recv``. Those bytes
  are invisible to the selector, so ``unread()`` tells the loop driver to come back for them.
* ``queue_pubacks``: paho's ``ack()`` queues one packet per PUBACK and ``loop_write`` sends each
  with its own ``send``; on loopback every ``send`` also runs the broker side's TCP receive in our
  process. Here a batch of PUBACKs is one packet, one ``send``.

They read or call five private names (``_handle_publish``, ``_in_packet``, ``_sock_recv``,
``_sock``, ``_packet_queue``), so they are used only with paho releases they were verified
against (``VERIFIED_PAHO``; tests/dispatcher/mqtt/test_paho_client.py pins them frame by frame
against paho's own decoding). On any other release the ingest client runs paho's public path,
slower but correct, and logs that it does; that is why pyproject.toml no longer caps paho below
2.3.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

import paho.mqtt.client as paho
from paho.mqtt import __version__ as paho_version
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion

__all__ = ["VERIFIED_PAHO", "FastPahoClient", "Sink", "fast_path_verified"]

Sink = Callable[[str, bytes, int, int, bool, bool], None]
"""Called on the event loop with topic, payload, packet id, QoS, retain, dup."""

VERIFIED_PAHO = ("2.1.", "2.2.")
"""paho-mqtt releases whose internals these overrides were checked against."""

_PUBACK = struct.Struct("!BBH")  # type, remaining length 2, packet id: "success" in 3.1.1 and 5
_PUBACK_HEADER = 0x40
_READ_SIZE = 65_536


def fast_path_verified(version: str = paho_version) -> bool:
    """Whether the installed paho is one the fast receive path was verified against."""
    return version.startswith(VERIFIED_PAHO)


class FastPahoClient(paho.Client):
    """``paho.Client`` with buffered reads, PUBLISH packets to ``sink``, PUBACKs in batches."""

    sink: Sink | None = None
    _rbuf: bytes = b""
    _rpos: int = 0
    _rsock: object = None

    def unread(self) -> int:
        """Bytes received from the current socket and not yet parsed (the selector can't tell)."""
        if self._rsock is not self._sock:
            return 0
        return len(self._rbuf) - self._rpos

    def queue_pubacks(self, mids: Sequence[int]) -> None:
        """Queue one PUBACK per packet id as a single packet: one ``send`` for the batch."""
        packet = b"".join([_PUBACK.pack(_PUBACK_HEADER, 2, mid) for mid in mids])
        self._packet_queue(_PUBACK_HEADER, packet, 0, 1)

    def _sock_recv(self, bufsize: int) -> bytes:
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf) or self._rsock is not self._sock:
            data: bytes = super()._sock_recv(_READ_SIZE)  # raises BlockingIOError when drained
            if len(data) <= bufsize:
                self._rbuf, self._rpos = b"", 0
                return data
            self._rbuf = buf = data
            self._rsock = self._sock  # bytes left over from a closed socket are never served
            pos = 0
        end = pos + bufsize
        self._rpos = end
        return buf[pos:end]

    def _handle_publish(self) -> MQTTErrorCode:
        header: int = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        sink = self.sink
        if sink is None or qos == 2:
            handled: MQTTErrorCode = super()._handle_publish()
            return handled
        packet: bytes | bytearray = self._in_packet["packet"]
        try:
            end = 2 + ((packet[0] << 8) | packet[1])
            topic = packet[2:end].decode("utf-8")
            mid = 0
            if qos:
                mid = (packet[end] << 8) | packet[end + 1]
                end += 2
            if self.protocol == MQTTProtocolVersion.MQTTv5:
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
        return MQTTErrorCode.MQTT_ERR_SUCCESS  # manual ack only: the PUBACK waits for ack()
