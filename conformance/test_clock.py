"""Clocks without a valid wall clock: stamping, rebasing, device_time_source (C52, contract 5).

The host board's wall clock is set through the ``wall_clock_ms`` host hook (a
``platform`` hook of the host port that reads exactly the value it was given), so
the boundary of a valid clock, 1577836800000, is tested at the limit and one
millisecond below it. Boards without host hooks skip these tests by capability.
"""

from __future__ import annotations

import calendar
import time

import pytest

from harness import protocol as P
from harness.conformance_support import (
    CLOCK_RESOLUTION_MS, QUIET, attempts, delivered_messages, drain_boot, mandated_wait, pump_until, raises, uploads,
    user_events,
)
from harness.wire.message import DEVICE_TIME_SOURCE_ID

VALID = P.VALID_WALL_CLOCK_MS
#: a valid wall clock well after the boundary
LATER = VALID + 123_456_789

pytestmark = [pytest.mark.clause("C52"), pytest.mark.requires_tags("host_hooks")]


def _clocked(device, wall_ms, **overrides):
    device.init(host_hooks={"wall_clock_ms": wall_ms}, **dict(QUIET, **overrides))


def _source(message) -> int:
    return dict(message.context)[DEVICE_TIME_SOURCE_ID].value


def _stored(capture, name):
    (event,) = [e for e in user_events(capture.events()) if e["event"] == name]
    return event


def test_a_wall_clock_at_the_boundary_is_valid_and_one_ms_below_is_not(device, capture):
    _clocked(device, VALID)
    device.track("at")
    device.flush()
    assert _stored(capture, "at")["timestamp"] == VALID, "a wall clock reading exactly 1577836800000 is valid"
    assert _source(delivered_messages(capture)[-1][1]) == 1

    device.set_wall_clock(VALID - 1)
    device.track("below")
    device.flush()
    stamp = _stored(capture, "below")["timestamp"]
    assert 0 < stamp < VALID - 1, f"with the wall clock 1 ms below valid, the monotonic clock stamps: got {stamp}"
    assert _source(delivered_messages(capture)[-1][1]) == 0, "a timestamp below the valid range: source 0"


def test_events_stamped_without_a_valid_clock_are_rebased_once_it_is_valid(device, capture):
    _clocked(device, VALID - 1)
    device.track("early", {"i": 0})
    t0 = time.monotonic()
    device.track("early", {"i": 1})
    device.pump(50, 10)
    device.track("early", {"i": 2})
    device.set_wall_clock(LATER)
    elapsed_ms = (time.monotonic() - t0) * 1000
    device.flush()
    message = delivered_messages(capture)[-1][1]
    assert _source(message) == 2, "rebased timestamps: device_time_source 2"
    stamps = [e["timestamp"] for e in user_events(capture.events())]
    assert len(stamps) == 3 and stamps == sorted(stamps), stamps
    # rebased: timestamp + (wall - now), where now is at encoding, after every track
    assert all(s <= LATER for s in stamps), f"a rebased timestamp after the wall clock: {stamps}"
    assert stamps[0] >= LATER - elapsed_ms - 1000, f"rebased too far back: {stamps} (wall {LATER})"
    assert stamps[2] - stamps[1] >= 50 - CLOCK_RESOLUTION_MS, \
        f"rebasing must keep the spacing of the monotonic stamps (50 ms pump between them): {stamps}"


def test_a_message_sent_once_is_resent_unchanged_when_the_clock_becomes_valid(device, capture):
    _clocked(device, VALID - 1, flush_retry_initial_ms=100)
    device.track("kept")
    capture.add_faults({"status": 503})
    with raises("ServerError"):
        device.flush()
    device.set_wall_clock(LATER)
    device.flush()
    tries = [u for u in uploads(capture) if u.body]
    assert len(tries) >= 2 and tries[-1].body == tries[-2].body, "the retry must repeat the first attempt's bytes"
    assert attempts(uploads(capture))[-1].delivered
    stamp = _stored(capture, "kept")["timestamp"]
    assert stamp < VALID, f"a message already sent is not rebased (W5.6): stored {stamp}"
    assert _source(delivered_messages(capture)[-1][1]) == 0


def _edge_dates():
    """Valid IMF-fixdates on every month, every weekday name and each field's range edge."""
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    out = ["Mon, 01 Jan 2035 00:00:00 GMT"]
    for m in range(1, 13):
        year = 2036 if m == 2 else 2035  # 29 February of a leap year
        last = calendar.monthrange(year, m)[1]
        second = 60 if m % 2 else 59     # a leap second is a valid second
        out.append(f"{days[m % 7]}, {last:02d} {months[m - 1]} {year} 23:59:{second:02d} GMT")
    return out


def _date_ms(text: str) -> int:
    parsed = time.strptime(text.replace(":60 ", ":59 "), "%a, %d %b %Y %H:%M:%S GMT")
    return (calendar.timegm(parsed) + (1 if ":60 " in text else 0)) * 1000


@pytest.mark.clause("C24", "C52")
def test_retry_after_dates_on_every_month_weekday_and_field_edge_hold_the_retry(device, capture, request):
    """With the wall clock set 500 ms before each date, the retry waits those 500 ms,
    not the 100 ms backoff a refused date would leave."""
    hold = 500
    _clocked(device, VALID, flush_retry_initial_ms=100, flush_event_threshold=1, transport_timeout_ms=500)
    drain_boot(device, capture)
    short = {}
    for date in _edge_dates():
        device.set_wall_clock(_date_ms(date) - hold)
        device.track("held", {"date": date})
        capture.add_faults({"status": 503, "headers": {"Retry-After": date}})
        with raises("ServerError"):
            device.flush()
        mandated_wait(request, hold, f"Retry-After {date}")
        before = len(uploads(capture))
        ups = pump_until(device, capture, lambda ups: len(ups) > before, hold + 1000, 10)
        if len(ups) <= before:
            short[date] = "no retry"
            continue
        gap_ms = (ups[before].t - ups[before - 1].t) * 1000
        if gap_ms < hold - CLOCK_RESOLUTION_MS:
            short[date] = f"retry after {gap_ms:.0f} ms"
    assert not short, f"valid Retry-After dates {hold} ms ahead of the wall clock must hold the retry: {short}"
