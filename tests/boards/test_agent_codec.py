"""The value escapes of the agent protocol, host side, and the agent's own encoder."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

from harness.agent import codec
from harness.boards.inventory import ROOT

spec = importlib.util.spec_from_file_location("honch_agent_under_test", ROOT / "harness/agent/honch_agent.py")
honch_agent = importlib.util.module_from_spec(spec)
spec.loader.exec_module(honch_agent)

VALUES = [
    None, True, False, 0, -2**63, 2**64 - 1, 1.5, "", "h\u00e9llo", b"", b"\x00\xff", bytearray(b"x"),
    (), (1, "a"), [1, [2, [3]]], {"k": {"n": [None]}}, {1: "int key"}, {(1, 2): "tuple key"},
    {"$hil": "a user key that looks like an escape"}, float("inf"), float("-inf"),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_host_encode_device_decode_device_encode_host_decode(value):
    wire = json.loads(json.dumps(codec.encode(value)))
    on_device = honch_agent.Agent().decode_value(wire)
    assert on_device == value and type(on_device) is type(value)
    back = codec.decode(json.loads(json.dumps(honch_agent.encode_value(on_device))))
    assert back == value and type(back) is type(value)


def test_nan_survives_both_ways():
    wire = json.loads(json.dumps(codec.encode(float("nan"))))
    on_device = honch_agent.Agent().decode_value(wire)
    assert math.isnan(on_device)
    assert math.isnan(codec.decode(honch_agent.encode_value(on_device)))


def test_device_side_objects():
    agent = honch_agent.Agent()
    assert isinstance(agent.decode_value(codec.encode(codec.Unsupported())), honch_agent.Unsupported)
    buf = agent.decode_value(codec.encode(codec.EventBuffer(64)))
    assert type(buf) is bytearray and len(buf) == 64
    view = agent.decode_value(codec.encode(codec.EventBuffer(16, type="memoryview")))
    assert type(view) is memoryview and not view.readonly
    assert agent.decode_value(codec.encode(codec.EventBuffer(16, type="readonly_memoryview"))).readonly
    assert type(agent.decode_value(codec.encode(codec.EventBuffer(8, type="bytes")))) is bytes
    named = agent.decode_value(codec.encode(codec.EventBuffer(32, name="shared")))
    assert agent.decode_value(codec.encode(codec.EventBuffer(32, name="shared"))) is named
    assert agent.decode_value(codec.encode(codec.ONLINE_CALLBACK)) == agent.connectivity_callback


def test_unencodable_host_value_is_refused_clearly():
    with pytest.raises(TypeError, match="cannot carry a set"):
        codec.encode({1, 2})
    with pytest.raises(ValueError, match="size must be an int"):
        codec.EventBuffer(-1)
    with pytest.raises(ValueError, match="type must be one of"):
        codec.EventBuffer(8, type="list")


def test_agent_prefix_is_one_fact():
    assert honch_agent.PREFIX.encode() == codec.PREFIX
    assert honch_agent.ESCAPE == codec.ESCAPE
