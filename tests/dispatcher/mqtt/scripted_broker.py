"""A hand-written fake broker speaking just enough MQTT 5 to refuse what a real one will not.

Mosquitto 2.0.11 grants every SUBSCRIBE (its ACLs filter at delivery, never in the SUBACK), so
the refusals the adapter must translate are scripted here: a CONNACK reason code, SUBACK reason
codes, or silence.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

_CONNECT, _SUBSCRIBE = 0x10, 0x80


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return header & 0xF0, await reader.readexactly(length)


@contextlib.asynccontextmanager
async def scripted_broker(
    *, connack_reason: int | None = 0x00, suback_reasons: bytes | None = b"\x01"
) -> AsyncIterator[str]:
    """Serve on a free port; yield its URL. None means never answer that packet."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            kind, _ = await _read_packet(reader)
            assert kind == _CONNECT
            if connack_reason is None:
                await reader.read()  # say nothing until the client gives up
                return
            writer.write(bytes([0x20, 3, 0x00, connack_reason, 0x00]))  # no properties
            kind, body = await _read_packet(reader)
            assert kind == _SUBSCRIBE
            if suback_reasons is not None:
                payload = body[:2] + b"\x00" + suback_reasons  # packet id, no properties
                writer.write(bytes([0x90, len(payload)]) + payload)
            await reader.read()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()
