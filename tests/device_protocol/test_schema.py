"""JSON Schema export for every message kind."""

from __future__ import annotations

import orjson

from device_protocol import (
    MAX_ALARM_CODE_LENGTH,
    MAX_ALARMS,
    MAX_HEART_RATE_BPM,
    MAX_ID_LENGTH,
    MAX_INTERVAL_S,
    MODEL_BY_KIND,
    PRINTABLE_PATTERN,
    Kind,
    json_schemas,
)


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


def test_schemas_carry_the_contracts_limits() -> None:
    """The published schemas state the limits decode enforces, so vendors can check them first."""
    schemas = json_schemas()
    alarms = schemas["evt/alarm"]["properties"]["alarms"]
    assert (alarms["maxItems"], alarms["items"]["maxLength"]) == (MAX_ALARMS, MAX_ALARM_CODE_LENGTH)
    assert alarms["items"]["pattern"] == PRINTABLE_PATTERN
    msg_id = schemas["tel/location"]["properties"]["msg_id"]
    assert (msg_id["maxLength"], msg_id["pattern"]) == (MAX_ID_LENGTH, PRINTABLE_PATTERN)
    interval = schemas["tel/heartbeat"]["properties"]["interval_s"]
    assert (interval["minimum"], interval["maximum"]) == (1, MAX_INTERVAL_S)
    bpm = schemas["tel/vitals"]["$defs"]["HeartRate"]["properties"]["bpm"]
    assert (bpm["minimum"], bpm["maximum"]) == (0, MAX_HEART_RATE_BPM)
    assert "clock_rejected" not in schemas["evt/sos"]["properties"]
