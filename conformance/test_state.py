"""Every piece of state an operation must change or keep, and per-event fields of many-event messages.

* ``reset()`` (contract 11.8): distinct id back to ``device_id``, session cleared
  without ``$session_end``, queue and pending message discarded, nothing queued;
  stream id, sequence counter (so message ids), ``queue_stats()`` counters and
  the backoff delay kept.
* ``identify()`` / sessions (11.6, 11.7): which id and session every later event
  carries, and where messages are cut because of them (C40).
* Fields computed per event (name, delta, properties, promoted session) are
  checked on messages holding several events with distinct values.
* The spacing window (7.5) after every kind of outcome, not only success.
"""

from __future__ import annotations

import re

import pytest

from harness import protocol as P
from harness.conformance_support import (
    CLOCK_RESOLUTION_MS, attempts, backoff_window_ms, delivered_messages, drain_boot, mandated_wait, named,
    names, pump_until, quiet, raises, uploads, user_events,
)

SESSION_ID_RE = re.compile(r"^sess_[0-9a-f]{32}$")
COUNTERS = ("high_water_events", "high_water_bytes", "capacity_dropped_events", "oversized_rejected_events",
            "enqueue_failures", "dead_lettered_events")


def _flush_all(device):
    """flush() until the queue is empty (one message per call with the default flush_max_batches)."""
    for _ in range(P.MAX_BATCH_SIZE):
        if device.queue_stats()["queued_events"] == 0:
            return
        device.flush()
    raise AssertionError("flush() did not empty the queue")


@pytest.mark.clause("C10", "C23", "C3", "C43")
def test_reset_keeps_stream_sequence_counters_and_backoff_and_discards_the_pending_message(
        device, capture, request):
    initial = 200
    quiet(device, flush_retry_initial_ms=initial, flush_retry_max_ms=8 * initial, max_queued_events=3)
    drain_boot(device, capture)
    (boot_attempt, _), = delivered_messages(capture)
    for i in range(4):  # one more than the capacity: one capacity drop to keep
        device.track("lost", {"i": i})
    capture.add_faults({"status": 503}, {"status": 503})
    for _ in range(2):  # b grows 200 -> 400 -> 800
        with raises("ServerError"):
            device.flush()
    pending_id = attempts(uploads(capture))[-1].message_id
    before = device.queue_stats()
    device.reset()
    after = device.queue_stats()
    assert after["queued_events"] == 0 and after["queued_bytes"] == 0, f"reset() must empty the queue: {after}"
    for key in COUNTERS:
        assert after[key] == before[key], f"reset() must keep {key}: {before[key]} -> {after[key]}"

    # the next message: the sequence goes on after the four discarded events (boot 1, lost 2-5)
    capture.add_faults({"status": 503})
    device.track("kept")
    with raises("ServerError"):
        device.flush()
    failed = uploads(capture)[-1]
    lo, _ = backoff_window_ms(4 * initial)
    mandated_wait(request, lo)
    ups = pump_until(device, capture, lambda u: len(u) > 0 and u[-1].status == 204, 3000, period_ms=10)
    retry = ups[-1]
    gap_ms = (retry.t - failed.t) * 1000
    assert gap_ms >= lo - CLOCK_RESOLUTION_MS, (
        f"reset() must keep the backoff delay (800 ms after two failures, so at least {lo} ms): "
        f"the retry came after {gap_ms:.0f} ms")
    kept, = [a for a in attempts(ups) if a.delivered and a.message_id != boot_attempt.message_id]
    assert kept.message_id == boot_attempt.message_id + 5, (
        f"message id {kept.message_id}: the sequence counter must go on after reset() "
        f"(boot {boot_attempt.message_id}, four discarded events, so {boot_attempt.message_id + 5})")
    assert kept.message_id != pending_id
    assert {u.stream_id for u in ups} == {boot_attempt.stream_id}, "reset() must keep the stream id"
    assert names(capture.events()) == ["$device_boot", "kept"], "the discarded message was never resent"


@pytest.mark.clause("C10", "C45", "C46")
def test_reset_clears_identity_and_session_for_every_later_call(device, capture):
    quiet(device, batch_size=P.MAX_BATCH_SIZE)
    drain_boot(device, capture)
    device_id = device.get_device_id()
    device.identify("user-1")
    device.session_start("walk")
    device.reset()
    device.session_end()  # no session any more: nothing queued
    assert device.queue_stats()["queued_events"] == 0, "session_end() after reset() must do nothing"
    device.identify("user-2")
    device.track("after")
    _flush_all(device)
    events = capture.events()[1:]
    assert names(events) == ["$identify", "after"], names(events)
    ident, after = events
    assert ident["properties"]["$anon_distinct_id"] == device_id, (
        "after reset() the previous distinct id is device_id again")
    assert after["distinct_id"] == "user-2"
    assert "$session_id" not in ident["properties"] and "$session_id" not in after["properties"]


@pytest.mark.clause("C45", "C40")
def test_each_identify_chains_the_previous_id_and_cuts_the_message_there(device, capture):
    quiet(device, batch_size=P.MAX_BATCH_SIZE)
    drain_boot(device, capture)
    device_id = device.get_device_id()
    device.track("a0")
    device.identify("u1", {"plan": "free"})
    device.track("a1")
    device.identify("u2")
    device.track("a2")
    _flush_all(device)
    msgs = [[(e.name) for e in m.events] for _, m in delivered_messages(capture)[1:]]
    assert msgs == [["a0"], ["$identify", "a1"], ["$identify", "a2"]], (
        f"a message never mixes distinct ids and is otherwise as long as possible: {msgs}")
    events = capture.events()[1:]
    assert [(e["event"], e["distinct_id"]) for e in events] == [
        ("a0", device_id), ("$identify", "u1"), ("a1", "u1"), ("$identify", "u2"), ("a2", "u2")]
    anon = [e["properties"]["$anon_distinct_id"] for e in named(events, "$identify")]
    assert anon == [device_id, "u1"], f"$anon_distinct_id is the id before each identify(): {anon}"
    assert named(events, "$identify")[0]["properties"]["plan"] == "free"


@pytest.mark.clause("C46", "C40")
def test_every_event_carries_the_session_it_was_queued_in(device, capture):
    quiet(device, batch_size=P.MAX_BATCH_SIZE)
    drain_boot(device, capture)
    device.track("before")
    device.session_start("one")
    device.track("in1", {"k": 1})
    device.session_start("two")  # ends "one" first
    device.track("in2", {"k": 2})
    device.session_end()
    device.track("after")
    _flush_all(device)
    events = capture.events()[1:]
    assert names(events) == ["before", "$session_start", "in1", "$session_end", "$session_start", "in2",
                             "$session_end", "after"], names(events)
    sid = [e["properties"].get("$session_id") for e in events]
    first, second = sid[1], sid[4]
    assert SESSION_ID_RE.match(first or "") and SESSION_ID_RE.match(second or "") and first != second, sid
    assert sid == [None, first, first, first, second, second, second, None], (
        f"per event: no session, session one from start to end inclusive, then two, then none: {sid}")
    starts = named(events, "$session_start")
    assert [e["properties"].get("session_name") for e in starts] == ["one", "two"]
    msgs = [[e.name for e in m.events] for _, m in delivered_messages(capture)[1:]]
    assert msgs == [["before"], ["$session_start", "in1", "$session_end"],
                    ["$session_start", "in2", "$session_end"], ["after"]], (
        f"messages are cut exactly where the session changes: {msgs}")


@pytest.mark.clause("C40", "C7")
def test_per_event_fields_of_a_many_event_message_are_each_events_own(device, capture):
    quiet(device, batch_size=P.MAX_BATCH_SIZE)
    drain_boot(device, capture)
    sent = []
    for i in range(6):
        props = {"i": i, "s": "v" * (i + 1), "state": f"st{i}", "neg": -i - 1, "f": i + 0.5,
                 "nested": {"l": list(range(i))}}
        device.track(f"ev{i}", props)
        sent.append((f"ev{i}", props))
        device.pump(30, 10)  # distinct timestamps, at least 30 ms apart
    device.flush()
    (_, msg), = delivered_messages(capture)[1:]
    assert [e.name for e in msg.events] == [n for n, _ in sent], "one message holds all six, in order"
    events = capture.events()[1:]
    for (name, props), e in zip(sent, events):
        got = {k: v for k, v in e["properties"].items() if not k.startswith("$")}
        assert got == props, f"{name}: properties {got}, sent {props}"
    times = [e["timestamp"] for e in events]
    assert all(b - a >= 30 - CLOCK_RESOLUTION_MS for a, b in zip(times, times[1:])), (
        f"each event keeps the time it was queued at (at least 30 ms apart): {times}")
    assert times[0] == msg.base_time_ms, "base_time_ms is the first event's timestamp"


# --- the spacing window after every kind of outcome (contract 7.5) ----------------------------------


SPACING_MS = 600


def _spaced_client_past_its_window(device, capture, request, **overrides):
    """A client with spacing SPACING_MS, its $device_boot delivered and the window it opened passed."""
    quiet(device, flush_min_interval_ms=SPACING_MS, **overrides)
    drain_boot(device, capture)
    mandated_wait(request, SPACING_MS)
    device.pump(SPACING_MS + 50, 10)


def _spacing_refuses_then_allows(device, capture, request, what):
    requests = len(uploads(capture))
    device.track("next")
    with raises("RateLimitedError", status=P.STATUS["RATE_LIMITED"]):
        device.flush()
    assert len(uploads(capture)) == requests, f"after {what}, flush() inside the spacing window made a request"
    mandated_wait(request, SPACING_MS)
    ups = pump_until(device, capture, lambda u: len(u) > requests, 3 * SPACING_MS)
    assert len(ups) > requests, f"after {what}, tick() must send once the spacing window has passed"
    gap_ms = (ups[requests].t - ups[requests - 1].t) * 1000
    assert gap_ms >= SPACING_MS - CLOCK_RESOLUTION_MS, (
        f"after {what}, the next request came {gap_ms:.0f} ms later, inside the {SPACING_MS} ms window")


@pytest.mark.clause("C21", "C42")
def test_a_rejected_upload_opens_the_spacing_window(device, capture, request):
    _spaced_client_past_its_window(device, capture, request)
    device.track("rejected")
    capture.add_faults({"status": 400})
    with raises("RejectedError"):
        device.flush()
    _spacing_refuses_then_allows(device, capture, request, "a 400 answer")


@pytest.mark.clause("C21", "C20")
def test_a_stored_frame_of_a_multi_frame_message_opens_the_spacing_window(device, capture, request):
    from harness.conformance_support import sized_event

    _spaced_client_past_its_window(device, capture, request, batch_size=1, flush_event_threshold=1)
    (_, boot), = delivered_messages(capture)
    device.track("two-frames", sized_event(boot, "two-frames", P.SDK_LIMITS.message - 2))
    requests = len(uploads(capture))
    ups = pump_until(device, capture, lambda u: len(u) > requests, 500)
    assert ups[requests].kind == "init" and ups[requests].status == 202, ups[requests:]
    with raises("RateLimitedError"):
        device.flush()
    assert len(uploads(capture)) == requests + 1, "a 202 on the init frame opens the spacing window"
    mandated_wait(request, SPACING_MS)
    ups = pump_until(device, capture, lambda u: len(u) > requests + 1, 3 * SPACING_MS)
    gap_ms = (ups[requests + 1].t - ups[requests].t) * 1000
    assert ups[requests + 1].kind == "final" and gap_ms >= SPACING_MS - CLOCK_RESOLUTION_MS, (
        f"the final frame came {gap_ms:.0f} ms after the stored init frame; spacing is {SPACING_MS} ms")


@pytest.mark.clause("C21", "C25")
def test_a_retryable_outcome_does_not_open_the_spacing_window(device, capture, request):
    _spaced_client_past_its_window(device, capture, request)
    device.track("retry")
    capture.add_faults({"status": 503})
    with raises("ServerError"):
        device.flush()
    requests = len(uploads(capture))
    device.flush()  # spacing is untouched by a retryable outcome; flush() ignores the backoff
    assert len(uploads(capture)) == requests + 1 and uploads(capture)[-1].status == 204, (
        "after a 503, flush() must send at once: a retryable outcome sets no spacing window")


@pytest.mark.clause("C21", "C41")
def test_a_dead_letter_without_a_request_does_not_open_the_spacing_window(device, capture, request):
    from harness.conformance_support import sized_event

    quiet(device, flush_min_interval_ms=SPACING_MS, batch_size=1)
    drain_boot(device, capture)
    (_, boot), = delivered_messages(capture)
    mandated_wait(request, SPACING_MS)
    device.pump(SPACING_MS + 50, 10)
    device.track("too-big", sized_event(boot, "too-big", P.SDK_LIMITS.message + 1))
    requests = len(uploads(capture))
    with raises("RejectedError"):
        device.flush()
    assert len(uploads(capture)) == requests, "the unencodable event is dead-lettered without a request"
    device.track("fine")
    device.flush()
    assert names(user_events(capture.events())) == ["fine"], (
        "a dead-letter that made no request must not open the spacing window")
