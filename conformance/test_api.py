"""API validation: constructor, track(), reserved keys, record size and clamps (C11–C15)."""

from __future__ import annotations

import time

import pytest

from harness import protocol as P
from harness.agent.codec import EventBuffer, Unsupported
from harness.agent.client import RemoteError
from harness.agent.device import OMIT
from harness.conformance_support import (
    starved_ms,
    CLOCK_RESOLUTION_MS,
    pump_until,
    attempts, backoff_window_ms, delivered_messages, drain_boot, mandated_wait, quiet, raises, uploads,
    user_events,
)

INVALID = P.STATUS["INVALID_ARGUMENT"]


def _nested_lists(depth: int, leaf=1):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


BAD_CONFIGS = {
    "api_key missing": {"api_key": OMIT},
    "device_id missing": {"device_id": OMIT},
    "device_model missing": {"device_model": OMIT},
    "firmware_version missing": {"firmware_version": OMIT},
    "event_buffer missing": {"event_buffer": OMIT},
    "api_key None": {"api_key": None},
    "event_buffer None": {"event_buffer": None},
    "api_key blank": {"api_key": " \t"},
    "api_key with a space": {"api_key": "key with space"},
    "device_id blank": {"device_id": ""},
    "device_model blank": {"device_model": "\r\n"},
    "firmware_version blank": {"firmware_version": "  "},
    "device_id 257 bytes": {"device_id": "d" * (P.MAX_DEVICE_ID_BYTES + 1)},
    "api_key not a str": {"api_key": 12345},
    "event_buffer empty": {"event_buffer": EventBuffer(0)},
    "event_buffer bytes": {"event_buffer": EventBuffer(1024, type="bytes")},
    "event_buffer read-only memoryview": {"event_buffer": EventBuffer(1024, type="readonly_memoryview")},
    "unknown key": {"colour": "blue"},
    "host hook platform": {"platform": Unsupported()},
    "host hook transport": {"transport": Unsupported()},
    "host hook battery_callback": {"battery_callback": Unsupported()},
    "host hook auto_properties_callback": {"auto_properties_callback": Unsupported()},
    "numeric option as str": {"batch_size": "20"},
    "numeric option as bool": {"flush_max_batches": True},
    "numeric option as float": {"transport_timeout_ms": 1000.0},
    "numeric option negative": {"max_queued_events": -1},
    "numeric option above 0xFFFFFFFF": {"flush_retry_max_ms": P.U32_MAX + 1},
    "battery_low_threshold above 100": {"battery_low_threshold": 101},
}


@pytest.mark.clause("C11")
def test_constructor_refuses_every_broken_configuration(device, capture):
    for what, override in BAD_CONFIGS.items():
        try:
            with raises("InvalidArgumentError", status=INVALID):
                device.init(**override)
        except AssertionError as exc:
            raise AssertionError(f"Honch() with {what}: {exc}") from None
    quiet(device, flush_retry_max_ms=P.U32_MAX, batch_size=0, event_buffer=EventBuffer(4096, type="memoryview"))
    device.flush()
    assert [e["event"] for e in capture.events()] == ["$device_boot"], \
        "0xFFFFFFFF, 0 and a writable memoryview are valid and the refused configurations sent nothing"


def _track_refused(device, name, props=None):
    before = device.queue_stats()
    with raises("InvalidArgumentError", status=INVALID):
        device.track(name, props)
    assert device.queue_stats()["queued_events"] == before["queued_events"], \
        f"track({name!r}, ...) raised but left something queued"


BAD_TRACKS = {
    "blank name": ("  ", None),
    "empty name": ("", None),
    "129-byte name": ("n" * (P.MAX_NAME_BYTES + 1), None),
    "name not a str": (42, None),
    "properties not a dict": ("e", ["a", 1]),
    "65 properties": ("e", {f"k{i}": i for i in range(P.MAX_PROPERTIES + 1)}),
    "non-str key": ("e", {1: "one"}),
    "blank key": ("e", {" ": 1}),
    "empty key": ("e", {"": 1}),
    "NUL in key": ("e", {"a\x00b": 1}),
    "NaN": ("e", {"v": float("nan")}),
    "infinity": ("e", {"v": float("inf")}),
    "minus infinity": ("e", {"v": [float("-inf")]}),
    "unsupported type": ("e", {"v": Unsupported()}),
    "unsupported type nested": ("e", {"v": {"w": [Unsupported()]}}),
    "int above 2^64-1": ("e", {"v": 2 ** 64}),
    "int below -2^63": ("e", {"v": -2 ** 63 - 1}),
    "state not a str": ("e", {"state": 1}),
    "reset_reason not a str": ("e", {"reset_reason": None}),
    "session_name not a str nested": ("e", {"m": {"session_name": 3}}),
    "9 nested lists": ("e", {"v": _nested_lists(9)}),
    "9 nested containers mixed": ("e", {"v": {"a": _nested_lists(8)}}),
    "blank key nested": ("e", {"v": {"": 1}}),
}


@pytest.mark.clause("C12")
def test_track_refuses_every_invalid_call_and_queues_nothing(device, capture):
    quiet(device)
    drain_boot(device, capture)
    for what, (name, props) in BAD_TRACKS.items():
        try:
            _track_refused(device, name, props)
        except AssertionError as exc:
            raise AssertionError(f"track() with {what}: {exc}") from None
    device.track("n" * P.MAX_NAME_BYTES, {f"k{i}": i for i in range(P.MAX_PROPERTIES)})
    device.track("deep", {"v": _nested_lists(8), "hi": 2 ** 64 - 1, "lo": -2 ** 63})
    device.flush()
    got = user_events(capture.events())
    assert [e["event"] for e in got] == ["n" * P.MAX_NAME_BYTES, "deep"], "the boundary cases are valid"
    assert len([k for k in got[0]["properties"] if not k.startswith("$")]) == P.MAX_PROPERTIES
    deep = got[1]["properties"]
    assert deep["v"] == _nested_lists(8) and deep["hi"] == 2 ** 64 - 1 and deep["lo"] == -2 ** 63


@pytest.mark.clause("C13")
def test_reserved_keys_are_refused_at_any_depth_by_every_api(device, capture):
    quiet(device)
    drain_boot(device, capture)
    assert len(P.RESERVED_KEYS) == 11
    for key in P.RESERVED_KEYS:
        for props in ({key: 1}, {"outer": {"inner": [{key: "x"}]}}):
            try:
                _track_refused(device, "e", props)
            except AssertionError as exc:
                raise AssertionError(f"track() with reserved key {key!r} in {props}: {exc}") from None
        for call, args in (("identify", ("new-user", {key: 1})),
                           ("identify", ("new-user", {"t": {key: 1}})),
                           ("set_property", (key, 1)),
                           ("set_property", ("ok", {"deep": [{key: 1}]}))):
            with raises("InvalidArgumentError", status=INVALID):
                getattr(device, call)(*args)
    assert device.queue_stats()["queued_events"] == 0, "a refused call left events queued"
    device.track("still-me")
    device.flush()
    (event,) = user_events(capture.events())
    assert event["distinct_id"] == device.get_device_id(), "a refused identify() changed the distinct id"


@pytest.mark.clause("C14")
def test_record_above_max_event_bytes_is_refused_and_stats_unchanged(device, capture):
    limit = 256
    quiet(device, max_event_bytes=limit)
    drain_boot(device, capture)
    before = device.queue_stats()
    # P (name + keys + strings) alone exceeds the limit, so every record format does (2.3)
    with raises("InvalidArgumentError", status=INVALID):
        device.track("e", {"s": "x" * (limit + 1)})
    assert device.queue_stats() == before, "a refused record changed queue_stats()"
    # P + 64 + 16·V stays below the limit, so every record format fits
    device.track("e", {"s": "x" * (limit - 2 - 64 - 16 - 1)})
    assert device.queue_stats()["queued_events"] == 1


@pytest.mark.clause("C15")
def test_batch_size_above_50_is_clamped_and_0_selects_the_default(device, capture):
    quiet(device, batch_size=P.MAX_BATCH_SIZE + 1)
    for i in range(60):
        device.track("e", {"i": i})
    device.flush()
    quiet(device, batch_size=0)
    for i in range(30):
        device.track("d", {"i": i})
    device.flush()
    sizes = [len(m.events) for _, m in delivered_messages(capture)]
    assert sizes == [P.MAX_BATCH_SIZE, P.CONFIG_DEFAULTS["batch_size"]], (
        f"message sizes {sizes}: batch_size 51 must act as 50 and 0 as the default "
        f"{P.CONFIG_DEFAULTS['batch_size']}")


@pytest.mark.clause("C15", "C23")
def test_retry_max_below_initial_is_raised_to_initial(device, capture, request):
    initial, period, timeout = 200, 10, 250
    quiet(device, flush_retry_initial_ms=initial, flush_retry_max_ms=initial // 4,
          flush_event_threshold=1, transport_timeout_ms=timeout)
    capture.add_faults({"status": 503, "persistent": True})
    n = 4
    mandated_wait(request, initial * (n - 1), "three backoff waits of flush_retry_initial_ms")
    pump_until(device, capture, lambda ups: len(ups) >= n,
               (initial + initial // 4 + period + timeout) * (n - 1), period)
    capture.clear_faults()
    ts = [a.t for a in attempts(uploads(capture))]
    assert len(ts) >= n, f"only {len(ts)} attempts"
    lo, hi = backoff_window_ms(initial)
    for a, b in list(zip(ts, ts[1:]))[:n - 1]:
        gap = (b - a) * 1000
        assert lo - CLOCK_RESOLUTION_MS <= gap <= hi + period + timeout + starved_ms(device, a, b), (
            f"attempt gap {gap:.0f} ms; with flush_retry_max_ms below the initial delay every "
            f"wait stays within {lo}..{hi} ms (plus tick period and request time)")


@pytest.mark.clause("C15")
@pytest.mark.requires_tags("micropython")
def test_micropython_clamps_transport_timeout_to_10_s(device, capture, request):
    quiet(device, transport_timeout_ms=20_000)
    drain_boot(device, capture)
    device.track("slow")
    clamp = P.MICROPYTHON_MAX_TRANSPORT_TIMEOUT_MS
    # the server holds the answer past the clamp, then closes: a 20 s timeout would see
    # the close (TRANSPORT), the 10 s clamp times out first (TIMEOUT)
    capture.add_faults({"delay_ms": clamp + 2000, "close": True})
    mandated_wait(request, clamp, "transport_timeout_ms clamped to 10 s")
    start = time.monotonic()
    with raises("TransportError", status=P.STATUS["TIMEOUT"]):
        device.call("flush", timeout=device.board.spec.op_timeout + clamp / 1000)
    elapsed_ms = (time.monotonic() - start) * 1000
    assert elapsed_ms >= clamp, f"flush() timed out after {elapsed_ms:.0f} ms, before the {clamp} ms clamp"


GOOD_ENDPOINTS = ("http://h", "https://h", "http://h:1", "https://h:65535", "http://h/", "http://h/base/",
                  "https://i.honch.io", "http://127.0.0.1:8001/base//", "http://[::1]:8080/x", "http://[::1]")
BAD_ENDPOINTS = ("ftp://h", "h", "http//h", "http://", "http://:80", "http:///path", "http://h:", "http://h:0",
                 "http://h:65536", "http://h:123456", "http://h:80x", "http://user@h", "http://u:p@h/x",
                 "http://h?q=1", "http://h/#frag", "http://h/p?q", "http://[]:80", "http://[::1", "http://h h",
                 "http://h]", "")


def _schemes_one_character_off() -> tuple[str, ...]:
    """``http://h`` and ``https://h`` with one character of the scheme part replaced by
    its neighbour below or above (``gttp://h``, ``htto://h``, ``http9//h``, …): a
    comparison that accepts a character on one side of the right one is caught."""
    out = []
    for prefix in ("http://", "https://"):
        for i, ch in enumerate(prefix):
            for neighbour in (chr(ord(ch) - 1), chr(ord(ch) + 1)):
                url = prefix[:i] + neighbour + prefix[i + 1:] + "h"
                if url not in ("http://h", "https://h"):
                    out.append(url)
    return tuple(out)


BAD_ENDPOINTS += _schemes_one_character_off()


@pytest.mark.clause("C11")
def test_endpoint_urls_of_every_valid_form_are_accepted_and_every_other_form_refused(device, capture):
    """W3.1: scheme://host[:port][/path] with http or https, a non-empty host and a port
    1..65535; another scheme, an empty host, a port out of range, user info, a query or
    a fragment is INVALID_ARGUMENT at construction (which sends nothing)."""
    refused, accepted = [], []
    for url in GOOD_ENDPOINTS:
        try:
            device.init(endpoint_url=url)
        except RemoteError as exc:
            refused.append(f"{url!r} ({exc})")
    for url in BAD_ENDPOINTS:
        try:
            with raises("InvalidArgumentError", status=INVALID):
                device.init(endpoint_url=url)
        except AssertionError as exc:  # accepted, or refused some other way: the message says which
            accepted.append(f"{url!r} ({str(exc).splitlines()[0]})")
    assert not refused and not accepted, \
        f"valid endpoints refused: {refused or 'none'}; invalid endpoints not refused with " \
        f"InvalidArgumentError: {accepted or 'none'}"
    assert capture.events() == [], "construction must not send"
