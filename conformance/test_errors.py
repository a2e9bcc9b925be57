"""$error coalescing and the status → exception mapping (C36, C37)."""

from __future__ import annotations

import pytest

from harness import protocol as P
from harness.agent.codec import EventBuffer
from harness.agent.client import RemoteError
from harness.agent.codec import ONLINE_CALLBACK
from harness.conformance_support import drain_boot, named, names, quiet, raises


def _errors(capture):
    return named(capture.events(), "$error")


@pytest.mark.clause("C36")
def test_identical_reports_coalesce_into_one_error_with_the_count(device, capture):
    quiet(device)
    drain_boot(device, capture)
    for _ in range(20):
        device.report_log_error("sensor timeout", "i2c")
    assert device.queue_stats()["queued_events"] == 0, "reports wait in the slots until the next drain"
    device.flush()  # drains the slots, then sends
    (error,) = _errors(capture)
    props = error["properties"]
    assert props.get("count") == 20 and props.get("level") == "error", props
    assert props.get("message") == "sensor timeout" and props.get("component") == "i2c", props
    assert "dropped" not in props


@pytest.mark.clause("C36")
def test_a_fifth_distinct_key_is_dropped_and_counted_on_the_first_error(device, capture):
    quiet(device)
    drain_boot(device, capture)
    keys = [(f"failure {i}", "bus") for i in range(P.ERROR_SLOTS + 1)]
    for message, component in keys:
        device.report_log_error(message, component)
    device.report_log_error("failure 0", "bus")
    device.report_log_error("ignored", "honch")  # the self-log guard
    device.report_log_error("no component", "  ")  # blank component counts as none
    device.tick()  # drains into the queue; below the threshold, nothing is sent
    device.flush()
    errors = _errors(capture)
    got = [(e["properties"]["message"], e["properties"].get("count"), e["properties"].get("dropped"))
           for e in errors]
    assert got == [("failure 0", 2, 2), ("failure 1", 1, None), ("failure 2", 1, None), ("failure 3", 1, None)], (
        f"4 slots in order of first report; 'failure 4' and 'no component' found the slots full: {got}")
    assert all("component" in e["properties"] for e in errors)


@pytest.mark.clause("C36")
def test_slots_are_keyed_by_the_cut_texts(device, capture):
    quiet(device)
    drain_boot(device, capture)
    cut = P.ERROR_MESSAGE_CUT_BYTES
    device.report_log_error("m" * cut + "tail one", "c" * P.ERROR_COMPONENT_CUT_BYTES + "x")
    device.report_log_error("m" * cut + "tail two", "c" * P.ERROR_COMPONENT_CUT_BYTES + "y")
    device.report_log_error("solo")
    device.flush()
    errors = _errors(capture)
    assert len(errors) == 2, [e["properties"] for e in errors]
    first, second = (e["properties"] for e in errors)
    assert first["message"] == "m" * cut and first["count"] == 2
    assert first["component"] == "c" * P.ERROR_COMPONENT_CUT_BYTES
    assert second["message"] == "solo" and "component" not in second


@pytest.mark.clause("C36")
def test_a_blank_message_is_refused(device, capture):
    quiet(device)
    for bad in ("", "  \t", None, 5):
        with raises("InvalidArgumentError", status=P.STATUS["INVALID_ARGUMENT"]):
            device.report_log_error(bad)
    device.flush()
    assert names(capture.events()) == ["$device_boot"]


@pytest.mark.clause("C37")
def test_local_errors_map_to_their_exception_classes_with_the_status_text(device, capture):
    """Each status the device can produce without a server fault; the server-driven
    ones (rate limited, server, rejected, transport, timeout, offline) are checked in
    their own areas with the same assertions."""
    def check(caught, status):
        name, text, cls = P.STATUSES[status]
        assert caught.name == cls, f"status {name} must raise {cls}, got {caught.name}"
        assert caught.message == text, f"status {name}: message {caught.message!r}, expected {text!r}"
        chain = [cls]
        while P.EXCEPTION_PARENTS[chain[-1]] != "Exception":
            chain.append(P.EXCEPTION_PARENTS[chain[-1]])
        assert caught.classes[:len(chain)] == chain, f"{cls} must derive from {chain[1:]}: {caught.classes}"

    quiet(device, event_buffer=EventBuffer(1024))
    with raises("InvalidArgumentError") as caught:
        device.track("")
    check(caught, P.STATUS["INVALID_ARGUMENT"])
    with raises("StorageError") as caught:
        device.track("huge", {"a": "x" * 500, "b": "y" * 500, "c": "z" * 500})
    check(caught, P.STATUS["QUEUE_FULL"])
    device.shutdown()
    with raises("NotInitializedError") as caught:
        device.track("closed")
    check(caught, P.STATUS["NOT_INITIALIZED"])


def _raised(call) -> RemoteError:
    try:
        call()
    except RemoteError as exc:
        return exc
    raise AssertionError("the call returned; it should have raised")


@pytest.mark.clause("C49")
def test_every_raised_exception_carries_its_int_status(device, capture):
    """Capability status_attr: one exception per status the public API can raise."""
    quiet(device, event_buffer=EventBuffer(1024), connectivity_callback=ONLINE_CALLBACK)
    drain_boot(device, capture)
    seen = {}

    def record(status_name, call):
        seen[status_name] = _raised(call).status

    record("INVALID_ARGUMENT", lambda: device.track(""))
    record("QUEUE_FULL", lambda: device.track("huge", {"a": "x" * 500, "b": "y" * 500, "c": "z" * 500}))
    for status_name, fault in (("SERVER", {"status": 503}), ("REJECTED", {"status": 422}),
                               ("TRANSPORT", {"status": 409}), ("TIMEOUT", {"status": 408}),
                               ("RATE_LIMITED", {"status": 429})):
        device.track("e")
        capture.add_faults(fault)
        record(status_name, device.flush)
    device.set_online(False)
    device.track("e")
    record("OFFLINE", device.flush)
    device.shutdown()
    record("NOT_INITIALIZED", lambda: device.track("closed"))
    wrong = {name: got for name, got in seen.items() if got != P.STATUS[name]}
    assert not wrong, f"exceptions must carry their status (name: status carried): {wrong}"


@pytest.mark.clause("C51")
def test_last_error_describes_the_most_recent_failure(device, capture):
    """Capability last_error (honch-micropython 0.3.1)."""
    quiet(device, connectivity_callback=ONLINE_CALLBACK)
    before = device.last_error()
    assert set(before) == set(P.LAST_ERROR_KEYS), before
    assert (before["status"], before["reason"]) == ("ok", "none"), before
    assert all(before[k] is None for k in ("http", "os_error", "message", "component")), before

    capture.add_faults({"status": 401})
    with raises("RejectedError"):
        device.flush()
    rejected = device.last_error()
    assert (rejected["status"], rejected["reason"], rejected["http"], rejected["component"]) == \
        ("rejected", P.LAST_ERROR_REASONS_BY_HTTP[401], 401, "server"), rejected
    assert capture.key not in str(rejected), "last_error() must never hold the project key"

    device.track("kept")
    device.flush()  # a success does not clear the record
    assert device.last_error()["reason"] == "auth_invalid_key"

    device.track("e")
    capture.add_faults({"status": 429})
    device.connected()  # a deferred flush: the next tick() sends
    device.pump(50)  # tick() raises nothing; its outcome is still recorded
    limited = device.last_error()
    assert (limited["status"], limited["reason"], limited["http"]) == ("rate limited", "rate_limited", 429), limited

    device.set_online(False)
    with raises("OfflineError"):
        device.flush()
    assert (device.last_error()["reason"], device.last_error()["component"]) == ("offline", "scheduler")
    with raises("InvalidArgumentError"):
        device.track("")
    invalid = device.last_error()
    assert (invalid["status"], invalid["component"]) == ("invalid argument", "api"), invalid
    assert isinstance(invalid["message"], str) and invalid["message"], invalid


@pytest.mark.clause("C36")
@pytest.mark.parametrize("char", ["\u00e9", "\u20ac", "\U0001f600"], ids=["2-byte", "3-byte", "4-byte"])
def test_cuts_end_on_a_character_boundary_for_every_sequence_length(device, capture, char):
    """A character that ends exactly at the cut is kept; one that crosses it is left out whole."""
    quiet(device)
    drain_boot(device, capture)
    width = len(char.encode())
    cut, comp_cut = P.ERROR_MESSAGE_CUT_BYTES, P.ERROR_COMPONENT_CUT_BYTES
    cases = []  # (message, component, expected message, expected component)
    for over in range(width):  # 0: the character ends at the cut; else it crosses it by `over` bytes
        head, comp_head = "m" * (cut - width + over), "c" * (comp_cut - width + over)
        cases.append((f"{head}{char}tail {over}", f"{comp_head}{char}x{over}",
                      head + (char if over == 0 else ""), comp_head + (char if over == 0 else "")))
    for message, component, _, _ in cases:
        device.report_log_error(message, component)
    device.flush()
    got = [(e["properties"]["message"], e["properties"]["component"]) for e in _errors(capture)]
    want = [(m, c) for _, _, m, c in cases]
    assert got == want, f"cut texts of {width}-byte characters: expected {want!r}, stored {got!r}"


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.clause("C51")
def test_last_error_holds_the_errno_of_a_failed_connection_and_the_http_status_of_an_answer(device, capture):
    """``os_error`` and ``http`` each belong to one kind of failure, never the other."""
    quiet(device, endpoint_url=f"http://127.0.0.1:{_closed_port()}", connectivity_callback=ONLINE_CALLBACK)
    device.track("e")
    with raises("TransportError"):
        device.flush()
    refused = device.last_error()
    assert (refused["reason"], refused["component"], refused["http"]) == \
        ("connection_failed", "transport", None), f"a refused connection: {refused}"
    assert isinstance(refused["os_error"], int) and refused["os_error"] > 0, \
        f"a refused connection must carry the transport's errno: {refused}"

    quiet(device, connectivity_callback=ONLINE_CALLBACK)
    drain_boot(device, capture)
    device.track("e")
    capture.add_faults({"status": 503})
    with raises("ServerError"):
        device.flush()
    answered = device.last_error()
    assert (answered["reason"], answered["component"], answered["http"], answered["os_error"]) == \
        ("server_error", "server", 503, None), f"an answered request: {answered}"


def _record_of(device, call, exc_name):
    with raises(exc_name):
        call()
    record = device.last_error()
    assert set(record) == set(P.LAST_ERROR_KEYS), record
    assert record["component"] in P.LAST_ERROR_COMPONENTS, record
    assert isinstance(record["message"], str) and record["message"].strip(), record
    return record


@pytest.mark.clause("C51")
def test_last_error_records_every_field_of_each_kind_of_failure(device, capture):
    """Every field of the record, for each kind of failure the public API can cause:
    ``http`` only for an answer, ``os_error`` only for a transport failure, the
    reason the contract names (or the status name), the status text as ``status``."""
    def text(status_name):
        return P.STATUSES[P.STATUS[status_name]][1]

    quiet(device, event_buffer=EventBuffer(1024), connectivity_callback=ONLINE_CALLBACK,
          transport_timeout_ms=300, flush_event_threshold=1000)
    drain_boot(device, capture)
    got = {}
    got["invalid"] = _record_of(device, lambda: device.track(""), "InvalidArgumentError")
    got["queue full"] = _record_of(device, lambda: device.track("huge", {"a": "x" * 500, "b": "y" * 500,
                                                                          "c": "z" * 500}), "StorageError")
    device.track("e")
    capture.add_faults({"delay_ms": 1500})
    got["timeout"] = _record_of(device, device.flush, "TransportError")
    for http, exc_name in ((401, "RejectedError"), (429, "RateLimitedError"), (500, "ServerError"),
                           (503, "ServerError")):
        device.track("e")
        capture.add_faults({"status": http})
        got[http] = _record_of(device, device.flush, exc_name)
    device.set_online(False)
    got["offline"] = _record_of(device, device.flush, "OfflineError")

    want = {
        "invalid": (text("INVALID_ARGUMENT"), "invalid_argument", None, None),
        "queue full": (text("QUEUE_FULL"), "queue_full", None, None),
        "timeout": (text("TIMEOUT"), "timeout", None, "any"),
        401: (text("REJECTED"), "auth_invalid_key", 401, None),
        429: (text("RATE_LIMITED"), "rate_limited", 429, None),
        500: (text("SERVER"), "server_error", 500, None),
        503: (text("SERVER"), "server_error", 503, None),
        "offline": (text("OFFLINE"), "offline", None, None),
    }
    wrong = {}
    for case, (status, reason, http, os_error) in want.items():
        record = got[case]
        seen = (record["status"], record["reason"], record["http"],
                "any" if os_error == "any" else record["os_error"])
        if seen != (status, reason, http, os_error):
            wrong[case] = record
    assert not wrong, f"last_error() fields (status, reason, http, os_error) wrong for: {wrong}"
    assert got["timeout"]["component"] == "transport" and got[503]["component"] == "server", got
    assert capture.key not in str(got), "last_error() must never hold the project key"


@pytest.mark.clause("C37")
def test_the_package_exports_honch_and_every_exception_class_with_its_base(device, capture):
    """Contract 2.1 and 3: ``honch`` exports ``Honch`` and the classes of section 3, in
    their hierarchy, as attributes, in ``__all__`` when it has one, and by star-import."""
    names = ["Honch", *P.EXCEPTION_PARENTS]
    exports = device.exports(names)
    problems = []
    for name in names:
        got = exports[name]
        if not got["attribute"]:
            problems.append(f"honch.{name} is missing")
        if got["all"] is False:
            problems.append(f"{name} is not in honch.__all__")
        if got["star"] is False:
            problems.append(f"from honch import * does not bring {name}")
        parent = P.EXCEPTION_PARENTS.get(name)
        if parent is not None and got["bases"] is not None and parent not in got["bases"]:
            problems.append(f"{name} derives from {got['bases']}, not {parent}")
    assert not problems, "; ".join(problems)
