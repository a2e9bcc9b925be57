"""Queue: order, capacity, the byte store, message formation and queue_stats (C38–C44)."""

from __future__ import annotations

import pytest

from harness import protocol as P
from harness.agent.codec import ONLINE_CALLBACK, EventBuffer
from harness.conformance_support import (
    delivered_messages, drain_boot, flush_all, quiet, raises, uploads, user_events,
)
from harness.wire import Event, WireError, decode_message, encode_message


@pytest.mark.clause("C38")
def test_events_go_out_in_queueing_order_and_capacity_drops_the_oldest(device, capture):
    capacity = 5
    quiet(device, max_queued_events=capacity, batch_size=2)
    for i in range(capacity + 2):
        device.track("e", {"i": i})  # with $device_boot: 8 enqueues, 3 dropped
    stats = device.queue_stats()
    assert stats["queued_events"] == capacity and stats["capacity_dropped_events"] == 3, stats
    flush_all(device)
    got = [e["properties"]["i"] for e in capture.events()]
    assert got == [2, 3, 4, 5, 6], f"the newest {capacity} events, oldest first, got {got}"


@pytest.mark.clause("C39", "C37")
def test_a_record_larger_than_the_event_buffer_is_refused_and_evicts_nothing(device, capture):
    quiet(device, event_buffer=EventBuffer(1024))
    drain_boot(device, capture)
    device.track("small", {"i": 1})
    device.track("small", {"i": 2})
    before = device.queue_stats()
    with raises("StorageError", status=P.STATUS["QUEUE_FULL"]):
        device.track("huge", {"a": "x" * 500, "b": "y" * 500, "c": "z" * 500})
    after = device.queue_stats()
    assert after["oversized_rejected_events"] == before["oversized_rejected_events"] + 1, after
    assert after["queued_events"] == 2 and after["capacity_dropped_events"] == before["capacity_dropped_events"]
    device.flush()
    assert [e["properties"]["i"] for e in user_events(capture.events())] == [1, 2]


@pytest.mark.clause("C40")
def test_messages_hold_at_most_batch_size_events(device, capture):
    quiet(device, batch_size=3)
    for i in range(6):
        device.track("e", {"i": i})
    flush_all(device)
    assert [len(m.events) for _, m in delivered_messages(capture)] == [3, 3, 1]


@pytest.mark.clause("C40", "C4")
def test_a_message_is_the_longest_prefix_within_the_sdk_limits(device, capture):
    quiet(device, batch_size=P.MAX_BATCH_SIZE)
    drain_boot(device, capture)
    # each event carries 450 distinct string bytes: 2048 string bytes per message cut the batch
    sent_props = [{"text": chr(ord("a") + i) * 450, "i": i} for i in range(9)]
    for props in sent_props:
        device.track("wide", props)
    flush_all(device)
    sent = delivered_messages(capture)[1:]
    counts = [len(m.events) for _, m in sent]
    assert sum(counts) == 9 and len(counts) > 1, counts
    queue = [e for _, m in sent for e in m.events]
    used = 0
    for (a, m), n in zip(sent, counts):
        used += n
        if used == len(queue):
            break
        # one more event (the next one queued) must break an SDK limit
        nxt = queue[used]
        base = m.base_time_ms
        extra = Event(nxt.name, _delta(sent, used, base), nxt.properties)
        bigger = type(m)(base, list(m.context), list(m.events) + [extra])
        try:
            decode_message(encode_message(bigger), P.SDK_LIMITS)
        except WireError as exc:
            assert exc.status == 413, exc
        else:
            raise AssertionError(f"message {a.message_id} holds {n} events but {n + 1} fit the SDK limits")


def _delta(sent, index, base):
    """The time delta of the index-th queued event relative to ``base``."""
    for _, m in sent:
        if index < len(m.events):
            e = m.events[index]
            return m.base_time_ms + e.time_delta_ms - base
        index -= len(m.events)
    raise IndexError(index)


@pytest.mark.clause("C43")
def test_queue_stats_has_the_nine_keys_and_monotonic_high_water_marks(device, capture):
    quiet(device, max_queued_events=4)
    history = [device.queue_stats()]

    def step(action):
        action()
        history.append(device.queue_stats())

    for i in range(6):
        step(lambda: device.track("e", {"pad": "x" * 40}))
    step(device.flush)
    step(lambda: device.track("f"))
    step(device.reset)
    step(lambda: device.track("g"))
    for stats in history:
        assert sorted(stats) == sorted(P.QUEUE_STATS_KEYS), f"queue_stats() keys: {sorted(stats)}"
        for k, v in stats.items():
            assert type(v) is int and v >= 0, f"{k} = {v!r}"
    for a, b in zip(history, history[1:]):
        for k in ("high_water_events", "high_water_bytes", "capacity_dropped_events", "oversized_rejected_events",
                  "enqueue_failures", "dead_lettered_events"):
            assert b[k] >= a[k], f"{k} decreased from {a[k]} to {b[k]}"
    assert history[-1]["high_water_events"] == 4 and history[-1]["capacity_dropped_events"] == 3
    assert all(s["queued_bytes"] <= s["high_water_bytes"] for s in history)
    assert history[-2]["queued_events"] == 0 and history[-2]["queued_bytes"] == 0, "reset() empties the queue"


@pytest.mark.clause("C43", "C38", "C42")
def test_queue_stats_account_for_every_event_the_server_did_not_store(device, capture):
    quiet(device, max_queued_events=4, batch_size=2)
    for i in range(6):
        device.track("e", {"i": i})  # with $device_boot: 7 enqueues, the 3 oldest dropped
    capture.add_faults({"status": 422})
    with raises("RejectedError"):
        device.flush()  # dead-letters e2, e3
    device.flush()      # delivers e4, e5
    device.track("e", {"i": 6})
    device.track("e", {"i": 7})
    stats = device.queue_stats()
    stored = [e["properties"]["i"] for e in capture.events()]
    assert stored == [4, 5], stored
    enqueued = 1 + 8
    accounted = len(stored) + stats["capacity_dropped_events"] + stats["dead_lettered_events"] + stats["queued_events"]
    assert accounted == enqueued, (
        f"{enqueued} events enqueued; the server stored {len(stored)}, queue_stats() says dropped "
        f"{stats['capacity_dropped_events']}, dead-lettered {stats['dead_lettered_events']}, queued "
        f"{stats['queued_events']}")
    assert (stats["capacity_dropped_events"], stats["dead_lettered_events"], stats["queued_events"]) == (3, 2, 2)


@pytest.mark.clause("C44")
@pytest.mark.requires_tags("micropython")
def test_micropython_queue_lives_in_the_event_buffer(device, capture):
    buffer = EventBuffer(8192, name="c44")
    quiet(device, event_buffer=buffer, connectivity_callback=ONLINE_CALLBACK)
    for i in range(5):
        device.track("left-behind", {"i": i})
    stats = device.queue_stats()
    assert stats["buffer_bytes"] == 8192 and stats["queued_events"] == 6, stats
    device.set_online(False)
    device.shutdown()  # offline (whether it then sends is C9's test): the client lets go of the buffer
    quiet(device, event_buffer=buffer)
    stats = device.queue_stats()
    assert stats["queued_events"] == 1, f"a new client over the same buffer starts with its own $device_boot: {stats}"


def _own(capture):
    """The properties the test set on each stored user event (no automatic ones)."""
    return [{k: v for k, v in e["properties"].items() if not k.startswith("$")} for e in user_events(capture.events())]


@pytest.mark.clause("C38")
def test_the_queue_keeps_order_and_values_while_it_wraps_around_its_buffer(device, capture):
    """A queue that is never empty cycles through its event_buffer many times over.

    Rounds of two tracks and one flush of two events keep a few events queued, so
    the records go round the 1 KiB buffer, wrapping at its end with varied record
    sizes; then the buffer fills while wrapped and drops the oldest. Every event
    and value must arrive once, in order, and queue_stats() must count each drop.
    """
    quiet(device, event_buffer=EventBuffer(1024), batch_size=2, connectivity_callback=ONLINE_CALLBACK)
    drain_boot(device, capture)
    sent = []

    def track(i):
        props = {"i": i, "pad": "p" * (i * 7 % 23)}
        device.track("w", props)
        sent.append(props)

    for i in range(6):  # a standing queue
        track(i)
    for i in range(6, 96, 2):
        track(i)
        track(i + 1)
        device.flush()  # two events out, two in: the records move round the buffer
    assert device.queue_stats()["capacity_dropped_events"] == 0
    flush_all(device)
    got = _own(capture)
    assert got == sent, f"events lost, repeated, reordered or changed while the queue wrapped: " \
                        f"{len(got)} of {len(sent)} arrived, first difference at " \
                        f"{next((k for k, (a, b) in enumerate(zip(got, sent)) if a != b), min(len(got), len(sent)))}"

    # now fill the buffer while it is wrapped: the oldest go, the newest stay
    for i in range(96, 100):
        track(i)
    device.flush()  # leaves the rest queued at an offset inside the buffer
    first = len(_own(capture))
    i = 100
    while device.queue_stats()["capacity_dropped_events"] == 0:
        track(i)
        i += 1
        assert i < 400, "a 1 KiB event_buffer never filled"
    dropped = device.queue_stats()["capacity_dropped_events"]
    queued = device.queue_stats()["queued_events"]
    flush_all(device)
    tail = _own(capture)[first:]
    pending = sent[first:]
    assert tail == pending[len(pending) - queued:], "after drops the newest events must remain, oldest first"
    assert len(pending) - len(tail) == dropped, f"{len(pending) - len(tail)} events were lost, {dropped} counted"
