"""Helpers answer offers by SMS as people really type; no text makes the parser fail."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.sms_commands import _WORDS, SmsCommand, Verb, parse

ACCEPTED = [
    ("1 123456", SmsCommand(Verb.ACCEPT, "123456")),
    ("1123456", SmsCommand(Verb.ACCEPT, "123456")),
    ("１ １２３４５６", SmsCommand(Verb.ACCEPT, "123456")),
    ("1,123456。", SmsCommand(Verb.ACCEPT, "123456")),
    ("  1\u3000123456 ", SmsCommand(Verb.ACCEPT, "123456")),
    ("接 123456", SmsCommand(Verb.ACCEPT, "123456")),
    ("接单", SmsCommand(Verb.ACCEPT)),
    ("YES", SmsCommand(Verb.ACCEPT)),
    ("1", SmsCommand(Verb.ACCEPT)),
    ("好的", SmsCommand(Verb.ACCEPT)),
    ("2 654321", SmsCommand(Verb.DECLINE, "654321")),
    ("拒绝", SmsCommand(Verb.DECLINE)),
    ("no", SmsCommand(Verb.DECLINE)),
    ("3 123456", SmsCommand(Verb.ARRIVED, "123456")),
    ("到了！", SmsCommand(Verb.ARRIVED)),
    ("已到 123456", SmsCommand(Verb.ARRIVED, "123456")),
    ("4-123456", SmsCommand(Verb.DONE, "123456")),
    ("好", SmsCommand(Verb.DONE)),
    ("完成", SmsCommand(Verb.DONE)),
]
REFUSED = ["", "   ", "hello", "5 123456", "1 12345", "1 1234567", "接 abc", "？", "1 １２３٤٥٦"]


@pytest.mark.parametrize(("text", "command"), ACCEPTED)
def test_every_accepted_form_reads_as_its_command(text: str, command: SmsCommand) -> None:
    """Each form in the table (digits, words, full width, punctuation) gives its command."""
    assert parse(text) == command


@pytest.mark.parametrize("text", REFUSED)
def test_anything_else_is_not_a_command(text: str) -> None:
    """Unknown text, wrong digits or a malformed code is not read as a command (help instead)."""
    assert parse(text) is None


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_no_text_makes_the_parser_fail(text: str) -> None:
    """Any text at all gives a command or None; a code, when read, is six ASCII digits."""
    command = parse(text)
    if command is not None and command.code is not None:
        assert len(command.code) == 6 and command.code.isascii() and command.code.isdigit()


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


_LEADS = [(digit, verb) for digit, verb in zip("1234", list(Verb), strict=True)] + [
    (word, verb) for word, verb in _WORDS
]


@settings(max_examples=500, deadline=None)
@given(
    lead=st.sampled_from(_LEADS),
    code=st.text("0123456789", min_size=6, max_size=6) | st.none(),
    before=st.text(" \u3000", max_size=2),
    between=st.text(" ,.-:、，。：\u3000", max_size=3),
    after=st.text(" .!?。！？", max_size=2),
    full_width=st.booleans(),
    upper=st.booleans(),
)
def test_every_verb_reads_the_same_however_it_is_spaced_punctuated_or_typed(
    lead: tuple[str, Verb],
    code: str | None,
    before: str,
    between: str,
    after: str,
    full_width: bool,
    upper: bool,
) -> None:
    """Each digit and word, with or without a code, any spacing, punctuation, width or case."""
    word, verb = lead
    text = before + (word.upper() if upper else word) + (between + code if code else "") + after
    if full_width:
        text = _full_width(text)
    assert parse(text) == SmsCommand(verb, code)
