"""Crash reporting: run(), the once rule, the backtrace, the excepthook (C32–C35)."""

from __future__ import annotations

import re

import pytest

from harness import protocol as P
from harness.agent.codec import ONLINE_CALLBACK
from harness.conformance_support import drain_boot, named, quiet, uploads

CRASH_ID_RE = re.compile(r"^[0-9a-f]{32}$")
FRAME_RE = re.compile(r"^\S+:(\d+|\?) in \S+$")
#: the agent's crash site: _raiser recurses ``depth`` times, then raises
RAISER = "_raiser"
CALLER = "crash_site"


def _crashes(capture):
    return named(capture.events(), "$crash")


@pytest.mark.clause("C32")
def test_run_returns_the_result_and_reports_a_crash_before_re_raising(device, capture):
    quiet(device)
    drain_boot(device, capture)
    assert device.run(result=42) == {"returned": 42}
    assert device.queue_stats()["queued_events"] == 0, "a run() that returns queues nothing"
    reply = device.run(exception="ValueError", message="sensor on fire", depth=2)
    raised = reply["raised"]
    assert raised["class"] == "ValueError" and raised["same_object"], f"run() must re-raise the same object: {raised}"
    # no flush since: the $crash is on the server because run() flushed before re-raising
    (crash,) = _crashes(capture)
    props = crash["properties"]
    assert props.get("source") == "exception" and props.get("severity") == "fatal", props
    assert props.get("exception_cause") == "ValueError" and props.get("message") == "sensor on fire", props
    assert CRASH_ID_RE.match(props.get("crash_id", "")), props.get("crash_id")


@pytest.mark.clause("C32")
def test_a_failing_flush_never_replaces_the_exception(device, capture):
    quiet(device, connectivity_callback=ONLINE_CALLBACK)
    drain_boot(device, capture)
    capture.add_faults({"status": 503})
    raised = device.run(exception="KeyError", message="k", depth=1)["raised"]
    assert raised["class"] == "KeyError" and raised["same_object"], raised
    assert _crashes(capture) == [], "the flush failed, nothing was stored"
    device.flush()
    assert len(_crashes(capture)) == 1, "the $crash stays queued after the failed flush"

    quiet(device, connectivity_callback=ONLINE_CALLBACK)
    device.set_online(False)
    raised = device.run(exception="RuntimeError", message="offline crash")["raised"]
    assert raised["class"] == "RuntimeError" and raised["same_object"], raised
    device.set_online(True)
    device.flush()
    assert [c["properties"]["exception_cause"] for c in _crashes(capture)] == ["KeyError", "RuntimeError"]


@pytest.mark.clause("C32")
def test_non_exception_throwables_are_re_raised_without_a_report(device, capture):
    quiet(device)
    drain_boot(device, capture)
    for cls in ("KeyboardInterrupt", "SystemExit"):
        raised = device.run(exception=cls)["raised"]
        assert raised["class"] == cls and raised["same_object"], raised
    assert device.queue_stats()["queued_events"] == 0
    assert len(uploads(capture)) == 1, "no report, no flush"


@pytest.mark.clause("C32")
def test_crash_message_is_cut_on_a_character_boundary_and_left_out_when_empty(device, capture):
    quiet(device)
    drain_boot(device, capture)
    device.run(exception="ValueError", message="\u00e9" * 100)  # 200 bytes
    (crash,) = _crashes(capture)
    message = crash["properties"].get("message")
    assert message == "\u00e9" * (P.CRASH_MESSAGE_MAX_BYTES // 2), \
        f"message must be cut to the longest prefix of at most {P.CRASH_MESSAGE_MAX_BYTES} bytes: {message!r}"
    quiet(device)
    device.run(exception="ValueError", message="")
    device.flush()
    last = _crashes(capture)[-1]["properties"]
    assert "message" not in last, f"an empty message is left out, got {last.get('message')!r}"


@pytest.mark.clause("C33")
def test_only_the_first_crash_of_a_client_life_is_reported(device, capture):
    quiet(device)
    drain_boot(device, capture)
    first = device.run(exception="ValueError", message="first")["raised"]
    second = device.run(exception="TypeError", message="second")["raised"]
    assert first["class"] == "ValueError" and second["class"] == "TypeError" and second["same_object"]
    device.flush()
    crashes = _crashes(capture)
    assert [c["properties"]["message"] for c in crashes] == ["first"], \
        f"a second crash in the same client life must not be reported: {crashes}"
    quiet(device)  # a new client life
    device.run(exception="TypeError", message="next life")
    device.flush()
    assert [c["properties"]["message"] for c in _crashes(capture)] == ["first", "next life"]


def _frames(backtrace):
    frames = backtrace.split(P.CRASH_BACKTRACE_SEPARATOR)
    for f in frames:
        assert FRAME_RE.match(f), f"frame {f!r} is not 'file:line in func' (backtrace {backtrace!r})"
    return frames


def _func(frame):
    return frame.rsplit(" in ", 1)[1]


@pytest.mark.clause("C34")
def test_backtrace_is_innermost_first(device, capture):
    quiet(device)
    drain_boot(device, capture)
    depth = 3
    device.run(exception="ValueError", message="deep", depth=depth)
    (crash,) = _crashes(capture)
    backtrace = crash["properties"].get("backtrace")
    assert backtrace, "a crash from run() carries a backtrace"
    frames = _frames(backtrace)
    funcs = [_func(f) for f in frames]
    assert funcs[:depth + 1] == [RAISER] * depth + [CALLER], (
        f"frames must start at the crash site and go outward: {funcs}")
    assert len(backtrace.encode()) <= P.CRASH_BACKTRACE_MAX_BYTES


@pytest.mark.clause("C34")
def test_backtrace_keeps_the_most_leading_frames_within_192_bytes(device, capture):
    quiet(device)
    drain_boot(device, capture)
    device.run(exception="ValueError", message="very deep", depth=40)
    (crash,) = _crashes(capture)
    backtrace = crash["properties"]["backtrace"]
    size = len(backtrace.encode())
    assert size <= P.CRASH_BACKTRACE_MAX_BYTES, f"backtrace of {size} bytes"
    frames = _frames(backtrace)
    assert all(_func(f) == RAISER for f in frames), f"40 recursive frames: only the innermost fit: {frames}"
    # the next frame is another recursive call, as long as frames[1]: it must not have fit
    next_size = len(P.CRASH_BACKTRACE_SEPARATOR) + len(frames[-1].encode())
    assert size + next_size > P.CRASH_BACKTRACE_MAX_BYTES, (
        f"{size} bytes used, the next {next_size}-byte frame would still fit: the backtrace must hold "
        f"the most leading frames")


@pytest.mark.clause("C35")
@pytest.mark.requires_tags("excepthook")  # a capability (also implied by C35)
def test_excepthook_reports_unhandled_exceptions_and_uninstall_restores_the_previous_hook(device, capture):
    quiet(device)
    drain_boot(device, capture)
    assert device.excepthook_state()["is_base"]
    assert device.install_error_hook() is True
    assert device.install_error_hook() is True  # installing twice does not chain twice
    base_calls = device.excepthook_state()["base_calls"]
    reply = device.unhandled("ZeroDivisionError", "division by zero", depth=2)
    assert reply["previous_hook_called"], "the hook must hand the exception on to the previous hook"
    assert device.excepthook_state()["base_calls"] == base_calls + 1, "the previous hook ran more than once"
    device.flush()
    (crash,) = _crashes(capture)
    assert crash["properties"]["exception_cause"] == "ZeroDivisionError"
    assert _func(_frames(crash["properties"]["backtrace"])[0]) == RAISER
    device.uninstall_error_hook()
    assert device.excepthook_state()["is_base"], "uninstall_error_hook() must put the previous hook back"
    device.uninstall_error_hook()  # nothing installed: nothing happens
    assert device.excepthook_state()["is_base"]
