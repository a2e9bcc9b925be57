"""Evidence on the MicroPython unix port: the frozen ``honch`` over the user C module
``_honch_core`` delivers to the mock capture server over real HTTP, maps every
value type onto the wire intact, and maps every error class and status."""

from __future__ import annotations

import time

from harness import SDK_VERSION
from harness.protocol import SDK_PLATFORM_MICROPYTHON, STATUSES, U32_MAX
from harness.wire import F64, Bytes, Int, Map, Reserved, UInt, decode_frames

#: A client configuration for the snippets; the key and endpoint come from the environment.
CLIENT = """
import honch, _honch_core

def client(**options):
    config = dict(api_key=os.getenv("KEY"), device_id="fw-unix-1", device_model="unix-port",
                  firmware_version="fw-1", event_buffer=bytearray(8192), endpoint_url=os.getenv("ENDPOINT"),
                  flush_min_interval_ms=%d)
    config.update(options)
    return honch.Honch(**config)

def failure(call, *args):
    try:
        call(*args)
    except Exception as exc:
        return {"class": type(exc).__name__, "status": getattr(exc, "status", None), "text": str(exc),
                "detail": getattr(exc, "detail", None),
                "is": sorted(name for name in ("HonchError", "InvalidArgumentError", "StorageError",
                                               "TransportError", "OfflineError", "RateLimitedError",
                                               "ServerError", "RejectedError", "NotInitializedError")
                             if isinstance(exc, getattr(honch, name)))}
    return None
""" % U32_MAX  # spacing disabled: every flush() sends


def tenant_env(capture):
    return {"KEY": capture.key, "ENDPOINT": capture.endpoint}


def test_events_reach_the_capture_server_with_platform_micropython(micropython, capture):
    before_ms = time.time() * 1000
    result = micropython.run(CLIENT + """
c = client()
c.track("firmware_e2e", {"n": 1, "where": "unix"})
c.flush()
result = {"platform": _honch_core.PLATFORM, "sdk_version": _honch_core.SDK_VERSION,
          "stream_id": c.stream_id(), "stats": c.queue_stats()}
""", env=tenant_env(capture))
    after_ms = time.time() * 1000
    assert result["platform"] == SDK_PLATFORM_MICROPYTHON
    assert result["sdk_version"] == SDK_VERSION
    assert result["stats"]["queued_events"] == 0
    events = capture.wait_for_events(2, timeout=10)
    assert [e["event"] for e in events] == ["$device_boot", "firmware_e2e"]
    for event in events:
        assert event["properties"]["$sdk_platform"] == SDK_PLATFORM_MICROPYTHON
        assert event["properties"]["$sdk_version"] == SDK_VERSION
        assert event["distinct_id"] == "fw-unix-1"
        assert event["_meta"]["stream_id"] == result["stream_id"]
        # The unix port's wall clock is valid, so timestamps are real times (contract 5).
        assert before_ms - 1000 <= event["timestamp"] <= after_ms + 1000
    assert events[1]["properties"]["n"] == 1 and events[1]["properties"]["where"] == "unix"
    headers = capture.requests()[0]["headers"]
    assert set(headers) == {"Host", "Content-Type", "X-Honch-Project-Key", "X-Honch-Stream-Id",
                            "Content-Length", "Connection"}


VALUES_SNIPPET = """
deep8 = [1]
for _ in range(7):
    deep8 = [deep8]
props = {
    "none": None, "true": True, "false": False,
    "zero": 0, "small": 42, "negative": -1, "beyond_small_int": 2**62 + 5, "u63": 2**63,
    "u64_max": 2**64 - 1, "i64_min": -2**63, "i64_min_plus": -2**63 + 1,
    "float": 1.5, "negative_float": -0.25, "tiny_float": 1e-300, "zero_float": 0.0,
    "str": "h\\u00e9llo \\u2603", "empty_str": "", "bytes": b"\\x00\\xffab", "bytearray": bytearray(b"xy"),
    "list": [1, "a", None], "tuple": (1, 2), "empty_list": [],
    "dict": {"k": 1, "nested": {"deeper": [True, -2]}}, "empty_dict": {},
    "deep8": deep8, "state": "on",
}
c = client()
before = c.queue_stats()["queued_events"]
c.track("types", props)
refusals = {}
deep9 = [deep8]
bad = {"u64_max_plus_1": 2**64, "i64_min_minus_1": -2**63 - 1, "nan": float("nan"), "inf": float("inf"),
       "set": {1}, "object": object(), "memoryview": memoryview(b"ab"), "deep9": deep9,
       "int_key": {1: "a"}, "reserved_nested": {"x": {"$device_id": "no"}}, "state_not_str": None}
for name in bad:
    value = bad[name]
    props_bad = {"state": 5} if name == "state_not_str" else {"value": value}
    refusals[name] = failure(c.track, "refused", props_bad)
after = c.queue_stats()["queued_events"]
c.flush()
result = {"queued": after - before, "refusals": refusals}
"""


def _plain(value):
    """Wire values with maps as dicts (MicroPython dicts do not keep insertion order)."""
    if isinstance(value, Map):
        return {_key(k): _plain(v) for k, v in value.pairs}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _key(key):
    return ("reserved", key.id) if isinstance(key, Reserved) else key


def test_every_value_type_arrives_intact(micropython, capture):
    capture.reset(binary_properties=True)
    result = micropython.run(CLIENT + VALUES_SNIPPET, env=tenant_env(capture))
    assert result["queued"] == 1, "only the valid event was queued"
    body = bytes.fromhex(capture.requests()[0]["body_hex"])
    message = decode_frames([body])
    event = next(e for e in message.events if e.name == "types")
    got = {_key(k): _plain(v) for k, v in event.properties}
    deep8 = [UInt(1)]
    for _ in range(7):
        deep8 = [deep8]
    assert got == {
        "none": None, "true": True, "false": False,
        "zero": UInt(0), "small": UInt(42), "negative": Int(-1), "beyond_small_int": UInt(2**62 + 5),
        "u63": UInt(2**63), "u64_max": UInt(2**64 - 1), "i64_min": Int(-2**63), "i64_min_plus": Int(-2**63 + 1),
        "float": F64(1.5), "negative_float": F64(-0.25), "tiny_float": F64(1e-300), "zero_float": F64(0.0),
        "str": "h\u00e9llo \u2603", "empty_str": "", "bytes": Bytes(b"\x00\xffab"), "bytearray": Bytes(b"xy"),
        "list": [UInt(1), "a", None], "tuple": [UInt(1), UInt(2)], "empty_list": [],
        "dict": {"k": UInt(1), "nested": {"deeper": [True, Int(-2)]}}, "empty_dict": {},
        "deep8": deep8,
        ("reserved", 4): "on",  # "state" travels as its reserved id (W7.5.1)
    }
    assert capture.wait_for_events(2, timeout=10)[1]["properties"]["float"] == 1.5
    refusals = result["refusals"]
    for name, failure in refusals.items():
        assert failure is not None, f"{name} was accepted"
        assert failure["class"] == "InvalidArgumentError" and failure["status"] == 1, (name, failure)
    # The port names what it refused (the core's own refusals carry no detail).
    assert refusals["u64_max_plus_1"]["detail"] == "int outside -2**63 .. 2**64-1"
    assert refusals["set"]["detail"] == "unsupported value type: set"
    assert refusals["memoryview"]["detail"] == "unsupported value type: memoryview"
    assert refusals["int_key"]["detail"] == "keys must be str, not: int"


ERRORS_SNIPPET = """
import errno
outcomes = {}
c = client(transport_timeout_ms=1000)
c.track("e1")
for name in ("429", "503", "400", "closed", "408", "slow"):
    outcomes[name] = failure(c.flush)
    c.track("again")
outcomes["empty_name"] = failure(c.track, "")

small = client(event_buffer=bytearray(96))
outcomes["queue_full"] = failure(small.track, "big", {"blob": "x" * 200})

offline = client(connectivity_callback=lambda: False)
outcomes["offline"] = failure(offline.flush)

spaced = client(flush_min_interval_ms=60000)
spaced.flush()
spaced.track("more")
outcomes["spacing"] = failure(spaced.flush)

inner = []
busy = client()
def reentrant_post(url, body, headers, timeout_ms):
    inner.append(failure(busy.flush))
    return 204, None
import honch_transport
original = honch_transport.post_chunk
honch_transport.post_chunk = reentrant_post
try:
    busy.flush()
finally:
    honch_transport.post_chunk = original
outcomes["busy"] = inner[0]

closed = client()
closed.shutdown()
outcomes["closed_client"] = failure(closed.track, "late")
result = {"outcomes": outcomes, "constants": dict((n, getattr(_honch_core, n)) for n in dir(_honch_core)
                                                   if n.startswith("ERROR_"))}
"""

#: outcome -> (status name, exception class, other classes it must also be)
EXPECTED_ERRORS = {
    "429": ("RATE_LIMITED", "RateLimitedError", ["TransportError"]),
    "503": ("SERVER", "ServerError", ["TransportError"]),
    "400": ("REJECTED", "RejectedError", []),
    "closed": ("TRANSPORT", "TransportError", []),
    "408": ("TIMEOUT", "TransportError", []),
    "slow": ("TIMEOUT", "TransportError", []),
    "empty_name": ("INVALID_ARGUMENT", "InvalidArgumentError", []),
    "queue_full": ("QUEUE_FULL", "StorageError", []),
    "offline": ("OFFLINE", "OfflineError", ["TransportError"]),
    "spacing": ("RATE_LIMITED", "RateLimitedError", ["TransportError"]),
    "busy": ("BUSY", "HonchError", []),
    "closed_client": ("NOT_INITIALIZED", "NotInitializedError", []),
}


def test_every_error_class_and_status(micropython, capture):
    capture.add_faults({"status": 429, "headers": {"Retry-After": "1"}}, {"status": 503}, {"status": 400},
                       {"close": True}, {"status": 408}, {"delay_ms": 3000})
    result = micropython.run(CLIENT + ERRORS_SNIPPET, env=tenant_env(capture))
    status_by_name = {name: value for value, (name, _, _) in STATUSES.items()}
    assert result["constants"] == {"ERROR_" + name: value for name, value in status_by_name.items()}
    outcomes = result["outcomes"]
    for outcome, (status_name, cls, also) in EXPECTED_ERRORS.items():
        failure = outcomes[outcome]
        status = status_by_name[status_name]
        assert failure is not None, f"{outcome}: nothing was raised"
        assert (failure["class"], failure["status"]) == (cls, status), (outcome, failure)
        assert failure["text"] == STATUSES[status][1], (outcome, failure)  # contract 3: the status text
        assert set(failure["is"]) >= {"HonchError", cls, *also}, (outcome, failure)
