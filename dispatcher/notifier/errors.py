"""The notifier's error tree: what a channel raises when a message could not be handed over.

::

    NotifierError                 base; ``retryable`` tells the outbox what to do next
    ├── PermanentSendError        retryable = False: the provider refused this message for good
    │                             (4xx such as Twilio 21211 invalid 'To', 21610 unsubscribed,
    │                             20003 bad credentials). Retrying sends the same refusal.
    └── TransientSendError        retryable = True: the provider or the path to it failed for now
                                  (5xx, 429 / Twilio 20429, 21611 sender queue full, timeouts,
                                  connection refused, an unreadable answer). Retry with backoff.

Channels translate their library's errors into this tree exactly once, at the adapter, chaining the
original (``raise TransientSendError(...) from exc``), so nothing above the channel ever sees a
``twilio`` or ``requests`` type.
"""

from __future__ import annotations

__all__ = ["NotifierError", "PermanentSendError", "TransientSendError"]


class NotifierError(Exception):
    """A message was not handed over to its channel's provider.

    ``status`` is the provider's HTTP status and ``code`` its own error code (Twilio's numbered
    errors), when there was an answer at all; both are None for network failures.
    """

    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class PermanentSendError(NotifierError):
    """The provider refused the message; sending it again would be refused again."""

    retryable = False


class TransientSendError(NotifierError):
    """The send failed for a reason that may pass; try again after a backoff."""

    retryable = True
