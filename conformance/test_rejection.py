"""Rejection: 4xx answers dead-letter, 409 restarts (C42, C41, C25, C27, C37)."""

from __future__ import annotations

import pytest

from harness import protocol as P
from harness.conformance_support import (
    starved_ms,
    CLOCK_RESOLUTION_MS,
    pump_until,
    attempts, backoff_window_ms, drain_boot, mandated_wait, names, quiet, raises, uploads, user_events,
)

PERIOD_MS = 10
TIMEOUT_MS = 250
REJECTED = P.STATUS["REJECTED"]


@pytest.mark.clause("C42", "C37")
@pytest.mark.parametrize("status", list(P.REJECTING_STATUSES) + [403, 405])
def test_rejected_batch_is_dead_lettered_and_never_resent(device, capture, status):
    quiet(device, flush_event_threshold=1, flush_retry_initial_ms=1, flush_retry_max_ms=1)
    drain_boot(device, capture)
    for i in range(3):
        device.track("doomed", {"i": i})
    capture.add_faults({"status": status})
    with raises("RejectedError", status=REJECTED) as err:
        device.flush()
    assert err.classes[:2] == ["RejectedError", "HonchError"] and err.message == P.STATUSES[REJECTED][1]
    stats = device.queue_stats()
    assert stats["queued_events"] == 0 and stats["dead_lettered_events"] == 3, \
        f"a {status} must dead-letter the batch's 3 events: {stats}"
    n = len(uploads(capture))
    device.tick()
    device.tick()
    device.flush()
    assert len(uploads(capture)) == n, f"the rejected batch was sent again after {status}"
    assert user_events(capture.events()) == []


@pytest.mark.clause("C42", "C23")
def test_a_rejection_leaves_the_backoff_delay_unchanged(device, capture, request):
    initial = 200
    quiet(device, flush_retry_initial_ms=initial, flush_retry_max_ms=8 * initial, flush_event_threshold=1,
          transport_timeout_ms=TIMEOUT_MS)
    drain_boot(device, capture)
    device.track("first")
    capture.add_faults({"status": 503}, {"status": 422}, {"status": 503})
    with raises("ServerError"):
        device.flush()           # b: 200 -> 400
    with raises("RejectedError"):
        device.flush()           # dead-letters "first"; b stays 400
    device.track("second")
    with raises("ServerError"):
        device.flush()           # waits b = 400, then b -> 800
    mandated_wait(request, 2 * initial, "backoff delay kept across the rejection")
    lo, hi = backoff_window_ms(2 * initial)
    ups = pump_until(device, capture, lambda ups: len(ups) >= 5, hi + PERIOD_MS + TIMEOUT_MS, PERIOD_MS)[1:]
    assert [u.status for u in ups] == [503, 422, 503, 204], ups
    gap = (ups[3].t - ups[2].t) * 1000
    assert lo - CLOCK_RESOLUTION_MS <= gap <= hi + PERIOD_MS + TIMEOUT_MS + starved_ms(device, ups[2].t, ups[3].t), (
        f"retry {gap:.0f} ms after the second 503; the rejection must keep the delay at "
        f"{2 * initial} ms ({lo}..{hi}), neither reset nor grow it")
    assert names(user_events(capture.events())) == ["second"]


@pytest.mark.clause("C25", "C27", "C37")
def test_409_raises_transport_error_and_resends_the_whole_message(device, capture):
    quiet(device)
    drain_boot(device, capture)
    device.track("conflicted")
    capture.add_faults({"status": 409})
    with raises("TransportError", status=P.STATUS["TRANSPORT"]) as err:
        device.flush()
    assert err.name == "TransportError", f"409 maps to TRANSPORT (TransportError itself), got {err.name}"
    assert device.queue_stats()["queued_events"] == 1
    device.flush()
    ups = uploads(capture)[1:]
    assert [u.status for u in ups] == [409, 204] and ups[0].body == ups[1].body
    assert ups[1].frame.offset == 0
    assert names(user_events(capture.events())) == ["conflicted"]


@pytest.mark.clause("C41")
def test_an_event_too_big_to_encode_alone_is_dead_lettered_without_a_request(device, capture):
    quiet(device)
    drain_boot(device, capture)
    too_long = P.SDK_LIMITS.string_bytes + 88  # 600 bytes: no message may hold it (W8)
    device.track("unsendable", {"s": "x" * too_long})
    device.track("fine")
    n = len(uploads(capture))
    before = device.queue_stats()["dead_lettered_events"]
    with raises("RejectedError", status=REJECTED):
        device.flush()
    assert len(uploads(capture)) == n, "the unencodable event must be dead-lettered without a request"
    stats = device.queue_stats()
    assert stats["dead_lettered_events"] == before + 1 and stats["queued_events"] == 1, stats
    device.flush()
    assert names(user_events(capture.events())) == ["fine"]
    assert all(a.delivered for a in attempts(uploads(capture)))


@pytest.mark.clause("C41", "C21")
def test_tick_dead_letters_an_unencodable_event_without_a_request_or_a_spacing_window(device, capture):
    """The same rule when tick() forms the message: the event goes without a request,
    so no spacing window opens, and the event after it leaves at the next tick after
    the window of the last real upload."""
    spacing = 1000
    quiet(device, flush_event_threshold=1, flush_min_interval_ms=spacing, transport_timeout_ms=TIMEOUT_MS)
    drain_boot(device, capture)  # a real upload: its window is the only one
    too_long = P.SDK_LIMITS.string_bytes + 88
    before = device.queue_stats()["dead_lettered_events"]
    device.track("unsendable", {"s": "x" * too_long})
    device.track("fine")
    ups = pump_until(device, capture, lambda ups: len(ups) >= 2, 3 * spacing, PERIOD_MS)
    stats = device.queue_stats()
    assert stats["dead_lettered_events"] == before + 1, f"tick() must dead-letter the unencodable event: {stats}"
    assert names(user_events(capture.events())) == ["fine"] and stats["queued_events"] == 0, stats
    assert len(ups) == 2 and all(a.delivered for a in attempts(ups)), "no request may carry the unencodable event"
    gap = (ups[1].t - ups[0].t) * 1000
    assert gap <= spacing + PERIOD_MS + TIMEOUT_MS + starved_ms(device, ups[0].t, ups[1].t), (
        f"the next event left {gap:.0f} ms after the last upload: the request-less dead-letter "
        f"must not open a spacing window of its own ({spacing} ms)")
