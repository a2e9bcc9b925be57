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
    starved_ms,
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
    assert lo - CLOCK_RESOLUTION_MS <= gap_ms <= hi + PERIOD_MS + TIMEOUT_MS + starved_ms(device, ups[1].t, ups[2].t), \
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
    assert gap_ms <= seconds * 1000 + PERIOD_MS + TIMEOUT_MS + starved_ms(device, ups[1].t, ups[2].t), \
        f"retry came only after {gap_ms:.0f} ms"


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
    assert gap_ms <= 3000 + PERIOD_MS + TIMEOUT_MS + starved_ms(device, ups[1].t, ups[2].t), \
        f"retry came only after {gap_ms:.0f} ms"


@pytest.mark.clause("C24", "C23")
def test_unparseable_retry_after_falls_back_to_the_backoff(device, capture, request):
    initial = 200
    _retry_after_case(device, capture, 503, "soon", initial=initial)
    mandated_wait(request, initial, "backoff after a 503 with an unusable Retry-After")
    lo, hi = backoff_window_ms(initial)
    ups = pump_until(device, capture, lambda ups: len(ups) >= 3, hi + PERIOD_MS + TIMEOUT_MS, PERIOD_MS)
    assert [u.status for u in ups][1:] == [503, 204], ups
    gap_ms = (ups[2].t - ups[1].t) * 1000
    assert lo - CLOCK_RESOLUTION_MS <= gap_ms <= hi + PERIOD_MS + TIMEOUT_MS + starved_ms(device, ups[1].t, ups[2].t), \
        f"retry {gap_ms:.0f} ms after; expected the backoff"
    assert attempts(ups)[-1].delivered


def _malformed_dates():
    """IMF-fixdates far in the future, each with one field out of its range or form.

    Read as a date, each would hold the retry back for years (or 60 s on a board
    without a valid wall clock); as "anything else" it is 0, and the backoff applies.
    """
    good = "Thu, 01 Mar 2035 12:30:45 GMT"
    assert len(good) == 29
    return {
        "month name": good.replace("Mar", "Mrz"),
        "weekday name": good.replace("Thu", "Thr"),
        "day 00": good.replace(" 01 ", " 00 "),
        "day 32": good.replace(" 01 ", " 32 "),
        **{f"31 {m}": good.replace("01 Mar", f"31 {m}") for m in ("Apr", "Jun", "Sep", "Nov")},
        "29 February of a common year": good.replace("01 Mar", "29 Feb"),
        "30 February of a leap year": good.replace("01 Mar 2035", "30 Feb 2036"),
        "month name in lower case": good.replace("Mar", "mar"),
        "hour 24": good.replace("12:30", "24:30"),
        "minute 60": good.replace(":30:", ":60:"),
        "second 61": good.replace(":45 ", ":61 "),
        "non-digit in the year": good.replace("2035", "2O35"),
        "time separator": good.replace("12:30:45", "12-30:45"),
        "zone": good.replace("GMT", "UTC"),
        "comma": good.replace("Thu,", "Thu "),
        "two-digit year": good.replace(" 2035 ", " 35 "),
        "trailing text": good + "x",
    }


@pytest.mark.clause("C24", "C23")
def test_a_retry_after_date_with_any_field_malformed_falls_back_to_the_backoff(device, capture, request):
    initial = 100
    lo, hi = backoff_window_ms(initial)
    quiet(device, flush_retry_initial_ms=initial, flush_event_threshold=1, transport_timeout_ms=TIMEOUT_MS)
    drain_boot(device, capture)
    late = {}
    for why, value in _malformed_dates().items():
        device.track("held", {"case": why})
        capture.add_faults({"status": 503, "headers": {"Retry-After": value}})
        with raises("TransportError"):
            device.flush()
        mandated_wait(request, initial, f"backoff after Retry-After with a malformed {why}")
        before = len(uploads(capture))
        ups = pump_until(device, capture, lambda ups: len(ups) >= before + 1, hi + PERIOD_MS + TIMEOUT_MS,
                         PERIOD_MS)
        if len(ups) < before + 1:
            late[why] = f"no retry within {hi + PERIOD_MS + TIMEOUT_MS} ms"
            continue
        gap_ms = (ups[before].t - ups[before - 1].t) * 1000
        if not lo - CLOCK_RESOLUTION_MS <= gap_ms <= \
                hi + PERIOD_MS + TIMEOUT_MS + starved_ms(device, ups[before - 1].t, ups[before].t):
            late[why] = f"retry {gap_ms:.0f} ms after the 503"
    assert not late, f"a malformed Retry-After date must count as 0 (the backoff, {lo}..{hi} ms, applies): {late}"


@pytest.mark.clause("C24")
def test_delta_seconds_of_every_digit_saturate_and_hold_the_retry(device, capture, request):
    """Section 9: delta-seconds are ASCII digits (every one of 0–9), value × 1000 ms
    saturating at 2^32−1, with no cap: a value far beyond 2^32 s holds tick() back
    well past the backoff that would apply if the value were not read."""
    initial = 100
    lo, hi = backoff_window_ms(initial)
    value = "98765432109876543210"
    assert set(value) == set("0123456789")
    _retry_after_case(device, capture, 503, value, initial=initial)
    hold_ms = 4 * (hi + PERIOD_MS + TIMEOUT_MS)
    mandated_wait(request, hold_ms, "a saturated Retry-After holds the retry")
    ups = pump_until(device, capture, lambda ups: len(ups) >= 3, hold_ms, PERIOD_MS)
    assert [u.status for u in ups][1:] == [503], \
        f"Retry-After: {value} (saturating at 2^32-1 ms) must hold every tick() back; uploads: {ups}"
    assert device.queue_stats()["queued_events"] == 1, "the held event stays queued"
