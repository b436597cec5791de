"""JSON Schemas of every v1 message, for device vendors and ``huyuan protocol schema``.

The schemas are generated from the same models ``decode`` validates with, so the published
contract cannot drift from what the server accepts (apart from the leniencies the models allow:
unknown fields and numbers written as strings).
"""

from __future__ import annotations

from typing import Any

from device_protocol.messages import MODEL_BY_KIND, Envelope
from device_protocol.topics import PROTOCOL_VERSION, TOPIC_ROOT, Kind, lane_of

__all__ = ["json_schemas"]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schemas() -> dict[str, dict[str, Any]]:
    """Map each kind's topic suffix (``"evt/sos"``, ...) to the JSON Schema of its message."""
    return {kind.value: _schema(kind, MODEL_BY_KIND[kind]) for kind in Kind}


def _schema(kind: Kind, model: type[Envelope]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    try:
        direction = f"device to server, {lane_of(kind)} lane"
    except ValueError:
        direction = "server to device"
    return {
        "$schema": _DIALECT,
        "x-topic": f"{TOPIC_ROOT}/{{device_id}}/{kind.value}",
        "x-protocol-version": PROTOCOL_VERSION,
        "x-direction": direction,
        **schema,
    }
