"""The decoder's fuzz target: any frame either decodes to a bounded message or is a ProtocolError.

Hypothesis builds payloads from the models' own field names (so they reach nested fields like
``location.fix_ts`` and ``heart_rate.bpm``), fills them with hostile values (huge and negative
numbers, NaN and Infinity, control characters, lone surrogates, timestamps from year 1 to 9999
with any offset, wrong types, deep nesting), and also throws raw bytes and raw topic strings.

Bounded for ``make test`` (a few hundred examples per property); for a long run::

    HUYUAN_FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/device_protocol/test_fuzz.py

A crash found here goes into ``hostile_corpus.py``, so it stays a regression test.
"""

from __future__ import annotations

import json
import os
import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from device_protocol import (
    INBOUND_KINDS,
    MODEL_BY_KIND,
    EmergencyEvent,
    Kind,
    ProtocolError,
    decode,
    topic_for,
)

from .frames import check_bounded, check_invariants, check_refusal
from .hostile_corpus import DEVICE, RECEIVED_AT, VALID

FUZZ = settings(
    max_examples=int(os.environ.get("HUYUAN_FUZZ_EXAMPLES", "200")),
    deadline=None,  # a 64 KiB payload on a loaded CI machine is not a bug
    database=None,  # no .hypothesis/ directory in the tree; a crash goes into the corpus instead
    # Hostile payloads are big and slow to build by design; the checks are about decode.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KINDS = sorted(INBOUND_KINDS)
TS = "2024-05-01T08:00:00+08:00"


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    """The message models inside a field's annotation (``Location | None`` -> [Location])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        return [model for arg in typing.get_args(annotation) for model in _nested_models(arg)]
    return []


def _paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every field of ``model`` as a dotted path, nested models included."""
    found: list[str] = []
    for name, field in model.model_fields.items():
        found.append(prefix + name)
        for nested in _nested_models(field.annotation):
            found.extend(_paths(nested, f"{prefix}{name}."))
    return found


PATHS: dict[Kind, list[str]] = {kind: _paths(MODEL_BY_KIND[kind]) for kind in KINDS}
FIELD_NAMES = sorted({path.rsplit(".", 1)[-1] for paths in PATHS.values() for path in paths})

# ---- values ------------------------------------------------------------------------------------

_offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
timestamps = st.one_of(
    st.datetimes(timezones=_offsets).map(datetime.isoformat),  # year 1 to 9999, any offset
    st.datetimes().map(datetime.isoformat),  # naive
    st.sampled_from(
        [
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59-23:59",
            "1970-01-01T00:00:00Z",
            "2024-05-01T08:00:00",
            "2024-05-01T08:00:60+08:00",
            "2024-02-30T08:00:00Z",
            "+12024-05-01T08:00:00Z",
            TS,
        ]
    ),
)
texts = st.one_of(
    st.text(max_size=80),  # any code point, control characters and lone surrogates included
    st.sampled_from(["\x00", "m\x00", "\x7f", "\x85", "\u2028", "\x1b[2J", "\ud800", "设备"]),
    st.integers(min_value=60, max_value=600).map(lambda n: "x" * n),
)
EDGES = [-1, 0, 1, 100, 101, 255, 300, 301, 400, 401, 604_800, 604_801, 10**12, 10**30]
WIDTHS = [2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1]
integers = st.one_of(st.integers(), st.sampled_from([*EDGES, *WIDTHS]))
words = st.sampled_from(
    [
        *("raised", "cancelled", "online", "offline", "gnss", "wifi", "cell", "valid"),
        *("invalid", "failed", "low_battery", "button", "accepted", DEVICE, "m-1", "1", "NaN"),
    ]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    integers,
    integers.map(str),  # vendors quote numbers
    st.floats(),  # NaN and infinities included: written as JSON literals
    st.floats().map(repr),
    texts,
    timestamps,
    words,
)
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=12))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=12,
)


def _shaped(model: type[BaseModel], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with ``model``'s field names, each present or not, each value anything at all."""
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, field in model.model_fields.items():
        nested = [_shaped(inner, depth + 1) for inner in _nested_models(field.annotation)]
        optional[name] = st.one_of(scalars, json_values, *nested) if depth < 2 else scalars
    return st.fixed_dictionaries({}, optional=optional)


def _set_path(body: dict[str, Any], path: str, value: Any, *, drop: bool) -> None:
    *parents, leaf = path.split(".")
    target: Any = body
    for part in parents:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    if drop:
        target.pop(leaf, None)
    else:
        target[leaf] = value


@st.composite
def mutated(draw: st.DrawFn, kind: Kind) -> dict[str, Any]:
    """A fully valid message of ``kind`` with one to four fields, at any depth, made hostile."""
    body: dict[str, Any] = json.loads(
        json.dumps({"v": 1, "msg_id": "m-1", "device_id": DEVICE, "ts": TS, **VALID[kind]})
    )
    targets = st.sampled_from(PATHS[kind]) | st.text(max_size=8)
    for path in draw(st.lists(targets, min_size=1, max_size=4)):
        _set_path(body, path, draw(json_values), drop=draw(st.booleans()))
    return body


@st.composite
def shaped(draw: st.DrawFn, kind: Kind) -> dict[str, Any]:
    """A message of ``kind``'s shape whose every value is drawn at random, plus unknown keys."""
    body = draw(_shaped(MODEL_BY_KIND[kind]))
    body.update(draw(st.dictionaries(keys, json_values, max_size=3)))
    return body


def _dump(value: Any, ascii_only: bool) -> bytes:
    # NaN/Infinity become the JSON literals devices send; a lone surrogate becomes invalid UTF-8
    # bytes (or, ASCII-escaped, a \\udXXX escape), as broken firmware would produce.
    text = json.dumps(value, allow_nan=True, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")


server_times = st.one_of(
    st.none(),
    st.just(RECEIVED_AT),
    st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 -- hypothesis bounds are naive; tz below
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)


def check_decode(topic: str, payload: bytes, received_at: datetime | None) -> None:
    """The property: decode returns a bounded, re-encodable message or raises ProtocolError."""
    try:
        message = decode(topic, payload, received_at=received_at)
    except ProtocolError as exc:
        event(f"refused: {type(exc).__name__}")  # --hypothesis-show-statistics shows the mix
        check_refusal(exc)
        return
    check_bounded(message)
    check_invariants(topic, payload, message)
    if isinstance(message, EmergencyEvent) and message.clock_rejected is not None:
        event("decoded, clock flagged")
        assert message.ts == received_at
    else:
        event("decoded")


# ---- the properties ----------------------------------------------------------------------------


@FUZZ
@given(data=st.data(), kind=st.sampled_from(KINDS), ascii_only=st.booleans(), at=server_times)
def test_mostly_valid_messages_with_hostile_fields(
    data: st.DataObject, kind: Kind, ascii_only: bool, at: datetime | None
) -> None:
    """A valid message of any kind, hostile in a few fields, decodes safely or is refused."""
    body = data.draw(mutated(kind))
    check_decode(topic_for(DEVICE, kind), _dump(body, ascii_only), at)


@FUZZ
@given(data=st.data(), kind=st.sampled_from(KINDS), ascii_only=st.booleans(), at=server_times)
def test_message_shaped_objects_of_anything(
    data: st.DataObject, kind: Kind, ascii_only: bool, at: datetime | None
) -> None:
    """An object with a kind's field names and arbitrary values decodes safely or is refused."""
    body = data.draw(shaped(kind))
    check_decode(topic_for(DEVICE, kind), _dump(body, ascii_only), at)


def test_the_fuzz_reaches_every_kind_and_nested_field() -> None:
    """The strategies know every inbound kind and reach nested fields such as location.fix_ts."""
    assert set(PATHS) == INBOUND_KINDS
    assert "location.fix_ts" in PATHS[Kind.SOS]
    assert "heart_rate.bpm" in PATHS[Kind.VITALS]
    assert {"alarms", "interval_s", "detail", "trigger", "seq"} <= set(FIELD_NAMES)


@FUZZ
@given(
    kind=st.sampled_from(list(Kind)),
    payload=st.one_of(st.binary(max_size=2048), json_values.map(lambda v: _dump(v, False))),
    received_at=server_times,
)
def test_raw_bytes_on_every_topic(kind: Kind, payload: bytes, received_at: datetime | None) -> None:
    """Any bytes on any of the protocol's topics decode safely or are refused."""
    check_decode(topic_for(DEVICE, kind), payload, received_at)


@FUZZ
@given(
    topic=st.one_of(
        st.text(max_size=200),
        st.text(max_size=100).map(lambda rest: "hyt/v1/d/" + rest),
        st.sampled_from([k.value for k in Kind]).flatmap(
            lambda suffix: st.text(max_size=70).map(lambda device: f"hyt/v1/d/{device}/{suffix}")
        ),
    ),
    kind=st.sampled_from(KINDS),
)
def test_any_topic_string(topic: str, kind: Kind) -> None:
    """Any topic string, with a valid payload for some kind, decodes safely or is refused."""
    body: Mapping[str, Any] = {
        "v": 1,
        "msg_id": "m-1",
        "device_id": DEVICE,
        "ts": TS,
        **VALID[kind],
    }
    check_decode(topic, _dump(dict(body), False), None)
