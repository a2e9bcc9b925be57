"""Rate limit: minimum spacing, 429 and Retry-After (C21, C22, C24).

Times come from the server's receive times. A device's next attempt can only come
later than the contract's wait (the wait starts when the device has the answer,
after the server received the request), so lower bounds hold up to the millisecond
resolution of the device's clock; upper bounds add one tick period and one request
time, bounded by the configured transport timeout.
"""

from __future__ import annotations

import math
import time

import pytest

from harness import protocol as P
from harness.conformance_support import (
    CLOCK_RESOLUTION_MS,
    pump_until,
    attempts, backoff_window_ms, drain_boot, http_date, mandated_wait, names, quiet, raises, uploads,
    user_events,
)

PERIOD_MS = 10
TIMEOUT_MS = 500
RATE_LIMITED = P.STATUS["RATE_LIMITED"]


@pytest.mark.clause("C21")
def test_flush_inside_the_spacing_window_raises_and_tick_waits_for_it(device, capture, request):
    spacing = 400
    quiet(device, flush_min_interval_ms=spacing, transport_timeout_ms=TIMEOUT_MS)
    drain_boot(device, capture)  # a successful upload opens the window
    device.track("spaced")
    with raises("RateLimitedError", status=RATE_LIMITED):
        device.flush()
    assert len(uploads(capture)) == 1, "flush() inside the spacing window made a request"
    mandated_wait(request, spacing, "flush_min_interval_ms")
    ups = pump_until(device, capture, lambda ups: len(ups) >= 2, spacing + PERIOD_MS + TIMEOUT_MS, PERIOD_MS)
    assert len(ups) == 2, f"after the window the deferred flush must go out by tick(): {ups}"
    gap_ms = (ups[1].t - ups[0].t) * 1000
    assert gap_ms >= spacing - CLOCK_RESOLUTION_MS, f"tick() sent {gap_ms:.0f} ms after the last upload, inside the {spacing} ms window"
    assert names(user_events(capture.events())) == ["spaced"]


@pytest.mark.clause("C21")
def test_disabled_spacing_lets_two_flushes_in_a_row_send(device, capture):
    quiet(device, flush_min_interval_ms=P.SPACING_DISABLED)
    device.flush()
    device.track("next")
    device.flush()
    assert [u.status for u in uploads(capture)] == [204, 204]


@pytest.mark.clause("C22", "C37")
def test_429_raises_rate_limited_keeps_the_events_and_schedules_the_retry(device, capture, request):
    initial = 200
    quiet(device, flush_retry_initial_ms=initial, flush_event_threshold=1, transport_timeout_ms=TIMEOUT_MS)
    drain_boot(device, capture)
    device.track("a")
    device.track("b")
    capture.add_faults({"status": 429})
    with raises("RateLimitedError", status=RATE_LIMITED) as err:
        device.flush()
    assert err.classes[:3] == ["RateLimitedError", "TransportError", "HonchError"], err.classes
    assert err.message == P.STATUSES[RATE_LIMITED][1]
    assert device.queue_stats()["queued_events"] == 2, "a 429 must keep the events"
    mandated_wait(request, initial, "first backoff delay after a 429")
    lo, hi = backoff_window_ms(initial)
    ups = pump_until(device, capture, lambda ups: len(ups) >= 3, hi + PERIOD_MS + TIMEOUT_MS, PERIOD_MS)
    assert [u.status for u in ups][1:] == [429, 204], ups
    gap_ms = (ups[2].t - ups[1].t) * 1000
    assert lo - CLOCK_RESOLUTION_MS <= gap_ms <= hi + PERIOD_MS + TIMEOUT_MS, \
        f"retry {gap_ms:.0f} ms after the 429, expected within {lo}..{hi} ms (+ tick period, request time)"
    assert ups[2].body == ups[1].body, "the retry must resend the same bytes (C27)"
    assert names(user_events(capture.events())) == ["a", "b"]


def _retry_after_case(device, capture, fault_status, retry_after, initial=100):
    quiet(device, flush_retry_initial_ms=initial, flush_event_threshold=1, transport_timeout_ms=TIMEOUT_MS)
    drain_boot(device, capture)
    device.track("held")
    capture.add_faults({"status": fault_status, "headers": {"Retry-After": retry_after}})
    with raises("TransportError"):
        device.flush()
    return time.time()


@pytest.mark.clause("C24", "C22")
@pytest.mark.parametrize("fault_status", [429, 503])
def test_retry_after_seconds_holds_back_every_tick(device, capture, request, fault_status):
    seconds = 1
    _retry_after_case(device, capture, fault_status, f" {seconds} ")
    mandated_wait(request, seconds * 1000, "Retry-After delta-seconds")
    ups = pump_until(device, capture, lambda ups: len(ups) >= 3, seconds * 1000 + PERIOD_MS + TIMEOUT_MS,
                     PERIOD_MS)
    assert [u.status for u in ups][1:] == [fault_status, 204], ups
    gap_ms = (ups[2].t - ups[1].t) * 1000
    assert gap_ms >= seconds * 1000 - CLOCK_RESOLUTION_MS, f"tick() sent {gap_ms:.0f} ms after Retry-After: {seconds}"
    assert gap_ms <= seconds * 1000 + PERIOD_MS + TIMEOUT_MS, f"retry came only after {gap_ms:.0f} ms"


@pytest.mark.clause("C24")
@pytest.mark.requires_tags("wall_clock")
def test_retry_after_http_date_holds_back_every_tick(device, capture, request):
    # the date is whole seconds: 3 s from the next full second is 2..3 s away
    date = math.floor(time.time()) + 3
    answered = _retry_after_case(device, capture, 429, http_date(date))
    least_ms = (date - answered) * 1000  # the device read its clock before flush() returned
    mandated_wait(request, least_ms, "Retry-After HTTP-date")
    ups = pump_until(device, capture, lambda ups: len(ups) >= 3, 3000 + PERIOD_MS + TIMEOUT_MS, PERIOD_MS)
    assert [u.status for u in ups][1:] == [429, 204], ups
    gap_ms = (ups[2].t - ups[1].t) * 1000
    assert gap_ms >= least_ms - CLOCK_RESOLUTION_MS, f"tick() sent {gap_ms:.0f} ms after the 429, before the Retry-After date"
    assert gap_ms <= 3000 + PERIOD_MS + TIMEOUT_MS, f"retry came only after {gap_ms:.0f} ms"


@pytest.mark.clause("C24", "C23")
def test_unparseable_retry_after_falls_back_to_the_backoff(device, capture, request):
    initial = 200
    _retry_after_case(device, capture, 503, "soon", initial=initial)
    mandated_wait(request, initial, "backoff after a 503 with an unusable Retry-After")
    lo, hi = backoff_window_ms(initial)
    ups = pump_until(device, capture, lambda ups: len(ups) >= 3, hi + PERIOD_MS + TIMEOUT_MS, PERIOD_MS)
    assert [u.status for u in ups][1:] == [503, 204], ups
    gap_ms = (ups[2].t - ups[1].t) * 1000
    assert lo - CLOCK_RESOLUTION_MS <= gap_ms <= hi + PERIOD_MS + TIMEOUT_MS, f"retry {gap_ms:.0f} ms after; expected the backoff"
    assert attempts(ups)[-1].delivered
