"""Properties of the host port's ``auto_properties_callback`` (C55, contract 2.1/2.3).

The host port takes an auto-properties callback as a port hook; the core adds what
it returns to every event except ``$error``, after the caller's properties, skipping
a key the caller already gave. That skip walks the properties already written, over
nested lists and maps, so the caller's keys sit at every position and after nested
values of both kinds. Boards without host hooks skip these tests by capability.
"""

from __future__ import annotations

import pytest

from harness import protocol as P
from harness.conformance_support import QUIET, drain_boot, flush_all, named, raises

pytestmark = [pytest.mark.clause("C55"), pytest.mark.requires_tags("host_hooks")]

AUTO = {"a_first": "auto", "shared": "auto", "nested": [1, {"k": "auto"}], "n": 7}


def _client(device, capture, auto=AUTO):
    device.init(host_hooks={"auto_properties": auto}, **QUIET)
    drain_boot(device, capture)


def _stored(capture, name):
    return [e["properties"] for e in named(capture.events(), name)]


def test_auto_properties_go_on_every_event_and_the_callers_keys_win_at_every_position(device, capture):
    _client(device, capture)
    callers = [
        {"shared": "event"},                                               # the only key
        {"x": 1, "y": [1, [2, 3]], "m": {"k": {"deep": [4]}}, "shared": "event"},  # after nested values
        {"shared": "event", "x": 1},                                       # first of several
        {"l": [[], {}, [None, True]], "e": {}, "shared": "event", "z": 0},  # after empty containers
        {"n": -1, "nested": "event", "a_first": None, "shared": "event"},  # every auto key given
    ]
    for i, props in enumerate(callers):
        device.track(f"e{i}", props)
    device.track("bare")
    flush_all(device)
    for i, props in enumerate(callers):
        (got,) = _stored(capture, f"e{i}")
        for key, value in props.items():
            assert got[key] == value, f"event e{i}: the caller's {key!r} must win over the auto property: {got}"
        for key, value in AUTO.items():
            if key not in props:
                assert got[key] == value, f"event e{i}: auto property {key!r} missing or changed: {got}"
    (bare,) = _stored(capture, "bare")
    assert {k: bare[k] for k in AUTO} == AUTO, bare


def test_error_events_carry_no_auto_properties(device, capture):
    _client(device, capture)
    device.report_log_error("sensor failed", "i2c")
    flush_all(device)
    (error,) = _stored(capture, "$error")
    assert not set(AUTO) & set(error), f"$error must carry no auto properties: {error}"


def test_the_property_count_limit_counts_the_auto_properties(device, capture):
    """2.2: at most 64 properties after the auto properties are added: caller and
    auto properties of distinct keys that make exactly 64 are kept, 65 are refused."""
    auto = {"auto0": 0, "auto1": 1}
    _client(device, capture, auto)
    room = P.MAX_PROPERTIES - len(auto)
    device.track("full", {f"p{i}": i for i in range(room)})
    with raises("InvalidArgumentError"):
        device.track("over", {f"p{i}": i for i in range(room + 1)})
    flush_all(device)
    (full,) = _stored(capture, "full")
    assert len([k for k in full if not k.startswith("$")]) == P.MAX_PROPERTIES, full
    assert not _stored(capture, "over"), "a refused event must queue nothing"
