"""Timing rules judged over a series, so that a plausible bug fails every time.

A single backoff wait is checked against ``[b − q − 1 ms, b + q + tick + request]``
(``test_backoff.py``); the upper slack (one tick period and one request time) is
larger than many bugs: a doubled jitter range ``b ± b/2`` stays under it most of the
time, no jitter at all passes every single-sample bound, and a ceiling 25 % too
high hides in the slack. Over a series of waits at a fixed delay the suite can
tell (conformance/README.md, "Timing tolerances", has the figures):

* the lower bound ``b − q`` holds for every sample: a range twice as wide puts a
  sample below it with probability 1/4 each, so 20 samples miss it with
  probability 0.75^20 ≈ 0.3 %;
* the samples spread over at least half the window ``2q``: a wait without jitter
  (or with a quarter of it) cannot (20 correct samples span about 0.9 · 2q);
* what a series cannot catch on every board: a ceiling up to ``q`` too high. The
  request time a gap includes is a few milliseconds on ``host``/``unix`` but
  150 ms and more through the tether of a loaded ``qemu-an385``, so neither a
  single wait nor the median bounds the ceiling tighter than the request time.
"""

from __future__ import annotations

import pytest

from harness.conformance_support import (
    starved_ms,
    CLOCK_RESOLUTION_MS, backoff_window_ms, drain_boot, mandated_wait, pump_until, quiet, raises,
    uploads,
)

PERIOD_MS = 5
TIMEOUT_MS = 250
SAMPLES = 20


def _waits_at_the_ceiling(device, capture, request, initial, ceiling, samples):
    """Gaps (ms) between consecutive 503s once the delay has reached ``ceiling``."""
    quiet(device, flush_retry_initial_ms=initial, flush_retry_max_ms=ceiling, flush_event_threshold=1,
          transport_timeout_ms=TIMEOUT_MS)
    drain_boot(device, capture)
    growth = 0
    b = initial
    while b < ceiling:
        b, growth = min(2 * b, ceiling), growth + 1
    failures = growth + samples + 1
    capture.add_faults(*[{"status": 503}] * failures)
    device.track("e")
    mandated_wait(request, samples * ceiling, f"{samples} backoff waits at the ceiling")
    _, hi = backoff_window_ms(ceiling)
    ups = pump_until(device, capture, lambda ups: len(ups) >= 1 + failures,
                     failures * (hi + PERIOD_MS + TIMEOUT_MS), PERIOD_MS)[1:]
    assert len(ups) >= failures and all(u.status == 503 for u in ups[:failures]), [u.status for u in ups]
    times = [u.t for u in ups[:failures]]
    gaps = [(b - a) * 1000 for a, b in zip(times, times[1:])]
    starved = [starved_ms(device, a, b) for a, b in zip(times, times[1:])]
    return gaps[growth:], starved[growth:]


@pytest.mark.clause("C23")
def test_backoff_waits_at_the_ceiling_fill_the_jitter_window_and_never_leave_it(device, capture, request):
    initial, ceiling = 200, 400
    gaps, starved = _waits_at_the_ceiling(device, capture, request, initial, ceiling, SAMPLES)
    lo, hi = backoff_window_ms(ceiling)
    q = ceiling - lo
    shown = [round(g) for g in gaps]
    assert len(gaps) == SAMPLES, shown
    assert min(gaps) >= lo - CLOCK_RESOLUTION_MS, (
        f"a wait at the ceiling b={ceiling} ms was {min(gaps):.0f} ms, below b - q = {lo} ms: {shown}")
    spread = max(gaps) - min(gaps)
    assert spread >= q, (
        f"{SAMPLES} waits at b={ceiling} ms spread over {spread:.0f} ms; the jitter window is 2q = {2 * q} ms, "
        f"so they must cover at least q = {q} ms: {shown}")
    late = [round(g) for g, s in zip(gaps, starved) if g > hi + PERIOD_MS + TIMEOUT_MS + s]
    assert not late, (
        f"waits at b={ceiling} ms of {late} ms, more than b + q + tick + request time "
        f"(+ the time the board was starved): {shown}")


@pytest.mark.clause("C18")
def test_the_interval_restarts_at_every_attempt_not_at_construction(device, capture, request):
    """``next_interval_at ← now + interval`` after any attempt, failed ones too (contract 7.5).

    The attempts come 600 ms after construction and 600 ms after each other, so an
    interval timed from construction (or from the first attempt only) sends 400 ms
    after an attempt, which the lower bound refuses every time.
    """
    interval_ms, offset_ms = 1000, 600
    quiet(device, flush_interval_seconds=interval_ms // 1000, transport_timeout_ms=TIMEOUT_MS)
    device.pump(offset_ms, PERIOD_MS)
    capture.add_faults({"status": 503})
    with raises("ServerError"):
        device.flush()  # a failed attempt
    device.pump(offset_ms, PERIOD_MS)
    device.flush()  # the boot event, delivered: a second attempt
    first = len(uploads(capture))
    device.track("late")
    mandated_wait(request, 2 * offset_ms + interval_ms, "attempts, then flush_interval_seconds")
    ups = pump_until(device, capture, lambda ups: len(ups) > first, interval_ms + PERIOD_MS + 2 * TIMEOUT_MS,
                     PERIOD_MS)
    assert len(ups) == first + 1, f"expected one interval-driven upload after the attempts: {ups}"
    gap_ms = (ups[first].t - ups[first - 1].t) * 1000
    assert interval_ms - CLOCK_RESOLUTION_MS <= gap_ms <= \
        interval_ms + PERIOD_MS + TIMEOUT_MS + starved_ms(device, ups[first - 1].t, ups[first].t), (
        f"the interval upload came {gap_ms:.0f} ms after the last attempt; the interval ({interval_ms} ms) "
        f"restarts at every attempt")


@pytest.mark.clause("C21")
def test_the_spacing_window_ends_on_time(device, capture, request):
    """The spacing window is long against the request-time slack, so a window twice as long
    (or timed from a later point) goes past the upper bound every time."""
    spacing = 1000
    quiet(device, flush_min_interval_ms=spacing, flush_event_threshold=1, transport_timeout_ms=TIMEOUT_MS)
    drain_boot(device, capture)
    device.track("spaced")
    mandated_wait(request, spacing, "flush_min_interval_ms")
    ups = pump_until(device, capture, lambda ups: len(ups) >= 2, 2 * spacing + PERIOD_MS + TIMEOUT_MS, PERIOD_MS)
    assert len(ups) == 2, ups
    gap_ms = (ups[1].t - ups[0].t) * 1000
    assert spacing - CLOCK_RESOLUTION_MS <= gap_ms <= \
        spacing + PERIOD_MS + TIMEOUT_MS + starved_ms(device, ups[0].t, ups[1].t), (
        f"tick() sent {gap_ms:.0f} ms after the last upload; the window is {spacing} ms "
        f"(+{PERIOD_MS} ms tick period, +{TIMEOUT_MS} ms request time)")
