"""A TCP proxy between the ingest client and the broker, to break the connection on purpose.

``cut()`` resets every proxied connection at once (as a NAT timeout or a dead link would: no
DISCONNECT, the broker keeps the session); ``mode`` decides what happens to new connections:
``"forward"`` them, ``"refuse"`` them (accept and reset at once, as a broker that is down would),
or ``"stall"`` them (accept and say nothing: a CONNECT that never gets its CONNACK).
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Literal, Self

from dispatcher.mqtt import BrokerEndpoint

Mode = Literal["forward", "refuse", "stall"]


class TcpProxy:
    """Listens on a free 127.0.0.1 port and forwards to ``target_url``'s host and port."""

    def __init__(self, target_url: str) -> None:
        self._target = BrokerEndpoint.parse(target_url)
        self.mode: Mode = "forward"
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()
        self._port = 0

    @property
    def url(self) -> str:
        """Where the client should connect instead of the broker."""
        return f"mqtt://127.0.0.1:{self._port}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        await self._server.wait_closed()

    def cut(self) -> None:
        """Reset every open connection, both sides, without a goodbye."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode == "refuse":
            writer.transport.abort()
            return
        self._writers.add(writer)
        if self.mode == "stall":
            with contextlib.suppress(ConnectionError):
                await reader.read()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self._target.host, self._target.port
            )
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            pump = asyncio.create_task(_pump(source, sink))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy bytes one way until either side ends; then close the other side."""
    try:
        while data := await source.read(65_536):
            sink.write(data)
            await sink.drain()
    except ConnectionError:
        pass
    finally:
        sink.close()
