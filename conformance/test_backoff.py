"""Retry and backoff: growth ×2 within ±25 %, the ceiling, the reset, the status mapping of
retryable answers and byte-identical retries (C23, C25–C27).

Gaps are measured between the server's receive times. The wait starts when the
device has the answer, which is after the server received the request, so a gap is
never below the contract's lower bound (less the device clock's 1 ms resolution);
above the upper bound it may exceed by one tick period plus one request time, which
the transport timeout bounds.
"""

from __future__ import annotations

import pytest

from harness import protocol as P
from harness.conformance_support import (
    starved_ms,
    CLOCK_RESOLUTION_MS,
    pump_until,
    backoff_delays_ms, backoff_window_ms, drain_boot, mandated_wait, names, quiet, raises,
    sized_event, delivered_messages, uploads, user_events,
)

PERIOD_MS = 10
TIMEOUT_MS = 250  # a retryable timeout would follow the same schedule, so this only bounds the slack
SERVER = P.STATUS["SERVER"]


def _gaps_ms(device, ups):
    """(gap, ms the board was starved during it) between consecutive uploads."""
    return [((b.t - a.t) * 1000, starved_ms(device, a.t, b.t)) for a, b in zip(ups, ups[1:])]


def _check_gaps(gaps, delays, what):
    for i, ((gap, starved), b) in enumerate(zip(gaps, delays)):
        lo, hi = backoff_window_ms(b)
        assert lo - CLOCK_RESOLUTION_MS <= gap <= hi + PERIOD_MS + TIMEOUT_MS + starved, (
            f"{what}: wait {i + 1} was {gap:.0f} ms; delay b={b} ms allows {lo}..{hi} ms "
            f"(+{PERIOD_MS} ms tick period, +{TIMEOUT_MS} ms request time). All gaps: "
            f"{[round(g) for g, _ in gaps]}")


@pytest.mark.clause("C23")
def test_backoff_doubles_within_jitter_up_to_the_ceiling_and_resets_after_success(device, capture, request):
    initial, ceiling, failures = 200, 800, 5
    quiet(device, flush_retry_initial_ms=initial, flush_retry_max_ms=ceiling, flush_event_threshold=1,
          transport_timeout_ms=TIMEOUT_MS)
    drain_boot(device, capture)
    delays = backoff_delays_ms(initial, ceiling, failures)  # 200, 400, 800, 800, 800
    capture.add_faults(*[{"status": 503}] * failures)
    device.track("e")
    waits = sum(delays)
    mandated_wait(request, waits, "five backoff delays")
    ups = pump_until(device, capture, lambda ups: len(ups) >= 1 + failures + 1,
                     sum(backoff_window_ms(b)[1] + PERIOD_MS + TIMEOUT_MS for b in delays), PERIOD_MS)[1:]
    assert [u.status for u in ups] == [503] * failures + [204], \
        f"expected {failures} failures then the delivery, got {[u.status for u in ups]}"
    _check_gaps(_gaps_ms(device, ups), delays, "consecutive 503s")

    # after the success the delay is back at the initial value
    capture.add_faults({"status": 503})
    device.track("f")
    mandated_wait(request, initial, "backoff after the reset")
    tail = pump_until(device, capture, lambda ups: len(ups) >= 1 + failures + 1 + 2,
                      backoff_window_ms(initial)[1] + PERIOD_MS + 2 * TIMEOUT_MS, PERIOD_MS)[1 + failures + 1:]
    assert [u.status for u in tail] == [503, 204], tail
    _check_gaps(_gaps_ms(device, tail), [initial], "first failure after a success")
    assert names(user_events(capture.events())) == ["e", "f"]


@pytest.mark.clause("C25", "C37")
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_raises_server_error_and_keeps_the_events(device, capture, status):
    quiet(device)
    drain_boot(device, capture)
    device.track("kept", {"status": status})
    capture.add_faults({"status": status})
    with raises("ServerError", status=SERVER) as err:
        device.flush()
    assert err.classes[:3] == ["ServerError", "TransportError", "HonchError"]
    assert device.queue_stats()["queued_events"] == 1, f"a {status} must keep the events"
    device.flush()
    assert names(user_events(capture.events())) == ["kept"]


@pytest.mark.clause("C26")
def test_202_on_a_single_frame_is_retryable(device, capture):
    quiet(device)
    drain_boot(device, capture)
    device.track("kept")
    capture.add_faults({"status": 202})
    with raises("TransportError", status=P.STATUS["TRANSPORT"]):
        device.flush()
    assert device.queue_stats()["queued_events"] == 1, "202 on the final frame is not a delivery"
    device.flush()
    assert names(user_events(capture.events())) == ["kept"]


@pytest.mark.clause("C26", "C27", "C5")
def test_204_on_a_non_final_frame_is_retryable_and_the_retry_starts_at_offset_0(device, capture):
    quiet(device)
    drain_boot(device, capture)
    boot = delivered_messages(capture)[0][1]
    device.track("big", sized_event(boot, "big", P.SDK_LIMITS.message - 2))
    capture.add_faults({"status": 204})
    with raises("TransportError", status=P.STATUS["TRANSPORT"]):
        device.flush()
    assert device.queue_stats()["queued_events"] == 1, "204 on an init frame is not a delivery"
    device.flush()
    ups = uploads(capture)[1:]
    assert [(u.kind, u.status) for u in ups] == [("init", 204), ("init", 202), ("final", 204)], ups
    assert ups[1].body == ups[0].body, "the retry must resend the init frame byte for byte"
    assert names(user_events(capture.events())) == ["big"]


@pytest.mark.clause("C27")
def test_retry_is_byte_identical_even_after_more_events_were_queued(device, capture):
    quiet(device, batch_size=50)
    drain_boot(device, capture)
    device.track("a")
    device.track("b")
    capture.add_faults({"status": 503}, {"status": 500})
    for _ in range(2):
        with raises("ServerError"):
            device.flush()
        device.track("later")  # must not join the pending message (W5.6)
    device.flush()
    ups = uploads(capture)[1:]
    assert [u.status for u in ups] == [503, 500, 204], ups
    assert ups[0].body == ups[1].body == ups[2].body, "every attempt must send the same bytes"
    assert len({u.stream_id for u in ups}) == 1 and len({u.message_id for u in ups}) == 1
    device.flush()
    assert names(user_events(capture.events())) == ["a", "b", "later", "later"]


@pytest.mark.clause("C27", "C25", "C5")
def test_a_failed_final_frame_restarts_the_message_from_offset_0(device, capture):
    quiet(device)
    drain_boot(device, capture)
    boot = delivered_messages(capture)[0][1]
    device.track("big", sized_event(boot, "big", P.SDK_LIMITS.message - 2))
    first = len(uploads(capture))
    # the init frame is processed normally (202), the final one is answered 503
    capture.add_faults({"delay_ms": 1}, {"status": 503})
    with raises("ServerError"):
        device.flush()
    device.flush()
    ups = uploads(capture)[first:]
    assert [(u.kind, u.status) for u in ups] == [("init", 202), ("final", 503), ("init", 202), ("final", 204)], ups
    assert ups[2].body == ups[0].body and ups[3].body == ups[1].body, "the retry must resend identical frames"
    assert names(user_events(capture.events())) == ["big"]
