"""Channels: the real twilio client against a local recording server, the log channel, backoff."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from dispatcher.notifier import (
    Channel,
    LogChannel,
    NotifierError,
    PermanentSendError,
    TransientSendError,
    TwilioSmsChannel,
    backoff,
    channel_from_settings,
)
from tests.support.twilio_server import TwilioServer

SID = "AC" + "0" * 31 + "1"
TOKEN = "secret-token"
SENDER = "+15005550006"
HELPER = "+8613800138000"
MESSAGES_PATH = f"/2010-04-01/Accounts/{SID}/Messages.json"


def twilio(server: TwilioServer, **overrides: object) -> TwilioSmsChannel:
    """A channel pointed at the recording server."""
    kwargs: dict[str, object] = {
        "from_number": SENDER,
        "messaging_service_sid": None,
        "api_base_url": server.base_url,
    }
    kwargs.update(overrides)
    return TwilioSmsChannel(SID, TOKEN, **kwargs)  # type: ignore[arg-type]


def unused_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_send_posts_exactly_the_message_and_returns_the_sid(
    twilio_server: TwilioServer,
) -> None:
    """One POST to Messages.json with To, From, Body and Basic auth; the SM sid comes back."""
    body = "【护援】紧急求助#7：王秀英 SOS button pressed\nEmergency #7: arrive by 14:35."
    async with twilio(twilio_server) as channel:
        result = await channel.send(HELPER, body)

    assert len(twilio_server.requests) == 1
    request = twilio_server.requests[0]
    assert request.method == "POST"
    assert request.path == MESSAGES_PATH
    assert request.form == {"To": HELPER, "From": SENDER, "Body": body}
    assert request.auth == (SID, TOKEN)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert result.provider_id is not None
    assert re.fullmatch(r"SM[0-9a-f]{32}", result.provider_id)
    assert result.detail == "queued"


async def test_send_returns_the_sid_twilio_answered(twilio_server: TwilioServer) -> None:
    """The result carries the sid and status from Twilio's answer, not anything made up locally."""
    twilio_server.respond_next(201, {"sid": "SM" + "ab" * 16, "status": "queued"})
    async with twilio(twilio_server) as channel:
        result = await channel.send(HELPER, "hi")
    assert result.provider_id == "SM" + "ab" * 16
    assert result.detail == "queued"


async def test_messaging_service_replaces_the_from_number(twilio_server: TwilioServer) -> None:
    """With a Messaging Service configured the request names the service and no From number."""
    service = "MG" + "1" * 32
    async with twilio(twilio_server, messaging_service_sid=service) as channel:
        result = await channel.send(HELPER, "hi")
    assert twilio_server.requests[0].form == {
        "To": HELPER,
        "MessagingServiceSid": service,
        "Body": "hi",
    }
    assert result.detail == "accepted"


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (400, 21211, "Invalid 'To' Phone Number", PermanentSendError),
        (400, 21610, "Attempt to send to unsubscribed recipient", PermanentSendError),
        (401, 20003, "Authenticate", PermanentSendError),
        (404, 20404, "The requested resource was not found", PermanentSendError),
        (
            400,
            21611,
            "This 'From' number has exceeded the maximum queued messages",
            TransientSendError,
        ),
        (429, 20429, "Too Many Requests", TransientSendError),
        (500, 20500, "Internal Server Error", TransientSendError),
        (503, 20503, "Service Unavailable", TransientSendError),
    ],
)
async def test_twilio_errors_are_translated_by_status_and_code(
    twilio_server: TwilioServer,
    status: int,
    code: int,
    message: str,
    expected: type[NotifierError],
) -> None:
    """A Twilio error answer becomes a permanent or transient error with its status and code."""
    twilio_server.fail_next(status, code, message)
    async with twilio(twilio_server) as channel:
        with pytest.raises(expected) as info:
            await channel.send(HELPER, "hi")
    assert info.value.status == status
    assert info.value.code == code
    assert info.value.retryable is (expected is TransientSendError)
    assert message in str(info.value)


async def test_invalid_number_is_permanent_and_not_retryable(twilio_server: TwilioServer) -> None:
    """Twilio's 21211 invalid 'To' number is a PermanentSendError the outbox must not retry."""
    twilio_server.fail_next(400, 21211, "Invalid 'To' Phone Number")
    async with twilio(twilio_server) as channel:
        with pytest.raises(PermanentSendError) as info:
            await channel.send("+1", "hi")
    assert info.value.retryable is False
    assert info.value.code == 21211
    assert twilio_server.requests[0].form["To"] == "+1"


async def test_problem_details_errors_are_translated_too(twilio_server: TwilioServer) -> None:
    """An RFC 9457 error document (twilio's newer shape) is translated by its status as well."""
    twilio_server.respond_next(
        400,
        {
            "type": "https://www.twilio.com/docs/errors/21211",
            "title": "Invalid 'To' Phone Number",
            "status": 400,
            "code": 21211,
            "detail": "+1 is not a valid phone number",
        },
    )
    async with twilio(twilio_server) as channel:
        with pytest.raises(PermanentSendError) as info:
            await channel.send("+1", "hi")
    assert info.value.code == 21211
    assert "+1 is not a valid phone number" in str(info.value)


async def test_error_document_without_a_usable_status_is_transient(
    twilio_server: TwilioServer,
) -> None:
    """An error whose document hides its status is retried: permanence cannot be shown."""
    twilio_server.respond_next(
        400, {"type": "about:blank", "title": "Odd", "status": "n/a", "code": "n/a"}
    )
    async with twilio(twilio_server) as channel:
        with pytest.raises(TransientSendError) as info:
            await channel.send(HELPER, "hi")
    assert (info.value.status, info.value.code) == (None, None)


async def test_send_writes_no_unstructured_twilio_log_lines(
    twilio_server: TwilioServer, caplog: pytest.LogCaptureFixture
) -> None:
    """twilio's per-request INFO lines (URL, headers) stay out of the process log."""
    with caplog.at_level(logging.DEBUG):
        async with twilio(twilio_server) as channel:
            await channel.send(HELPER, "hi")
    assert [r for r in caplog.records if r.name.startswith("twilio")] == []


async def test_503_without_json_is_transient(twilio_server: TwilioServer) -> None:
    """A 503 with an HTML body (a proxy in front of Twilio) is a retryable TransientSendError."""
    twilio_server.respond_next(503, "<html>Service Unavailable</html>")
    async with twilio(twilio_server) as channel:
        with pytest.raises(TransientSendError) as info:
            await channel.send(HELPER, "hi")
    assert info.value.retryable is True
    assert info.value.status == 503


async def test_unreadable_success_is_transient(twilio_server: TwilioServer) -> None:
    """A 201 whose body is not JSON is retried: a duplicate SMS is better than a lost one."""
    twilio_server.respond_next(201, "not json")
    async with twilio(twilio_server) as channel:
        with pytest.raises(TransientSendError):
            await channel.send(HELPER, "hi")


async def test_connection_refused_is_transient() -> None:
    """Nobody listening at the base URL is a retryable TransientSendError without a status."""
    channel = TwilioSmsChannel(SID, TOKEN, SENDER, None, f"http://127.0.0.1:{unused_port()}")
    async with channel:
        with pytest.raises(TransientSendError) as info:
            await channel.send(HELPER, "hi")
    assert info.value.retryable is True
    assert info.value.status is None
    assert isinstance(info.value.__cause__, OSError)


async def test_timeout_is_transient(twilio_server: TwilioServer) -> None:
    """A provider slower than timeout_s is a retryable TransientSendError."""
    twilio_server.respond_next(201, {"sid": "SM1", "status": "queued"}, delay_s=5)
    async with twilio(twilio_server, timeout_s=0.2) as channel:
        with pytest.raises(TransientSendError):
            await channel.send(HELPER, "hi")


async def test_send_does_not_block_the_event_loop(twilio_server: TwilioServer) -> None:
    """While Twilio takes its time the event loop keeps running other tasks."""
    twilio_server.respond_next(201, {"sid": "SM1", "status": "queued"}, delay_s=0.3)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async with twilio(twilio_server) as channel:
        ticking = asyncio.create_task(ticker())
        try:
            result = await channel.send(HELPER, "hi")
        finally:
            ticking.cancel()
            with pytest.raises(asyncio.CancelledError):
                await ticking
    assert result.provider_id == "SM1"
    assert ticks >= 10


async def test_twilio_region_variables_cannot_redirect_sends(
    twilio_server: TwilioServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TWILIO_REGION / TWILIO_EDGE in the environment do not rewrite the configured base URL."""
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    async with twilio(twilio_server) as channel:
        await channel.send(HELPER, "hi")
    assert len(twilio_server.requests) == 1


async def test_closed_channel_refuses_to_send(twilio_server: TwilioServer) -> None:
    """Sending after aclose is a programming error, raised before any request is made."""
    channel = twilio(twilio_server)
    await channel.aclose()
    with pytest.raises(RuntimeError):
        await channel.send(HELPER, "hi")
    assert twilio_server.requests == []


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"from_number": None}, "sender"),
        ({"api_base_url": "127.0.0.1:8080"}, "api_base_url"),
        ({"timeout_s": 0}, "timeout_s"),
    ],
)
def test_twilio_channel_rejects_bad_configuration(
    overrides: dict[str, object], complaint: str
) -> None:
    """A channel that could never send refuses to be built, naming what is wrong."""
    kwargs: dict[str, object] = {"from_number": SENDER, "messaging_service_sid": None}
    kwargs.update(overrides)
    with pytest.raises(ValueError, match=complaint):
        TwilioSmsChannel(SID, TOKEN, **kwargs)  # type: ignore[arg-type]


async def test_default_base_url_is_twilio() -> None:
    """Without api_base_url the client keeps Twilio's own https://api.twilio.com."""
    async with TwilioSmsChannel(SID, TOKEN, SENDER, None) as channel:
        assert channel._client.api.base_url == "https://api.twilio.com"


async def test_log_channel_logs_one_line_and_returns_ids() -> None:
    """The log channel writes one structured line per message and numbers its ids log-1, log-2."""
    with capture_logs() as logs:
        async with LogChannel() as channel:
            first = await channel.send(HELPER, "第一条")
            second = await channel.send(HELPER, "second")
    assert (first.provider_id, second.provider_id) == ("log-1", "log-2")
    assert [(line["to"], line["body"], line["provider_id"]) for line in logs] == [
        (HELPER, "第一条", "log-1"),
        (HELPER, "second", "log-2"),
    ]


async def test_channels_satisfy_the_protocol(twilio_server: TwilioServer) -> None:
    """Both channels are Channels, with distinct names."""
    async with twilio(twilio_server) as sms, LogChannel() as log:
        assert isinstance(sms, Channel)
        assert isinstance(log, Channel)
        assert {sms.name, log.name} == {"twilio", "log"}


async def test_settings_with_sid_token_and_number_pick_twilio(twilio_server: TwilioServer) -> None:
    """Complete Twilio settings give a Twilio channel that sends to the configured base URL."""
    channel = channel_from_settings(SID, TOKEN, SENDER, None, twilio_server.base_url)
    try:
        assert isinstance(channel, TwilioSmsChannel)
        await channel.send(HELPER, "hi")
    finally:
        await channel.aclose()
    assert twilio_server.requests[0].form["From"] == SENDER


async def test_settings_with_a_messaging_service_pick_twilio() -> None:
    """A Messaging Service SID is a sender too."""
    channel = channel_from_settings(SID, TOKEN, None, "MG" + "1" * 32, None)
    try:
        assert isinstance(channel, TwilioSmsChannel)
    finally:
        await channel.aclose()


def test_no_settings_pick_the_log_channel_and_say_so() -> None:
    """Without any Twilio settings the log channel is used, with a warning in the log."""
    with capture_logs() as logs:
        channel = channel_from_settings(None, None, None, None, None)
    assert isinstance(channel, LogChannel)
    assert [line["log_level"] for line in logs] == ["warning"]


@pytest.mark.parametrize(
    ("sid", "token", "number", "missing"),
    [
        (SID, None, SENDER, "auth_token"),
        (SID, TOKEN, None, "sender"),
        (None, None, SENDER, "account_sid, auth_token"),
    ],
)
def test_half_a_twilio_configuration_is_refused(
    sid: str | None, token: str | None, number: str | None, missing: str
) -> None:
    """Partial Twilio settings raise instead of silently logging SMS that never go out."""
    with pytest.raises(ValueError, match=missing):
        channel_from_settings(sid, token, number, None, None)


@pytest.mark.parametrize(
    ("attempt", "seconds"),
    [(1, 5), (2, 10), (3, 20), (4, 40), (7, 320), (8, 600), (9, 600), (10_000, 600)],
)
def test_backoff_doubles_then_caps(attempt: int, seconds: float) -> None:
    """Retry delays double from base_s and stop growing at cap_s."""
    assert backoff(attempt) == timedelta(seconds=seconds)


def test_backoff_never_shrinks() -> None:
    """Each retry waits at least as long as the one before."""
    delays = [backoff(n, base_s=1, cap_s=100) for n in range(1, 40)]
    assert delays == sorted(delays)
    assert delays[-1] == timedelta(seconds=100)


def test_backoff_jitter_stays_within_half_to_full_delay() -> None:
    """Injected jitter spreads the delay between half and all of the deterministic value."""
    assert backoff(3, jitter=0.0) == timedelta(seconds=10)
    assert backoff(3, jitter=0.5) == timedelta(seconds=15)
    assert timedelta(seconds=10) <= backoff(3, jitter=0.999) < timedelta(seconds=20)


@pytest.mark.parametrize(
    ("attempt", "kwargs", "complaint"),
    [
        (0, {}, "attempt"),
        (1, {"base_s": 0}, "base_s"),
        (1, {"base_s": 10, "cap_s": 5}, "cap_s"),
        (1, {"jitter": 1.0}, "jitter"),
    ],
)
def test_backoff_rejects_nonsense(attempt: int, kwargs: dict[str, float], complaint: str) -> None:
    """Attempts count from 1, the base is positive and below the cap, jitter is in [0, 1)."""
    with pytest.raises(ValueError, match=complaint):
        backoff(attempt, **kwargs)


def test_error_tree() -> None:
    """Permanent and transient errors share the NotifierError base and differ in retryable."""
    assert issubclass(PermanentSendError, NotifierError)
    assert issubclass(TransientSendError, NotifierError)
    assert PermanentSendError("x").retryable is False
    assert TransientSendError("x").retryable is True
