"""A local stand-in for Twilio's Messages API that records what the real twilio client sends it.

``twilio_server`` serves ``POST /2010-04-01/Accounts/{sid}/Messages.json`` on 127.0.0.1 at a free
port. Point ``TwilioSmsChannel(api_base_url=twilio_server.base_url)`` at it, then read
``twilio_server.requests``. By default every message is accepted with a Twilio-shaped 201; queue
other answers with ``twilio_server.respond_next(status, body)`` (one per request, in order).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl

import pytest

_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    form: dict[str, str]
    headers: dict[str, str]
    auth: tuple[str, str] | None
    """Decoded HTTP Basic credentials (username, password), None without them."""


@dataclass(frozen=True)
class CannedResponse:
    """An answer queued by a test: status, JSON (or raw text) body, and an optional delay."""

    status: int
    body: dict[str, Any] | str | None = None
    delay_s: float = 0.0


@dataclass
class TwilioServer:
    """The running fake: where it listens, what it received, what it will answer next."""

    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    _queue: deque[CannedResponse] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def respond_next(
        self, status: int, body: dict[str, Any] | str | None = None, *, delay_s: float = 0.0
    ) -> None:
        """Answer the next request (after any already queued) with this status and body."""
        with self._lock:
            self._queue.append(CannedResponse(status, body, delay_s))

    def fail_next(self, status: int, code: int, message: str) -> None:
        """Answer the next request with a Twilio error document (legacy v2010 shape)."""
        self.respond_next(status, twilio_error(status, code, message))

    def _record(self, request: RecordedRequest) -> CannedResponse | None:
        with self._lock:
            self.requests.append(request)
            return self._queue.popleft() if self._queue else None


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    """The JSON Twilio's 2010-04-01 API returns for an error."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _message_created(account_sid: str, form: dict[str, str]) -> dict[str, Any]:
    sid = "SM" + uuid.uuid4().hex
    now = formatdate(usegmt=True)
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": form.get("Body", ""),
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "accepted" if "MessagingServiceSid" in form else "queued",
        "subresource_uris": {
            "media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"
        },
        "to": form.get("To"),
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
    }


class _Server(ThreadingHTTPServer):
    recorder: TwilioServer


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""

    def _handle(self) -> None:
        recorder = cast(_Server, self.server).recorder
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            form=form,
            headers=dict(self.headers.items()),
            auth=_basic_auth(self.headers.get("Authorization")),
        )
        canned = recorder._record(request)
        if canned is not None:
            if canned.delay_s and recorder._stopping.wait(canned.delay_s):
                return
            self._reply(canned.status, canned.body)
            return
        match = _MESSAGES_PATH.match(self.path)
        if self.command != "POST" or match is None:
            self._reply(
                404, twilio_error(404, 20404, f"The requested resource {self.path} was not found")
            )
        elif request.auth is None:
            self._reply(401, twilio_error(401, 20003, "Authenticate"))
        else:
            self._reply(201, _message_created(match["sid"], form))

    def _reply(self, status: int, body: dict[str, Any] | str | None) -> None:
        payload = body if isinstance(body, str) else json.dumps(body) if body is not None else ""
        data = payload.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to tell it


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    return user, password


@pytest.fixture
def twilio_server() -> Iterator[TwilioServer]:
    """A recording Twilio Messages API on 127.0.0.1, stopped (threads joined) after the test."""
    recorder = TwilioServer()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.recorder = recorder
    host, port = server.server_address[:2]
    recorder.base_url = f"http://{host!s}:{port}"
    thread = threading.Thread(
        # A short poll interval makes shutdown() return in milliseconds, not half a second.
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},
        name="twilio-fake",
        daemon=True,
    )
    thread.start()
    try:
        yield recorder
    finally:
        recorder._stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
