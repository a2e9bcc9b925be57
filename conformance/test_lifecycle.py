"""Lifecycle: construction, shutdown and reset (contract C8–C10, sections 7.4, 11.1–11.3, 11.8)."""

from __future__ import annotations

import pytest

from harness import protocol as P
from harness.agent.codec import ONLINE_CALLBACK
from harness.conformance_support import (
    delivered_messages, drain_boot, names, quiet, raises, uploads, user_events,
)


@pytest.mark.clause("C8")
def test_construction_queues_exactly_device_boot_and_sends_nothing(device, capture):
    quiet(device)
    stats = device.queue_stats()
    assert stats["queued_events"] == 1, f"construction queued {stats['queued_events']} events"
    assert uploads(capture) == [], "construction made a request"
    device.flush()
    events = capture.events()
    assert names(events) == ["$device_boot"]
    reason = events[0]["properties"].get("reset_reason")
    assert reason in P.RESET_REASONS, f"$device_boot reset_reason {reason!r}"
    (a, m), = delivered_messages(capture)
    assert a.message_id == (int(a.stream_id, 16) + 1) % 2 ** 32, "with a fresh queue $device_boot is sequence 1"


@pytest.mark.clause("C8")
@pytest.mark.requires_tags("host_hooks")
def test_changed_firmware_version_queues_firmware_update_before_boot(device, capture, tmp_path):
    state = str(tmp_path / "honch-state")
    quiet(device, firmware_version="1.0.0", host_hooks={"state_path": state})
    device.flush()
    quiet(device, firmware_version="1.0.0", host_hooks={"state_path": state})
    assert device.queue_stats()["queued_events"] == 1, "same firmware version: only $device_boot"
    device.flush()
    quiet(device, firmware_version="2.0.0", host_hooks={"state_path": state})
    assert device.queue_stats()["queued_events"] == 2
    device.flush()
    events = capture.events()
    assert names(events) == ["$device_boot", "$device_boot", "$firmware_update", "$device_boot"], names(events)
    update = events[2]["properties"]
    assert update.get("previous_version") == "1.0.0" and update.get("new_version") == "2.0.0", update


@pytest.mark.clause("C9")
def test_shutdown_sends_one_message_inside_the_spacing_window_then_closes(device, capture):
    quiet(device, flush_min_interval_ms=60_000, batch_size=2)
    drain_boot(device, capture)  # opens a 60 s spacing window
    for i in range(3):
        device.track("e", {"i": i})
    with raises("RateLimitedError"):
        device.flush()
    before = len(uploads(capture))
    device.shutdown()
    after = attempts_since(capture, before)
    assert len(after) == 1 and after[0].delivered, f"shutdown() made {after}, expected one delivered message"
    got = [e["properties"].get("i") for e in user_events(capture.events())]
    assert got == [0, 1], f"shutdown() sends one message of batch_size events, oldest first; got {got}"
    _assert_closed(device)


@pytest.mark.clause("C9", "C27")
def test_shutdown_ignores_the_backoff_and_finishes_the_pending_message(device, capture):
    quiet(device, flush_retry_initial_ms=60_000, flush_retry_max_ms=60_000)
    drain_boot(device, capture)
    device.track("pending")
    capture.add_faults({"status": 503})
    with raises("ServerError"):
        device.flush()  # next automatic attempt in about a minute; the message stays pending
    device.shutdown()
    ups = uploads(capture)[1:]
    assert [u.status for u in ups] == [503, 204], f"shutdown() must send despite the backoff: {ups}"
    assert ups[1].body == ups[0].body, "the pending message goes out unchanged (W5.6), not re-encoded"
    assert names(capture.events()) == ["$device_boot", "pending"]
    _assert_closed(device)


@pytest.mark.clause("C9")
def test_shutdown_queues_device_shutdown_and_sends_it(device, capture):
    quiet(device, flush_min_interval_ms=60_000)
    drain_boot(device, capture)
    device.track("last words")
    device.shutdown()
    assert names(capture.events()) == ["$device_boot", "last words", "$device_shutdown"]
    _assert_closed(device)


@pytest.mark.clause("C9")
def test_shutdown_while_offline_sends_nothing_and_still_closes(device, capture):
    """Contract 7.4 step 3: offline, shutdown() queues $device_shutdown but makes no request."""
    quiet(device, connectivity_callback=ONLINE_CALLBACK)
    drain_boot(device, capture)
    device.track("unsent")
    before = len(uploads(capture))
    device.set_online(False)
    device.shutdown()
    sent = uploads(capture)[before:]
    assert sent == [], f"shutdown() made {len(sent)} request(s) while connectivity_callback reported offline"
    _assert_closed(device)


def attempts_since(capture, n_before):
    from harness.conformance_support import attempts
    return attempts(uploads(capture)[n_before:])


def _assert_closed(device):
    calls = {
        "track": lambda: device.track("x"),
        "identify": lambda: device.identify("someone"),
        "set_property": lambda: device.set_property("k", 1),
        "session_start": lambda: device.session_start(),
        "session_end": lambda: device.session_end(),
        "report_log_error": lambda: device.report_log_error("oops"),
        "connectivity_changed": lambda: device.connectivity_changed(True),
        "tick": lambda: device.tick(),
        "flush": lambda: device.flush(),
        "reset": lambda: device.reset(),
        "queue_stats": lambda: device.queue_stats(),
        "get_device_id": lambda: device.get_device_id(),
    }
    for name, call in calls.items():
        with raises("NotInitializedError", status=P.STATUS["NOT_INITIALIZED"]):
            call()
    assert device.shutdown() is None, "a second shutdown() returns None"


@pytest.mark.clause("C10")
def test_reset_empties_the_queue_restores_identity_and_ends_the_session_silently(device, capture):
    quiet(device)
    drain_boot(device, capture)
    device.identify("user-7")
    device.session_start("walk")
    device.track("dropped")
    n_requests = len(uploads(capture))
    device.reset()
    assert device.queue_stats()["queued_events"] == 0, "reset() must empty the queue and queue nothing"
    assert len(uploads(capture)) == n_requests, "reset() made a request"
    device.track("after")
    device.flush()
    events = capture.events()
    assert names(events) == ["$device_boot", "after"], names(events)
    after = events[-1]
    assert after["distinct_id"] == device.get_device_id() == after["properties"]["$device_id"]
    assert "$session_id" not in after["properties"], "reset() must end the session"
