"""Every bound of the contract and the wire spec, at its exact limit and one past it.

Each test builds the case that sits exactly on a limit and the case one unit past
it, from the numbers in ``harness.protocol``, and judges both from the server's
records. Byte budgets of a message (W8) are enforced by the core itself when it
forms a message (contract 6.3), not by the wrapper's argument checks, so the
cases past them are valid ``track()`` calls that the core must dead-letter
without a request (C41).
"""

from __future__ import annotations

import pytest

from harness import protocol as P
from harness.agent.device import OMIT
from harness.conformance_support import (
    attempts, delivered_messages, drain_boot, named, quiet, raises, single_event_message, sized_event,
    uploads, user_events,
)
from harness.wire import string_table, uvarint_size

INVALID = P.STATUS["INVALID_ARGUMENT"]
REJECTED = P.STATUS["REJECTED"]
#: W5.2/W5.5: a single frame is the header byte, the message id, the payload and a 2-byte CRC
SINGLE_FRAME_OVERHEAD = 1 + 2


def _reference(device, capture):
    """A just-sent one-event message: the context and base-time size later messages repeat.

    A board without a valid wall clock stamps events with its monotonic clock, whose
    varint grows a byte at 16.384 s and 2097.152 s; a reference taken within 10 s of
    such a step is taken again after it, so byte-exact sizes hold for the next events.
    """
    drain_boot(device, capture)
    while True:
        device.track("ref")
        device.flush()
        attempt, ref = delivered_messages(capture)[-1]
        if uvarint_size(ref.base_time_ms) == uvarint_size(ref.base_time_ms + 10_000):
            return attempt, ref
        device.pump(10_000, 100)


def _assert_sent_alone(device, capture, name, props, why):
    before = len(uploads(capture))
    device.track(name, props)
    device.flush()
    got = [m for a, m in delivered_messages(capture)[1:] if any(e.name == name for e in m.events)]
    assert got, f"{why}: the event was not delivered ({len(uploads(capture)) - before} requests)"
    return got[-1]


def _assert_dead_lettered(device, capture, name, props, why):
    """``track()`` accepts it; ``flush()`` dead-letters it without a request (C41)."""
    stats = device.queue_stats()
    requests = len(uploads(capture))
    device.track(name, props)
    with raises("RejectedError", status=REJECTED):
        device.flush()
    assert len(uploads(capture)) == requests, f"{why}: the core made a request for an event that cannot fit"
    after = device.queue_stats()
    assert after["dead_lettered_events"] == stats["dead_lettered_events"] + 1, (
        f"{why}: dead_lettered_events {stats['dead_lettered_events']} -> {after['dead_lettered_events']}")
    assert after["queued_events"] == 0, f"{why}: the event is still queued"


# --- W5.4 / W8: frame and message bytes ---------------------------------------------------------


@pytest.mark.clause("C4", "C5")
def test_a_message_fills_one_frame_up_to_the_frame_limit_and_takes_two_one_byte_past(device, capture):
    quiet(device, batch_size=1, flush_max_batches=1)
    boot_attempt, boot = _reference(device, capture)
    for extra, frames in ((0, ["single"]), (1, ["init", "final"])):
        next_id = boot_attempt.message_id + (1 if extra == 0 else 2)  # one event per message
        length = P.SDK_LIMITS.frame - SINGLE_FRAME_OVERHEAD - uvarint_size(next_id) + extra
        device.track("edge", sized_event(boot, "edge", length))
        device.flush()
        a = attempts(uploads(capture))[-1]
        assert a.message_id == next_id, f"message id {a.message_id}, expected seed + sequence = {next_id} (C3)"
        assert [u.kind for u in a.uploads] == frames, (
            f"a {length}-byte message with id {next_id} must travel as {frames}, went as "
            f"{[u.kind for u in a.uploads]} (frame sizes {[len(u.body) for u in a.uploads]})")
        assert max(len(u.body) for u in a.uploads) <= P.SDK_LIMITS.frame
        if extra == 0:
            assert len(a.uploads[0].body) == P.SDK_LIMITS.frame, "the single frame is exactly the frame limit"
        assert len(a.data) == length and a.delivered


@pytest.mark.clause("C40", "C41")
def test_a_message_of_exactly_the_message_limit_is_sent_and_one_byte_more_is_dead_lettered(device, capture):
    quiet(device, batch_size=1, max_event_bytes=P.CONFIG_DEFAULTS["max_event_bytes"])
    _, boot = _reference(device, capture)
    props = sized_event(boot, "full", P.SDK_LIMITS.message)
    sent = _assert_sent_alone(device, capture, "full", props, "a message of exactly 4096 bytes")
    assert [e.name for e in sent.events] == ["full"]
    assert len(attempts(uploads(capture))[-1].data) == P.SDK_LIMITS.message
    _assert_dead_lettered(device, capture, "over", sized_event(boot, "over", P.SDK_LIMITS.message + 1),
                          "a message of 4097 bytes")


@pytest.mark.clause("C40", "C41")
def test_a_string_of_512_bytes_is_sent_and_one_of_513_is_dead_lettered(device, capture):
    quiet(device, batch_size=1)
    _reference(device, capture)
    limit = P.SDK_LIMITS.string_bytes
    sent = _assert_sent_alone(device, capture, "s512", {"s": "x" * limit}, "a 512-byte string")
    assert dict(sent.events[0].properties)["s"] == "x" * limit
    _assert_dead_lettered(device, capture, "s513", {"s": "y" * (limit + 1)}, "a 513-byte string")


def _list_for_entries(boot, name: str, entries: int) -> dict:
    """Properties whose single-event message has exactly ``entries`` string-table entries."""
    base = len(string_table(single_event_message(boot, name, {"l": []})))
    return {"l": [f"e{i}" for i in range(entries - base)]}


@pytest.mark.clause("C40", "C41")
def test_128_string_table_entries_are_sent_and_129_are_dead_lettered(device, capture):
    quiet(device, batch_size=1)
    _, boot = _reference(device, capture)
    limit = P.SDK_LIMITS.strings
    props = _list_for_entries(boot, "t128", limit)
    assert len(string_table(single_event_message(boot, "t128", props))) == limit
    sent = _assert_sent_alone(device, capture, "t128", props, "128 string-table entries")
    assert dict(sent.events[0].properties)["l"] == props["l"]
    _assert_dead_lettered(device, capture, "t129", _list_for_entries(boot, "t129", limit + 1),
                          "129 string-table entries")


def _strings_for_bytes(boot, name: str, total: int) -> dict:
    """Properties whose message's strings add up to exactly ``total`` bytes, none above 512."""
    def table_bytes(props):
        return sum(len(s.encode()) for s in string_table(single_event_message(boot, name, props)))

    base = table_bytes({f"s{i}": "" for i in range(5)})
    left, props = total - base, {}
    for i in range(5):
        n = min(left, P.SDK_LIMITS.string_bytes - 12)
        props[f"s{i}"] = chr(ord("a") + i) * n
        left -= n
    assert left == 0 and table_bytes(props) == total, "the test's own arithmetic"
    return props


@pytest.mark.clause("C40", "C41")
def test_2048_string_bytes_in_a_message_are_sent_and_2049_are_dead_lettered(device, capture):
    quiet(device, batch_size=1)
    _, boot = _reference(device, capture)
    limit = P.SDK_LIMITS.all_string_bytes
    _assert_sent_alone(device, capture, "b2048", _strings_for_bytes(boot, "b2048", limit), "2048 string bytes")
    _assert_dead_lettered(device, capture, "b2049", _strings_for_bytes(boot, "b2049", limit + 1),
                          "2049 string bytes")


# --- queue and scheduling counts -----------------------------------------------------------------


@pytest.mark.clause("C38", "C43")
def test_a_full_queue_drops_nothing_and_one_event_more_drops_exactly_the_oldest(device, capture):
    capacity = 6
    quiet(device, max_queued_events=capacity, batch_size=P.MAX_BATCH_SIZE)
    for i in range(capacity - 1):  # $device_boot is the first of the six
        device.track("q", {"i": i})
    assert device.queue_stats()["queued_events"] == capacity
    assert device.queue_stats()["capacity_dropped_events"] == 0, "a queue at capacity drops nothing"
    device.track("q", {"i": capacity - 1})
    stats = device.queue_stats()
    assert stats["capacity_dropped_events"] == 1 and stats["queued_events"] == capacity, stats
    device.flush()
    events = capture.events()
    assert [e["event"] for e in events] == ["q"] * capacity, "exactly the oldest ($device_boot) was dropped"
    assert [e["properties"]["i"] for e in events] == list(range(capacity))


@pytest.mark.clause("C18")
def test_tick_sends_at_exactly_the_event_threshold_and_not_one_event_before(device, capture):
    threshold = 4
    quiet(device, flush_event_threshold=threshold, batch_size=P.MAX_BATCH_SIZE)
    drain_boot(device, capture)
    before = len(uploads(capture))
    for i in range(threshold - 1):
        device.track("t", {"i": i})
    device.pump(150, 10)
    assert len(uploads(capture)) == before, f"{threshold - 1} queued events are below the threshold of {threshold}"
    device.track("t", {"i": threshold - 1})
    device.pump(150, 10)
    sent = delivered_messages(capture)[1:]
    assert [len(m.events) for _, m in sent] == [threshold], (
        f"the {threshold}th event must make tick() send all {threshold} in one message: {sent}")


@pytest.mark.clause("C19")
@pytest.mark.requires_tags("flush_max_batches")
def test_flush_sends_exactly_flush_max_batches_messages(device, capture):
    quiet(device, batch_size=1, flush_max_batches=3)
    drain_boot(device, capture)
    for i in range(4):
        device.track("m", {"i": i})
    device.flush()
    assert len(delivered_messages(capture)) == 1 + 3, "flush_max_batches=3 sends three messages, not four"
    assert device.queue_stats()["queued_events"] == 1


# --- API argument bounds ---------------------------------------------------------------------------


CONFIG_STRING_BOUNDS = (
    ("device_id", P.MAX_DEVICE_ID_BYTES, "$device_id"),
    ("device_model", P.MAX_CONFIG_STRING_BYTES, "$device_model"),
    ("firmware_version", P.MAX_CONFIG_STRING_BYTES, "$firmware_version"),
    ("environment", P.MAX_CONFIG_STRING_BYTES, "$environment"),
)


@pytest.mark.clause("C11")
@pytest.mark.parametrize("key,limit,promoted", CONFIG_STRING_BOUNDS, ids=[b[0] for b in CONFIG_STRING_BOUNDS])
def test_configuration_strings_at_their_byte_limit_are_accepted_and_one_byte_more_refused(
        device, capture, key, limit, promoted):
    # a 2-byte character at the end: the limit counts bytes, not characters
    at_limit = "v" * (limit - 2) + "é"
    with raises("InvalidArgumentError", status=INVALID):
        device.init(**{key: at_limit + "w"})
    quiet(device, **{key: at_limit})
    device.flush()
    boot = named(capture.events(), "$device_boot")
    assert boot and boot[0]["properties"][promoted] == at_limit, f"{key} of exactly {limit} bytes is valid"


@pytest.mark.clause("C11")
def test_configured_strings_reach_every_event_and_the_environment_defaults_to_production(device, capture):
    """2.1: device_model, firmware_version and environment as given (environment
    ``production`` when absent or None) are the context of every message."""
    given = {"device_model": "model-\u00e9", "firmware_version": "9.8.7-rc1", "environment": "staging"}
    quiet(device, **given)
    device.track("configured")
    device.flush()
    for event in capture.events():
        for key, value in given.items():
            assert event["properties"][f"${key}"] == value, f"{key}: {event['properties']}"
    for omitted in (OMIT, None):
        before = len(capture.events())
        quiet(device, environment=omitted)
        device.track("default")
        device.flush()
        stored = capture.events()[before:]
        assert stored and all(e["properties"]["$environment"] == P.DEFAULT_ENVIRONMENT for e in stored), stored


@pytest.mark.clause("C45")
def test_identify_takes_63_traits_and_a_256_byte_id_and_refuses_64_traits_or_257_bytes(device, capture):
    quiet(device)
    drain_boot(device, capture)
    traits = {f"t{i}": i for i in range(P.MAX_TRAITS)}
    for what, args in (("64 traits", ("u", {**traits, "extra": 1})),
                       ("a 257-byte id", ("u" * (P.MAX_DISTINCT_ID_BYTES - 1) + "é", None))):
        with raises("InvalidArgumentError", status=INVALID):
            device.identify(*args)
        assert device.queue_stats()["queued_events"] == 0, f"identify() with {what} queued something"
    long_id = "u" * (P.MAX_DISTINCT_ID_BYTES - 2) + "é"
    device.identify(long_id, traits)
    device.flush()
    ident, = named(capture.events(), "$identify")
    assert ident["distinct_id"] == long_id
    assert {k: v for k, v in ident["properties"].items() if k.startswith("t")} == traits


@pytest.mark.clause("C12")
def test_track_name_counts_bytes_128_accepted_129_refused(device, capture):
    quiet(device)
    drain_boot(device, capture)
    with raises("InvalidArgumentError", status=INVALID):
        device.track("n" * (P.MAX_NAME_BYTES - 1) + "é")  # 127 characters, 129 bytes
    name = "n" * (P.MAX_NAME_BYTES - 2) + "é"
    device.track(name)
    device.flush()
    assert [e["event"] for e in user_events(capture.events())] == [name]


@pytest.mark.clause("C11", "C15")
def test_battery_low_threshold_100_is_valid_and_101_is_refused(device, capture):
    with raises("InvalidArgumentError", status=INVALID):
        device.init(battery_low_threshold=101)
    quiet(device, battery_low_threshold=100)
    device.flush()
    assert named(capture.events(), "$device_boot"), "a threshold of exactly 100 is valid"


# --- the edges of the status classes (contract 8) ---------------------------------------------------


STATUS_EDGES = ((499, "RejectedError", REJECTED), (500, "ServerError", P.STATUS["SERVER"]),
                (599, "ServerError", P.STATUS["SERVER"]), (400, "RejectedError", REJECTED),
                (200, None, 0), (299, None, 0), (300, "TransportError", P.STATUS["TRANSPORT"]),
                (399, "TransportError", P.STATUS["TRANSPORT"]), (199, "TransportError", P.STATUS["TRANSPORT"]))


@pytest.mark.clause("C25", "C42")
@pytest.mark.parametrize("status,cls,sdk_status", STATUS_EDGES, ids=[str(s[0]) for s in STATUS_EDGES])
def test_the_first_and_last_status_of_each_class_map_like_the_rest(device, capture, status, cls, sdk_status):
    quiet(device)
    drain_boot(device, capture)
    device.track("edge")
    capture.add_faults({"status": status})
    if cls is None:  # another 2xx on the single frame: delivered
        device.flush()
    else:
        with raises(cls, status=sdk_status):
            device.flush()
    kept = device.queue_stats()["queued_events"]
    assert kept == (0 if cls in ("RejectedError", None) else 1), (
        f"a {status} answer must {'keep' if cls not in ('RejectedError', None) else 'consume or dead-letter'} "
        f"the event: {kept} queued")
