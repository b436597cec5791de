"""What a helper's SMS reply means, forgiving as real people type. Pure: text in, command out.

Accepted forms (``tests/dispatcher/test_sms_commands.py`` holds the table): a verb, then
optionally the six-digit offer code, with any spacing or punctuation between, in half- or
full-width characters::

    1 123456   1123456   １ １２３４５６   1,123456。   接 123456   接单   yes   1

| verb | digits | words                          |
|------|--------|--------------------------------|
| accept   | 1 | 接, 接单, 是, 好的, y, yes, ok |
| decline  | 2 | 拒, 拒绝, 不, 不去, n, no      |
| arrived  | 3 | 到, 到达, 已到, 到了           |
| done     | 4 | 好, 完成, 结束, 完, done       |

A bare verb without a code is resolved by the sender's one open offer or incident (the webhook
decides that; the sender is always identified by the ``From`` number, never by the text).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CODE_LENGTH", "SmsCommand", "Verb", "parse"]

CODE_LENGTH = 6
_MAX_TEXT = 160  # longer than any command; the rest is not read


class Verb(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    ARRIVED = "arrived"
    DONE = "done"


_DIGITS = {"1": Verb.ACCEPT, "2": Verb.DECLINE, "3": Verb.ARRIVED, "4": Verb.DONE}
# Longest first, so 接单 is read before 接 and 好的 before 好.
_WORDS: tuple[tuple[str, Verb], ...] = tuple(
    sorted(
        {
            "接单": Verb.ACCEPT,
            "接": Verb.ACCEPT,
            "是": Verb.ACCEPT,
            "好的": Verb.ACCEPT,
            "yes": Verb.ACCEPT,
            "ok": Verb.ACCEPT,
            "y": Verb.ACCEPT,
            "拒绝": Verb.DECLINE,
            "拒": Verb.DECLINE,
            "不去": Verb.DECLINE,
            "不": Verb.DECLINE,
            "no": Verb.DECLINE,
            "n": Verb.DECLINE,
            "已到": Verb.ARRIVED,
            "到达": Verb.ARRIVED,
            "到了": Verb.ARRIVED,
            "到": Verb.ARRIVED,
            "完成": Verb.DONE,
            "结束": Verb.DONE,
            "done": Verb.DONE,
            "完": Verb.DONE,
            "好": Verb.DONE,
        }.items(),
        key=lambda item: -len(item[0]),
    )
)
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass(frozen=True)
class SmsCommand:
    verb: Verb
    code: str | None = None


def parse(text: str) -> SmsCommand | None:
    """The command in ``text``, or None when it is not one (the webhook answers with help)."""
    # NFKC folds full-width digits, letters and punctuation to their ASCII forms.
    folded = unicodedata.normalize("NFKC", text[:_MAX_TEXT]).casefold()
    compact = _NOISE.sub("", folded)
    if not compact:
        return None
    verb: Verb | None = None
    rest = compact
    if compact[0] in _DIGITS:
        verb, rest = _DIGITS[compact[0]], compact[1:]
    else:
        for word, candidate in _WORDS:
            if compact.startswith(word):
                verb, rest = candidate, compact[len(word) :]
                break
    if verb is None:
        return None
    if not rest:
        return SmsCommand(verb)
    if len(rest) == CODE_LENGTH and rest.isascii() and rest.isdigit():
        return SmsCommand(verb, rest)
    return None
