"""Scheduling rules at their exact millisecond, on a monotonic clock the test sets
(host hook ``monotonic_ms``): C18 (interval), C21 (spacing), C23 (backoff formula and
its worked vector).

On a real clock a rule that is off by one millisecond, or whose jitter range is
doubled, hides inside the tolerance a timing test needs. With the client's clock
standing still until the test moves it, each rule is checked at its boundary: one
millisecond before it nothing is sent, at it the request goes out. Boards without
host hooks skip these by capability; the timing tests on real clocks still run
everywhere.
"""

from __future__ import annotations

import pytest

from harness import protocol as P
from harness.conformance_support import QUIET, drain_boot, raises, uploads

pytestmark = pytest.mark.requires_tags("host_hooks")

#: far from 0, so that `now % (2q + 1)` takes varied values
START_MS = 1_000_000


def _client(device, capture, now=START_MS, **config):
    device.init(host_hooks={"monotonic_ms": now}, **dict(QUIET, **config))
    drain_boot(device, capture)


def _requests(capture) -> int:
    return len(uploads(capture))


def _tick_at(device, capture, ms) -> int:
    """Set the clock to ``ms``, tick once; the number of requests that tick made."""
    before = _requests(capture)
    device.set_monotonic(ms)
    device.tick()
    return _requests(capture) - before


def _first_moment_it_sends(device, capture, expected_ms):
    """One tick one millisecond before ``expected_ms`` (nothing), one at it (a request)."""
    early = _tick_at(device, capture, expected_ms - 1)
    on_time = _tick_at(device, capture, expected_ms)
    return early, on_time


@pytest.mark.clause("C23", "C24")
def test_the_worked_vector_of_section_9(device, capture):
    """now 10000, initial 1000, max 10000, 429 with Retry-After 7: next_retry_at is 17000
    exactly, and a success there resets the delay to 1000."""
    _client(device, capture, now=10_000, flush_retry_initial_ms=1000, flush_retry_max_ms=10_000)
    device.track("held")
    capture.add_faults({"status": 429, "headers": {"Retry-After": "7"}})
    with raises("RateLimitedError"):
        device.flush()
    assert _first_moment_it_sends(device, capture, 17_000) == (0, 1), \
        "after the worked vector's 429 the retry is due at 17000 exactly, not before"
    assert device.queue_stats()["queued_events"] == 0
    # b is back at 1000: the next failure at 20000 waits 750 + 20000 % 501 = 750 + 461
    device.set_monotonic(20_000)
    device.track("again")
    capture.add_faults({"status": 503})
    with raises("ServerError"):
        device.flush()
    assert _first_moment_it_sends(device, capture, 20_000 + 750 + 20_000 % 501) == (0, 1)


@pytest.mark.clause("C23")
def test_each_backoff_delay_is_its_jittered_formula_to_the_millisecond(device, capture):
    """Section 9: wait = (b - b//4) + now % (2*(b//4) + 1), b doubling up to the maximum,
    for a series of failures at varied times."""
    initial, maximum = 400, 3000
    _client(device, capture, flush_retry_initial_ms=initial, flush_retry_max_ms=maximum)
    device.track("held")
    capture.add_faults({"status": 503})
    with raises("ServerError"):
        device.flush()
    now, b, wrong = START_MS, initial, []
    for attempt in range(6):
        q = b // 4
        due = now + (b - q) + now % (2 * q + 1)
        capture.add_faults({"status": 503})
        got = _first_moment_it_sends(device, capture, due)
        if got != (0, 1):
            wrong.append(f"attempt {attempt + 1}: b={b} at now={now}: expected the retry at {due} exactly, "
                         f"ticks at {due - 1}/{due} made {got[0]}/{got[1]} requests")
            break
        now, b = due, min(2 * b, maximum)
    assert not wrong, "; ".join(wrong)


@pytest.mark.clause("C18")
def test_the_interval_upload_is_due_at_its_exact_millisecond(device, capture):
    """7.2: next_interval_at = now + interval at construction and after each upload; a tick
    at that moment sends, one millisecond before it does not."""
    interval_s = 5
    _client(device, capture, flush_interval_seconds=interval_s)
    device.track("a")
    first = START_MS + interval_s * 1000
    assert _first_moment_it_sends(device, capture, first) == (0, 1), \
        f"the interval upload is due {interval_s} s after construction, to the millisecond"
    device.track("b")
    assert _first_moment_it_sends(device, capture, first + interval_s * 1000) == (0, 1), \
        "the next interval counts from the last upload"


@pytest.mark.clause("C21")
def test_the_spacing_window_ends_at_its_exact_millisecond(device, capture):
    """C21: after an upload at t, flush() before t + flush_min_interval_ms raises
    RateLimitedError and sends nothing; at it, it sends."""
    spacing = 1500
    _client(device, capture, flush_min_interval_ms=spacing)  # its $device_boot upload at START_MS opens the window
    device.track("b")
    device.set_monotonic(START_MS + spacing - 1)
    before = _requests(capture)
    with raises("RateLimitedError", status=P.STATUS["RATE_LIMITED"]):
        device.flush()
    assert _requests(capture) == before, "flush() inside the spacing window made a request"
    device.set_monotonic(START_MS + spacing)
    device.flush()
    assert _requests(capture) == before + 1, "flush() at the end of the spacing window must send"
