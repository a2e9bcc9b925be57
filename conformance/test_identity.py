"""Identity and sessions: identify(), sessions, set_property(), battery (C45–C48, C40)."""

from __future__ import annotations

import re

import pytest

from harness.conformance_support import delivered_messages, drain_boot, flush_all, names, quiet, raises

SESSION_ID_RE = re.compile(r"^sess_[0-9a-f]{32}$")


@pytest.mark.clause("C45", "C40")
def test_identify_queues_identify_with_the_previous_id_and_later_events_use_the_new_one(device, capture):
    quiet(device)
    drain_boot(device, capture)
    device_id = device.get_device_id()
    device.track("before")
    device.identify("user-42", {"plan": "pro"})
    device.track("after")
    device.identify("user-43")
    flush_all(device)
    events = capture.events()[1:]
    assert names(events) == ["before", "$identify", "after", "$identify"], names(events)
    assert [e["distinct_id"] for e in events] == [device_id, "user-42", "user-42", "user-43"]
    first, second = events[1]["properties"], events[3]["properties"]
    assert first["$anon_distinct_id"] == device_id and first["plan"] == "pro", first
    assert second["$anon_distinct_id"] == "user-42", second
    per_message = [[e.name for e in m.events] for _, m in delivered_messages(capture)][1:]
    assert per_message == [["before"], ["$identify", "after"], ["$identify"]], \
        f"a message must never mix distinct ids (C40): {per_message}"


@pytest.mark.clause("C46")
def test_session_start_refuses_a_name_that_is_not_a_str(device, capture):
    quiet(device)
    drain_boot(device, capture)
    before = device.queue_stats()["queued_events"]
    with raises("InvalidArgumentError"):
        device.session_start(7)
    assert device.queue_stats()["queued_events"] == before, "a refused session_start() queued something"


@pytest.mark.clause("C46", "C40", "C4")
def test_session_ids_and_session_start_during_a_session(device, capture):
    quiet(device)
    drain_boot(device, capture)
    before = device.queue_stats()["queued_events"]
    device.session_end()  # no session: a no-op
    assert device.queue_stats()["queued_events"] == before, "session_end() without a session queued something"
    device.track("outside")
    device.session_start("walk")
    device.track("in-walk")
    device.session_start("run")
    device.track("in-run")
    device.session_end()
    device.session_start()
    device.session_end()
    device.track("outside-again")
    flush_all(device)
    events = capture.events()[1:]
    assert names(events) == ["outside", "$session_start", "in-walk", "$session_end", "$session_start", "in-run",
                             "$session_end", "$session_start", "$session_end", "outside-again"], names(events)
    sid = [e["properties"].get("$session_id") for e in events]
    walk, run, anon = sid[1], sid[4], sid[7]
    for s in (walk, run, anon):
        assert s and SESSION_ID_RE.match(s), f"session id {s!r}"
    assert len({walk, run, anon}) == 3, "every session_start() creates a new id"
    assert sid == [None, walk, walk, walk, run, run, run, anon, anon, None], sid
    assert events[1]["properties"].get("session_name") == "walk"
    assert events[4]["properties"].get("session_name") == "run"
    assert "session_name" not in events[7]["properties"], "session_start() without a name sends no session_name"
    for _, m in delivered_messages(capture):
        session = dict(m.context).get(8)
        for e in m.events:
            assert (e.name in ("outside", "outside-again", "$device_boot")) == (session is None), \
                f"{e.name} in a message with session context {session!r}"
    per_message = [[e.name for e in m.events] for _, m in delivered_messages(capture)][1:]
    assert len(per_message) == 5, f"sessions cut messages (C40): {per_message}"


@pytest.mark.clause("C47")
def test_set_property_and_get_device_id(device, capture):
    quiet(device)
    drain_boot(device, capture)
    for key, value in (("", 1), ("  ", 1), (5, 1), ("k", float("nan")), ("k", {"": 1})):
        with raises("InvalidArgumentError"):
            device.set_property(key, value)
    assert device.queue_stats()["queued_events"] == 0, "a refused set_property() queued something"
    device.set_property("colour", "blue")
    device.set_property("sizes", [1, 2, {"n": None}])
    device.flush()
    events = capture.events()[1:]
    assert names(events) == ["$set_property", "$set_property"], names(events)
    assert events[0]["properties"]["colour"] == "blue"
    assert events[1]["properties"]["sizes"] == [1, 2, {"n": None}]
    device_id = device.get_device_id()
    assert isinstance(device_id, str) and device_id
    assert all(e["properties"]["$device_id"] == device_id for e in capture.events()), \
        "get_device_id() must return the configured device_id the events carry"
    quiet(device, device_id="custom-device-17")
    assert device.get_device_id() == "custom-device-17"


@pytest.mark.clause("C48")
@pytest.mark.requires_tags("host_hooks")
def test_battery_low_is_latched_until_recovery_or_reset(device, capture):
    quiet(device, battery_low_threshold=15, host_hooks={"battery": 50})
    drain_boot(device, capture)

    def step(level, name):
        device.set_battery(level)
        device.track(name)

    step(10, "low-1")      # below: $battery_low
    step(9, "low-2")       # still latched: nothing
    step(40, "ok")         # at or above: latch cleared
    step(5, "low-3")       # below again: $battery_low
    device.reset()         # clears the latch (and the queue)
    step(5, "low-4")       # $battery_low again
    device.flush()
    events = capture.events()[1:]
    assert names(events) == ["low-4", "$battery_low"], names(events)
    assert events[1]["properties"].get("level") == 5
    assert events[0]["properties"].get("$battery_level") == 5
    quiet(device, battery_low_threshold=15, host_hooks={"battery": 50})
    drain_boot(device, capture)
    n = len(capture.events())
    step(10, "low-1")
    step(9, "low-2")
    step(40, "ok")
    step(5, "low-3")
    device.flush()
    tail = capture.events()[n:]
    assert names(tail) == ["low-1", "$battery_low", "low-2", "ok", "low-3", "$battery_low"], names(tail)
    assert [e["properties"].get("level") for e in tail if e["event"] == "$battery_low"] == [10, 5]


@pytest.mark.clause("C45", "C13")
def test_identify_validation(device, capture):
    quiet(device)
    drain_boot(device, capture)
    for bad in ("", "  ", "u" * 257):
        with raises("InvalidArgumentError"):
            device.identify(bad)
    with raises("InvalidArgumentError"):
        device.identify("u", {f"t{i}": i for i in range(64)})
    device.identify("u" * 256, {f"t{i}": i for i in range(63)})
    device.flush()
    (event,) = capture.events()[1:]
    assert event["event"] == "$identify" and event["distinct_id"] == "u" * 256
