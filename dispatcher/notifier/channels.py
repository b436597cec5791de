"""Channels: one small interface, one class per way of reaching a person (traccar's notificators).

A channel hands one text to one recipient and says what the provider called it. It does not retry,
queue or decide who gets what: the outbox does that, using ``NotifierError.retryable`` and
:func:`backoff`. This module is the only home of ``twilio`` in the server.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, Self, runtime_checkable
from urllib.parse import urlsplit

import structlog
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from dispatcher.notifier.errors import NotifierError, PermanentSendError, TransientSendError

__all__ = [
    "Channel",
    "LogChannel",
    "SendResult",
    "TwilioSmsChannel",
    "backoff",
    "channel_from_settings",
]


def _log() -> structlog.typing.FilteringBoundLogger:
    # A fresh proxy per use: dispatcher.logs configures cache_logger_on_first_use=True, and a
    # module-level logger cached before a reconfiguration (or structlog.testing.capture_logs)
    # would keep writing through the old processors.
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)
    return logger


# Twilio answers these with a 4xx status, yet they pass: 20429 is its "too many requests" and
# 21611 means the sending number's queue is full. Retrying later is the documented remedy.
_RETRYABLE_TWILIO_CODES = frozenset({20429, 21611})


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider said when it took the message: its id (Twilio's ``SM…``) and a detail."""

    provider_id: str | None
    detail: str | None


@runtime_checkable
class Channel(Protocol):
    """Sends one text to one recipient; raises :class:`NotifierError` when it could not."""

    name: str

    async def send(self, to: str, body: str) -> SendResult:
        """Hand ``body`` to the provider for ``to`` (E.164 for SMS)."""
        ...

    async def aclose(self) -> None:
        """Release what the channel holds (connection pools); sending afterwards is an error."""
        ...


class LogChannel:
    """Writes each message as one structured log line: the fallback when no SMS provider is set."""

    name = "log"

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def send(self, to: str, body: str) -> SendResult:
        """Log the message and return a made-up id ``log-<n>``."""
        provider_id = f"log-{next(self._ids)}"
        _log().info("notifier.logged", channel=self.name, to=to, body=body, provider_id=provider_id)
        return SendResult(provider_id=provider_id, detail="logged")

    async def aclose(self) -> None:
        """Nothing to release."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class TwilioSmsChannel:
    """SMS through Twilio's Messages API, with the official (synchronous) client in a worker thread.

    ``messaging_service_sid`` wins over ``from_number`` when both are set: the service picks the
    sender. ``api_base_url`` replaces ``https://api.twilio.com`` for this instance only (a
    regional gateway, a recording proxy, the test server); the client's own ``region``/``edge``
    host rewriting is switched off so that Twilio's ``TWILIO_REGION``/``TWILIO_EDGE`` variables
    cannot redirect traffic behind our settings.

    The worker thread cannot be cancelled: a cancelled ``send`` may still reach Twilio, bounded by
    ``timeout_s``. An SMS is not idempotent, so a timeout after Twilio took the message and the
    outbox's retry may deliver it twice; for an emergency a duplicate beats a loss.
    """

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str | None,
        messaging_service_sid: str | None,
        api_base_url: str | None = None,
        timeout_s: float = 10,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("Twilio needs an account SID and an auth token")
        if not from_number and not messaging_service_sid:
            raise ValueError("Twilio needs a sender: from_number or messaging_service_sid")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if api_base_url is not None:
            parts = urlsplit(api_base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"api_base_url must be an http(s) URL, got {api_base_url!r}")
        self._sender: dict[str, str] = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_number or ""}
        )
        # twilio logs about eight unstructured INFO lines per request (URL, every header) through
        # stdlib logging; the outbox writes one structured line per outcome instead. A logger
        # outside the logging tree keeps those lines out of our output without global config.
        quiet = logging.Logger("twilio.http_client", logging.WARNING)
        self._http = TwilioHttpClient(timeout=timeout_s, logger=quiet)
        self._client: Any = Client(account_sid, auth_token, http_client=self._http)
        # ClientBase reads TWILIO_REGION / TWILIO_EDGE from os.environ and then rewrites every
        # request's host; our settings are the only source of truth, so turn that off.
        self._client.region = None
        self._client.edge = None
        if api_base_url is not None:
            # Domain.base_url is the per-client root every Api (2010-04-01) URL is built from
            # (twilio.base.domain.Domain.absolute_url); Messages live under that domain.
            self._client.api.base_url = api_base_url
        self._closed = False

    async def send(self, to: str, body: str) -> SendResult:
        """Create the message at Twilio; return its ``SM…`` sid and status (usually "queued")."""
        if self._closed:
            raise RuntimeError("TwilioSmsChannel is closed")
        try:
            message = await asyncio.to_thread(self._create, to, body)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _from_status(_as_int(exc.status), _as_int(exc.code), _describe(exc)) from exc
        except TwilioException as exc:
            raise TransientSendError(f"Twilio client error: {exc}") from exc
        except json.JSONDecodeError as exc:
            # 2xx with an unreadable body: the message may or may not exist; retrying risks a
            # duplicate, not retrying risks a lost emergency SMS. Duplicates are the lesser harm.
            raise TransientSendError("unreadable answer from Twilio") from exc
        except OSError as exc:
            # requests' RequestException derives from OSError (ConnectionError, Timeout, SSLError);
            # catching it here keeps requests out of our imports, as it has no type stubs.
            raise TransientSendError(f"cannot reach Twilio: {type(exc).__name__}: {exc}") from exc
        sid = message.sid
        status = message.status
        return SendResult(
            provider_id=str(sid) if sid else None,
            detail=str(status) if status else None,
        )

    def _create(self, to: str, body: str) -> Any:
        return self._client.messages.create(to=to, body=body, **self._sender)

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        self._closed = True
        if self._http.session is not None:
            self._http.session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _describe(exc: TwilioRestException | TwilioServiceException) -> str:
    if isinstance(exc, TwilioServiceException):
        text = f"{exc.title}: {exc.detail}" if exc.detail else str(exc.title)
    else:
        text = str(exc.msg)
    return f"Twilio HTTP {exc.status} (code {exc.code}): {text}"


def _as_int(value: object) -> int | None:
    """Twilio's error documents hold numbers, occasionally as strings; anything else is unknown."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _from_status(status: int | None, code: int | None, message: str) -> NotifierError:
    # An error document without a usable status says nothing about permanence: retry.
    retryable = (
        status is None or status >= 500 or status in (408, 429) or code in _RETRYABLE_TWILIO_CODES
    )
    kind = TransientSendError if retryable else PermanentSendError
    return kind(message, status=status, code=code)


def channel_from_settings(
    account_sid: str | None,
    auth_token: str | None,
    from_number: str | None,
    messaging_service_sid: str | None,
    api_base_url: str | None,
) -> Channel:
    """Twilio SMS when an account SID, a token and a sender are all set; the log channel when none.

    Half a Twilio configuration is refused with ValueError rather than quietly falling back to
    the log: an emergency service that believes it sends SMS and does not is the worst outcome.
    """
    sender = from_number or messaging_service_sid
    given = {"account_sid": account_sid, "auth_token": auth_token, "sender": sender}
    if all(given.values()):
        return TwilioSmsChannel(
            account_sid or "",
            auth_token or "",
            from_number,
            messaging_service_sid,
            api_base_url=api_base_url,
        )
    if any(given.values()):
        missing = ", ".join(key for key, value in given.items() if not value)
        raise ValueError(f"incomplete Twilio settings, missing: {missing}")
    _log().warning("notifier.sms_disabled", channel=LogChannel.name, reason="no Twilio settings")
    return LogChannel()


def backoff(
    attempt: int,
    *,
    base_s: float = 5,
    cap_s: float = 600,
    jitter: float | None = None,
) -> timedelta:
    """Delay before retry number ``attempt`` (1 = after the first failure): ``base_s * 2**(n-1)``,
    capped at ``cap_s``.

    Deterministic by default. Pass ``jitter`` (a number in [0, 1) from the caller's own random
    source) to spread retries of many messages: the delay becomes ``d/2 + jitter * d/2``.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    if base_s <= 0 or cap_s < base_s:
        raise ValueError(f"need 0 < base_s <= cap_s, got base_s={base_s} cap_s={cap_s}")
    # 2**63 overflows nothing in Python, but there is no point computing beyond the cap.
    exponent = min(attempt - 1, 63)
    delay = min(cap_s, base_s * 2.0**exponent)
    if jitter is not None:
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {jitter}")
        delay = delay / 2 + jitter * delay / 2
    return timedelta(seconds=delay)
