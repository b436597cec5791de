"""The written spec's examples are real: every one decodes and keeps the invariants."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from device_protocol import Kind, parse_topic

from .frames import check_invariants, read

SPEC = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"
EXAMPLE = re.compile(r"^Topic: (\S+)\n```json\n(.*?)\n```$", re.MULTILINE | re.DOTALL)


def _examples() -> list[tuple[str, bytes]]:
    return [(topic, body.encode()) for topic, body in EXAMPLE.findall(SPEC.read_text("utf-8"))]


@pytest.mark.parametrize(("topic", "payload"), _examples())
def test_every_spec_example_decodes(topic: str, payload: bytes) -> None:
    """Each example in docs/device-protocol.md decodes on its topic and keeps the invariants."""
    check_invariants(topic, payload, read(topic, payload))


def test_every_kind_has_an_example() -> None:
    """The spec shows at least one example of every message kind."""
    assert {parse_topic(topic)[1] for topic, _ in _examples()} == set(Kind)


def test_every_json_block_is_an_example() -> None:
    """No JSON block in the spec lacks its Topic line, so none escapes the decode test."""
    text = SPEC.read_text("utf-8")
    assert text.count("```json") == len(_examples())
