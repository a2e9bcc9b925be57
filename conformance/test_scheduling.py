"""Scheduling: what tick() and flush() send and when (C16–C20)."""

from __future__ import annotations

import pytest

from harness import protocol as P
from harness.conformance_support import (
    starved_ms,
    CLOCK_RESOLUTION_MS,
    pump_until,
    attempts, delivered_messages, drain_boot, mandated_wait, names, quiet, raises, sized_event, uploads,
    user_events,
)

PERIOD_MS = 10


@pytest.mark.clause("C16")
def test_tick_makes_at_most_one_request_and_never_raises_for_delivery_outcomes(device, capture):
    quiet(device, flush_event_threshold=1, flush_retry_initial_ms=1, flush_retry_max_ms=1)
    drain_boot(device, capture)
    device.track("e")
    outcomes = [{"status": 503}, {"status": 429, "headers": {"Retry-After": "0"}}, {"close": True},
                {"status": 409}, {"status": 202}, {"status": 500}]
    capture.add_faults(*outcomes)
    seen = len(uploads(capture))
    for _ in range(200):  # the 1 ms backoff passes while a tick() request travels
        device.tick()  # a raise fails the test
        now = len(uploads(capture))
        assert now - seen <= 1, f"one tick() made {now - seen} requests"
        seen = now
        if device.queue_stats()["queued_events"] == 0:
            break
    assert [u.status for u in uploads(capture)][1:] == [503, 429, 0, 409, 202, 500, 204]
    assert names(user_events(capture.events())) == ["e"], "the event is delivered once the faults are used up"
    device.track("rejected")
    capture.add_faults({"status": 400})
    device.tick()  # a rejection does not raise from tick() either
    assert device.queue_stats()["dead_lettered_events"] == 1


@pytest.mark.clause("C17")
def test_tick_is_idle_below_threshold_before_the_interval_and_with_an_empty_queue(device, capture):
    quiet(device, flush_event_threshold=5)
    device.track("a")
    device.track("b")  # 3 queued with $device_boot, threshold 5
    device.pump(5 * PERIOD_MS, PERIOD_MS)
    assert uploads(capture) == [], "tick() sent below the threshold before the interval"
    drain_boot(device, capture)
    n = len(uploads(capture))
    device.pump(5 * PERIOD_MS, PERIOD_MS)
    assert len(uploads(capture)) == n, "tick() sent with an empty queue"


@pytest.mark.clause("C18")
def test_reaching_the_threshold_makes_the_next_tick_send(device, capture):
    quiet(device, flush_event_threshold=3)
    device.track("a")  # 2 queued
    device.tick()
    assert uploads(capture) == [], "tick() sent below the threshold"
    device.track("b")  # 3 queued: threshold reached
    device.tick()
    assert len(uploads(capture)) == 1, "the tick() after reaching the threshold must send"
    assert names(capture.events()) == ["$device_boot", "a", "b"]


@pytest.mark.clause("C18")
def test_below_the_threshold_the_first_tick_after_the_interval_sends(device, capture, request):
    interval_s = 1
    quiet(device, flush_interval_seconds=interval_s, transport_timeout_ms=500)
    device.flush()  # an attempt: the interval restarts here
    device.track("late")
    mandated_wait(request, interval_s * 1000, "flush_interval_seconds")
    ups = pump_until(device, capture, lambda ups: len(ups) >= 2, interval_s * 1000 + PERIOD_MS + 500, PERIOD_MS)
    assert len(ups) == 2, f"expected one interval-driven upload, got {ups}"
    gap_ms = (ups[1].t - ups[0].t) * 1000
    assert interval_s * 1000 - CLOCK_RESOLUTION_MS <= gap_ms <= \
        interval_s * 1000 + PERIOD_MS + 500 + starved_ms(device, ups[0].t, ups[1].t), (
        f"interval upload {gap_ms:.0f} ms after the previous attempt, expected after "
        f"{interval_s * 1000} ms plus at most one tick period and the request time")


@pytest.mark.clause("C19")
def test_flush_sends_one_complete_message_by_default(device, capture):
    quiet(device, batch_size=2)
    drain_boot(device, capture)
    for i in range(5):
        device.track("e", {"i": i})
    device.flush()
    sent = delivered_messages(capture)[1:]
    assert [len(m.events) for _, m in sent] == [2], sent
    assert device.queue_stats()["queued_events"] == 3


@pytest.mark.clause("C50")
def test_flush_sends_up_to_flush_max_batches_complete_messages(device, capture):
    quiet(device, batch_size=2, flush_max_batches=2)
    drain_boot(device, capture)
    for i in range(5):
        device.track("e", {"i": i})
    device.flush()
    sent = delivered_messages(capture)[1:]
    assert [len(m.events) for _, m in sent] == [2, 2], sent
    assert device.queue_stats()["queued_events"] == 1


@pytest.mark.clause("C19")
def test_flush_ignores_the_backoff_and_an_empty_flush_is_silent_even_when_spaced(device, capture):
    quiet(device, flush_retry_initial_ms=60_000, flush_retry_max_ms=60_000)
    capture.add_faults({"status": 503})
    with raises("ServerError"):
        device.flush()
    device.flush()  # next_retry_at is a minute away; flush() ignores it
    assert [u.status for u in uploads(capture)] == [503, 204]
    quiet(device, flush_min_interval_ms=60_000)
    device.flush()  # opens the spacing window
    n = len(uploads(capture))
    device.flush()  # nothing pending: no request, no RateLimitedError
    assert len(uploads(capture)) == n


@pytest.mark.clause("C20", "C16", "C5")
def test_each_frame_of_a_multi_frame_message_needs_its_own_tick(device, capture):
    quiet(device, flush_event_threshold=1)
    drain_boot(device, capture)
    boot = delivered_messages(capture)[0][1]
    device.track("big", sized_event(boot, "big", P.SDK_LIMITS.message - 2))
    before = len(uploads(capture))
    device.tick()
    ups = uploads(capture)[before:]
    assert [u.kind for u in ups] == ["init"], f"the first tick() must send the init frame only: {ups}"
    assert device.queue_stats()["queued_events"] == 1, "events are consumed only after the final frame's 204"
    device.tick()
    ups = uploads(capture)[before:]
    assert [u.kind for u in ups] == ["init", "final"], ups
    assert [u.status for u in ups] == [202, 204]
    assert device.queue_stats()["queued_events"] == 0
    assert names(user_events(capture.events())) == ["big"]
    assert attempts(ups)[0].delivered
