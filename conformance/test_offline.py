"""Offline: connectivity_callback and connectivity_changed() (C28–C31)."""

from __future__ import annotations

import pytest

from harness import protocol as P
from harness.agent.codec import CALLBACK_RAISES, ONLINE_CALLBACK
from harness.conformance_support import (
    starved_ms,
    CLOCK_RESOLUTION_MS,
    pump_until,
    QUIET, backoff_window_ms, drain_boot, mandated_wait, names, quiet, raises, uploads, user_events,
)

PERIOD_MS = 10
TIMEOUT_MS = 250
OFFLINE = P.STATUS["OFFLINE"]


@pytest.mark.clause("C28", "C37")
def test_offline_tick_is_silent_and_flush_raises_offline_without_a_request(device, capture):
    quiet(device, connectivity_callback=ONLINE_CALLBACK, flush_event_threshold=1)
    drain_boot(device, capture)
    device.set_online(False)
    device.track("waiting")
    device.pump(5 * PERIOD_MS, PERIOD_MS)
    with raises("OfflineError", status=OFFLINE) as err:
        device.flush()
    assert err.classes[:3] == ["OfflineError", "TransportError", "HonchError"], err.classes
    assert err.message == P.STATUSES[OFFLINE][1]
    device.set_online(CALLBACK_RAISES)  # a raising callback counts as offline and is swallowed
    device.tick()
    with raises("OfflineError", status=OFFLINE):
        device.flush()
    device.set_online(0)  # only True or an int > 0 is online
    device.tick()
    assert len(uploads(capture)) == 1, "nothing may be sent while offline"
    device.set_online(1)
    device.tick()
    assert names(user_events(capture.events())) == ["waiting"]


@pytest.mark.clause("C28", "C23")
def test_offline_calls_leave_the_backoff_alone(device, capture, request):
    initial = 200
    quiet(device, connectivity_callback=ONLINE_CALLBACK, flush_event_threshold=1,
          flush_retry_initial_ms=initial, flush_retry_max_ms=8 * initial, transport_timeout_ms=TIMEOUT_MS)
    drain_boot(device, capture)
    device.track("e")
    capture.add_faults({"status": 503}, {"status": 503})
    with raises("ServerError"):
        device.flush()  # b: 200 -> 400
    device.set_online(False)
    for _ in range(3):
        with raises("OfflineError"):
            device.flush()
    mandated_wait(request, initial, "first backoff delay, spent offline")
    device.pump(backoff_window_ms(initial)[1] + PERIOD_MS, PERIOD_MS)
    assert len(uploads(capture)) == 2, "offline ticks must not send"
    device.set_online(True)
    device.tick()  # the retry time has passed: this tick sends and gets the second 503; b: 400 -> 800
    mandated_wait(request, 2 * initial, "second backoff delay")
    lo, hi = backoff_window_ms(2 * initial)
    ups = pump_until(device, capture, lambda ups: len(ups) >= 4, hi + PERIOD_MS + TIMEOUT_MS, PERIOD_MS)[1:]
    assert [u.status for u in ups] == [503, 503, 204], ups
    gap = (ups[2].t - ups[1].t) * 1000
    assert lo - CLOCK_RESOLUTION_MS <= gap <= hi + PERIOD_MS + TIMEOUT_MS + starved_ms(device, ups[1].t, ups[2].t), (
        f"retry {gap:.0f} ms after the second 503; offline flush()/tick() must not change the delay "
        f"({2 * initial} ms: {lo}..{hi})")


@pytest.mark.clause("C29")
def test_offline_is_checked_before_spacing(device, capture):
    quiet(device, connectivity_callback=ONLINE_CALLBACK, flush_min_interval_ms=60_000)
    drain_boot(device, capture)  # opens a one-minute spacing window
    device.track("e")
    with raises("RateLimitedError"):
        device.flush()
    device.set_online(False)
    with raises("OfflineError", status=OFFLINE) as err:
        device.flush()
    assert err.name == "OfflineError", f"offline inside the spacing window must raise OfflineError, got {err.name}"


@pytest.mark.clause("C30", "C38")
def test_offline_tracking_keeps_queueing_with_drop_oldest_and_online_tick_sends_in_order(device, capture):
    capacity = 5
    quiet(device, connectivity_callback=ONLINE_CALLBACK, max_queued_events=capacity, flush_event_threshold=1)
    drain_boot(device, capture)
    device.set_online(False)
    dropped = device.queue_stats()["capacity_dropped_events"]
    for i in range(capacity + 3):
        device.track("offline", {"i": i})
    device.pump(50, PERIOD_MS)
    stats = device.queue_stats()
    assert stats["queued_events"] == capacity
    assert stats["capacity_dropped_events"] == dropped + 3, stats
    assert len(uploads(capture)) == 1
    device.set_online(True)
    device.tick()
    got = [e["properties"]["i"] for e in user_events(capture.events())]
    assert got == [3, 4, 5, 6, 7], f"the newest {capacity} events in queueing order, got {got}"


@pytest.mark.clause("C31")
def test_connectivity_changed_queues_only_real_changes_and_defers_the_flush(device, capture):
    quiet(device)
    drain_boot(device, capture)
    n = len(uploads(capture))
    device.connectivity_changed(False)
    device.connectivity_changed(False)
    assert device.queue_stats()["queued_events"] == 1, "a repeated state must queue nothing"
    device.connectivity_changed(True)
    assert len(uploads(capture)) == n, "connectivity_changed() must not do network I/O"
    assert device.queue_stats()["queued_events"] == 2
    for bad in (1, "yes", None):
        with raises("InvalidArgumentError", status=P.STATUS["INVALID_ARGUMENT"]):
            device.connectivity_changed(bad)
    device.tick()  # below the threshold, but the change to connected requested a flush
    assert len(uploads(capture)) == n + 1, "the tick() after a change to connected must send"
    events = capture.events()[1:]
    assert names(events) == ["$connectivity_change", "$connectivity_change"]
    assert [e["properties"].get("state") for e in events] == ["disconnected", "connected"]
    device.disconnected()
    device.connected()
    device.connected()
    assert device.queue_stats()["queued_events"] == 2


@pytest.mark.clause("C54", "C37")
@pytest.mark.parametrize("outer", ["flush", "tick"])
@pytest.mark.parametrize("inner", ["tick", "flush", "reset", "shutdown"])
def test_a_call_from_inside_the_connectivity_callback_fails_busy_and_changes_nothing(device, capture, outer, inner):
    """Contract 2.2, 7.2–7.4: the re-entered call raises BUSY (HonchError, 'busy'); the
    outer call goes on and delivers, the queue is kept and the client stays open."""
    quiet(device, connectivity_callback=ONLINE_CALLBACK, flush_event_threshold=1)
    drain_boot(device, capture)
    device.track("kept", {"i": 1})
    device.callback_log()  # forget earlier calls
    device.set_online(True, reenter=inner)
    getattr(device, outer)()
    log = device.callback_log()
    entries = [e for e in log.get("reentries", []) if e.get("op") == inner]
    assert entries, f"the connectivity callback never ran during {outer}(): {log}"
    entry = entries[0]
    assert not entry["ok"], f"{inner}() inside the callback of {outer}() must fail with BUSY, it returned: {entry}"
    assert entry["class"] == "HonchError" and entry["message"] == P.STATUSES[P.STATUS["BUSY"]][1], entry
    assert names(user_events(capture.events())) == ["kept"], f"the outer {outer}() must still deliver"
    device.track("after")  # the client stays open, a re-entered reset() or shutdown() did nothing
    device.flush()
    assert names(user_events(capture.events())) == ["kept", "after"]


@pytest.mark.clause("C54", "C37")
@pytest.mark.requires_tags("host_hooks")
@pytest.mark.parametrize("inner", ["tick", "flush", "reset", "shutdown"])
def test_a_call_from_inside_the_transport_fails_busy_and_changes_nothing(device, capture, inner):
    """Contract 2.2: the transport is a callback the client is running too. On the host
    its transport is a port hook; the re-entered call raises BUSY, the request goes on
    and delivers, the queue is kept and the client stays open."""
    device.init(host_hooks={"reenter_transport": inner}, **QUIET)
    device.callback_log()  # forget earlier calls
    device.track("kept", {"i": 1})
    device.flush()
    entries = [e for e in device.callback_log().get("reentries", []) if e.get("from") == "transport"]
    assert entries, "the transport never ran during flush()"
    entry = entries[0]
    assert not entry["ok"], f"{inner}() inside the transport must fail with BUSY, it returned: {entry}"
    assert entry["class"] == "HonchError" and entry["message"] == P.STATUSES[P.STATUS["BUSY"]][1], entry
    assert "kept" in names(capture.events()), "the request the transport was making must still deliver"
    device.track("after")
    device.flush()
    assert names(user_events(capture.events())) == ["kept", "after"]
