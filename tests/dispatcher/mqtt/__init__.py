"""Tests of the MQTT adapter (dispatcher/mqtt), against a real broker."""
