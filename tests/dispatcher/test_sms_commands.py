"""Helpers answer offers by SMS as people really type; no text makes the parser fail."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.sms_commands import SmsCommand, Verb, parse

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
