"""Soak: a few hundred events under a seeded random schedule of faults.

The device tracks numbered events while the capture server answers with 429s, 5xx,
409s, 408s, 202s on final frames, closed connections, lost responses and slow
answers (some within the transport timeout, some past it, which the server then
stores after the device gave up). At the end, from the server's records alone:

* every tracked event was stored at least once;
* a message was stored more than once only where the device did not get the answer
  in time (a lost response, an answer past the timeout, a tether reply after the
  device's deadline, a timeout the device reported: ``unexcused_duplicates``);
* events of a stream were stored in queueing order (ignoring such repeats);
* ``queue_stats()`` accounts for every event: enqueued = delivered + dropped +
  dead-lettered + still queued.

The schedule comes from a seed (printed, and in every failure message); set
``HONCH_HIL_SOAK_SEED`` to replay one. ``--soak N`` multiplies the event count.
"""

from __future__ import annotations

import os
import random
import secrets

import pytest

from harness import protocol as P
from harness.agent.client import RemoteError
from harness.agent.codec import EventBuffer
from harness.conformance_support import (
    MissedAnswers, TetherTimes, attempts, quiet, unexcused_duplicates, uploads,
)

SEED_ENV = "HONCH_HIL_SOAK_SEED"
EVENTS_PER_SCALE = 200
TIMEOUT_MS = 300
#: answers slower than the timeout, but stored by the server when they finally come
LATE_MS = TIMEOUT_MS + 300
PERIOD_MS = 5

FAULTS = (
    ({"status": 429}, 3),
    ({"status": 429, "headers": {"Retry-After": "0"}}, 1),
    ({"status": 500}, 2),
    ({"status": 503}, 3),
    ({"status": 408}, 1),
    ({"status": 409}, 2),
    ({"status": 202}, 1),
    ({"close": True}, 2),
    ({"lose_response": True}, 3),
    ({"delay_ms": 40}, 2),
    ({"delay_ms": LATE_MS}, 1),
)


def _flush(device, capture, device_timeouts: set, replay: str) -> None:
    """flush(); a TIMEOUT it raises means the device missed the answer of the request in flight."""
    try:
        device.flush()
    except RemoteError as exc:
        assert exc.is_a("TransportError"), f"flush() raised {exc} {replay}"
        timeout = P.STATUS["TIMEOUT"]
        if exc.status == timeout or (exc.status is None and exc.message == P.STATUSES[timeout][1]):
            last = uploads(capture)[-1:]
            if last:
                device_timeouts.add((last[0].stream_id, last[0].message_id))


def _stored_copies(events):
    """Stored messages in store order: (stream id, message id, [n...]) per copy."""
    copies = []
    for e in events:
        meta = e["_meta"]
        key = (meta["stream_id"], meta["message_id"], meta["received_at"])
        if not copies or copies[-1][0] != key:
            copies.append((key, []))
        copies[-1][1].append(e["properties"].get("n"))
    return [(k[0], k[1], ns) for k, ns in copies]


@pytest.mark.slow
@pytest.mark.clause("C38", "C27", "C25", "C43")
def test_soak_under_random_faults(device, capture, request):
    seed = int(os.environ.get(SEED_ENV) or secrets.randbits(32))
    scale = max(1, request.config.getoption("--soak"))
    total = EVENTS_PER_SCALE * scale
    replay = f"(soak seed {seed}; replay with {SEED_ENV}={seed})"
    print(f"soak: {total} events, seed {seed}")
    rng = random.Random(seed)
    quiet(device, batch_size=rng.choice([1, 4, 10, 20]), flush_event_threshold=rng.randint(1, 8),
          flush_max_batches=2, flush_retry_initial_ms=20, flush_retry_max_ms=160,
          transport_timeout_ms=TIMEOUT_MS, event_buffer=EventBuffer(32768), max_queued_events=2000)
    fault_kinds = [f for f, _ in FAULTS]
    weights = [w for _, w in FAULTS]
    device_timeouts: set = set()
    with TetherTimes(device.board) as tether:
        tracked = 0
        while tracked < total:
            for _ in range(min(rng.randint(1, 6), total - tracked)):
                device.track("soak", {"n": tracked, "pad": "x" * rng.randint(0, 40)})
                tracked += 1
            if rng.random() < 0.4:
                capture.add_faults(*rng.choices(fault_kinds, weights, k=rng.randint(1, 3)))
            if rng.random() < 0.25:
                _flush(device, capture, device_timeouts, replay)
            else:
                device.pump(rng.randint(10, 120), PERIOD_MS)

        capture.clear_faults()
        for _ in range(total):
            if device.queue_stats()["queued_events"] == 0:
                break
            _flush(device, capture, device_timeouts, replay)
        # answers past the timeout are stored when they finally come
        late = [u for u in uploads(capture) if (u.fault or {}).get("delay_ms", 0) >= LATE_MS]
        if late:
            device.pump(LATE_MS, PERIOD_MS)

    stats = device.queue_stats()
    events = capture.events()
    copies = _stored_copies([e for e in events if e["event"] == "soak"])
    stored = {n for _, _, ns in copies for n in ns}
    missing = sorted(set(range(total)) - stored)
    assert not missing, f"{len(missing)} tracked events never stored, first {missing[:10]} {replay}"

    # A message is stored again only where the device did not get the answer in time
    # (server-injected loss, an answer held past the timeout, a late tether reply, a
    # timeout the device reported); never otherwise.
    missed = MissedAnswers(TIMEOUT_MS, tether.late, device_timeouts)
    unexcused = unexcused_duplicates(attempts(uploads(capture)), missed)
    assert not unexcused, f"{unexcused[0]} ({len(unexcused)} in all) {replay}"
    seen: dict[tuple, int] = {}
    last_n: dict[str, int] = {}
    for stream, message_id, ns in copies:
        key = (stream, message_id)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            continue  # an excused repeat (checked above)
        assert ns == sorted(ns) and ns[0] > last_n.get(stream, -1), (
            f"stream {stream}: message {message_id} holds events {ns} after event {last_n.get(stream)} "
            f"was stored: queueing order broken {replay}")
        last_n[stream] = ns[-1]

    ups = uploads(capture)
    repeats = sum(n - 1 for n in seen.values())
    print(f"soak: {len(ups)} requests, {sum(1 for u in ups if u.fault)} faulted, "
          f"{len(tether.late)} tether replies late, {len(device_timeouts)} device timeouts, "
          f"{repeats} messages stored twice")
    delivered = len(stored) + (1 if any(e["event"] == "$device_boot" for e in events) else 0)
    enqueued = total + 1
    accounted = (delivered + stats["capacity_dropped_events"] + stats["dead_lettered_events"]
                 + stats["queued_events"])
    assert accounted == enqueued, (
        f"queue_stats() accounting: {enqueued} enqueued, but delivered {delivered} + dropped "
        f"{stats['capacity_dropped_events']} + dead-lettered {stats['dead_lettered_events']} + queued "
        f"{stats['queued_events']} = {accounted} {replay}")
    assert stats["queued_events"] == 0, f"events left queued after the final flushes: {stats} {replay}"
