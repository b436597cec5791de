"""JSON Schema export for every message kind."""

from __future__ import annotations

import orjson

from device_protocol import MODEL_BY_KIND, Kind, json_schemas


def test_every_kind_has_a_schema() -> None:
    """The export has one schema per kind, keyed by the kind's topic suffix."""
    assert set(json_schemas()) == {kind.value for kind in Kind}


def test_schemas_require_the_envelope() -> None:
    """Every schema requires v, msg_id, device_id and ts."""
    for schema in json_schemas().values():
        assert {"v", "msg_id", "device_id", "ts"} <= set(schema["required"])


def test_schemas_describe_every_field_of_their_model() -> None:
    """A schema lists exactly the fields of the model decode uses for that kind."""
    schemas = json_schemas()
    for kind, model in MODEL_BY_KIND.items():
        assert set(schemas[kind.value]["properties"]) == set(model.model_fields)


def test_schemas_carry_topic_and_direction() -> None:
    """Each schema names its topic pattern and which way it travels."""
    schemas = json_schemas()
    assert schemas["evt/sos"]["x-topic"] == "hyt/v1/d/{device_id}/evt/sos"
    assert schemas["evt/sos"]["x-direction"] == "device to server, emergency lane"
    assert schemas["ack"]["x-direction"] == "server to device"


def test_schemas_are_plain_json() -> None:
    """The export serialises to JSON as the CLI prints it."""
    assert orjson.loads(orjson.dumps(json_schemas())) == json_schemas()
