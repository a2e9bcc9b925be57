"""Crash capture on the host (contract 11.4; C32-C35): run(), the excepthook, the
backtrace format and budget, and the crash report of the previous boot."""

import re
import sys

import pytest

import honch
from harness import protocol
from honch import _crash
from host_sdk_support import capture_requests, event_names

BACKTRACE_FRAME = re.compile(r"[^ ]+:(\d+|\?) in [^ ]+")


def test_wrapper_limits_are_the_contracts():
    assert _crash.MESSAGE_MAX_BYTES == protocol.CRASH_MESSAGE_MAX_BYTES
    assert _crash.BACKTRACE_MAX_BYTES == protocol.CRASH_BACKTRACE_MAX_BYTES
    assert _crash.BACKTRACE_SEPARATOR == protocol.CRASH_BACKTRACE_SEPARATOR


def _crashes(capture):
    return [e for e in capture.events() if e["event"] == "$crash"]


def read_sensor():
    raise ValueError("sensor 3 \u00e9chou\u00e9")


def main_loop():
    read_sensor()


def test_run_reports_flushes_and_reraises_the_same_exception(capture, make_client):
    client = make_client(capture)
    seen_on_server = []
    with pytest.raises(ValueError) as caught:
        try:
            client.run(main_loop)
        except ValueError:
            seen_on_server.extend(_crashes(capture))  # before the exception propagates further
            raise
    [crash] = seen_on_server
    props = crash["properties"]
    assert props["source"] == "exception"
    assert props["severity"] == "fatal"
    assert props["exception_cause"] == "ValueError"
    assert props["message"] == str(caught.value)
    assert re.fullmatch(r"[0-9a-f]{32}", props["crash_id"])
    frames = props["backtrace"].split(protocol.CRASH_BACKTRACE_SEPARATOR)
    assert frames[0].startswith("test_host_crash.py:") and frames[0].endswith(" in read_sensor")
    assert frames[1].endswith(" in main_loop")
    assert len(frames) == 2  # run()'s own frame is not part of the report
    assert all(BACKTRACE_FRAME.fullmatch(f) for f in frames)
    assert caught.value.__traceback__ is not None


def test_run_reraises_the_identical_object_and_returns_results(capture, make_client):
    client = make_client(capture)
    assert client.run(lambda a, b=0: a + b, 2, b=3) == 5
    error = KeyError("k")

    def fail():
        raise error
    with pytest.raises(KeyError) as caught:
        client.run(fail)
    assert caught.value is error


def test_run_refuses_a_non_callable(capture, make_client):
    client = make_client(capture)
    with pytest.raises(honch.InvalidArgumentError):
        client.run(42)


def test_one_crash_per_client_life(capture, make_client):
    client = make_client(capture)
    for _ in range(2):
        with pytest.raises(ZeroDivisionError):
            client.run(lambda: 1 / 0)
    client.flush()
    assert len(_crashes(capture)) == 1


@pytest.mark.parametrize("throwable", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_non_exception_throwables_are_reraised_without_report(capture, make_client, throwable):
    client = make_client(capture)

    def stop():
        raise throwable()
    with pytest.raises(throwable):
        client.run(stop)
    assert capture_requests(capture) == []
    assert client.queue_stats()["queued_events"] == 1


def test_failing_flush_never_masks_the_exception(capture, make_client):
    client = make_client(capture)
    capture.add_faults({"status": 503})
    with pytest.raises(OSError, match="disk gone"):
        client.run(_raise, OSError("disk gone"))
    # the $crash stayed queued for a later upload
    client.flush()
    assert [c["properties"]["exception_cause"] for c in _crashes(capture)] == ["OSError"]


def _raise(exc):
    raise exc


def test_offline_run_queues_the_crash_and_still_reraises(capture, make_client):
    online = {"state": False}
    client = make_client(capture, connectivity_callback=lambda: online["state"])
    with pytest.raises(RuntimeError):
        client.run(_raise, RuntimeError("no network"))
    assert capture_requests(capture) == []
    online["state"] = True
    client.flush()
    assert event_names(capture) == ["$device_boot", "$crash"]


def test_a_broken_str_does_not_stop_the_report(capture, make_client):
    class Weird(Exception):
        def __str__(self):
            raise RuntimeError("no text")

    client = make_client(capture)
    with pytest.raises(Weird):
        client.run(_raise, Weird())
    [crash] = _crashes(capture)
    assert crash["properties"]["exception_cause"] == "Weird"
    assert "message" not in crash["properties"]


def test_empty_message_is_left_out(capture, make_client):
    client = make_client(capture)
    with pytest.raises(ValueError):
        client.run(_raise, ValueError())
    assert "message" not in _crashes(capture)[0]["properties"]


# --- message and backtrace formatting (pure) ------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ("short", "short"),
    ("a" * 160, "a" * 160),
    ("a" * 161, "a" * 160),
    ("\u00e9" * 81, "\u00e9" * 80),  # 162 bytes: cut after 80 two-byte characters
    ("a" + "\u20ac" * 60, "a" + "\u20ac" * 53),  # 181 bytes: 1 + 3*53 = 160
    ("ab" + "\U0001f600" * 40, "ab" + "\U0001f600" * 39),  # 4-byte chars: 2 + 156 = 158
])
def test_message_cut_on_a_character_boundary(text, expected):
    assert _crash.cut_utf8(text, protocol.CRASH_MESSAGE_MAX_BYTES) == expected


def test_backtrace_is_innermost_first_with_basenames():
    frames = [("/srv/app/main.py", 4, "<module>"), ("/srv/app/app.py", 30, "main"),
              ("C:\\fw\\drv.py", 12, "read_sensor"), ("x.py", None, "f")]
    assert _crash.format_backtrace(frames) == \
        "x.py:? in f <- drv.py:12 in read_sensor <- app.py:30 in main <- main.py:4 in <module>"


def test_backtrace_keeps_the_most_leading_frames_within_192_bytes():
    frame = ("module_%02d.py", 100, "function_name")  # "module_NN.py:100 in function_name" = 33 bytes
    frames = [(frame[0] % i, frame[1], frame[2]) for i in range(10)]
    text = _crash.format_backtrace(frames)
    # 5 frames: 5*33 + 4*4 = 181 bytes; 6 would be 218
    assert len(text.encode()) == 181
    assert text.split(" <- ")[0] == "module_09.py:100 in function_name"
    assert len(text.split(" <- ")) == 5


def test_backtrace_exactly_at_the_budget_is_kept():
    name = "f" * (protocol.CRASH_BACKTRACE_MAX_BYTES - len("a.py:1 in "))
    assert len(_crash.format_backtrace([("a.py", 1, name)]).encode()) == protocol.CRASH_BACKTRACE_MAX_BYTES
    assert _crash.format_backtrace([("a.py", 1, name + "g")]) is None  # first frame alone too long
    assert _crash.format_backtrace([("b.py", 2, "outer"), ("a.py", 1, name + "g")]) is None


def test_backtrace_counts_utf8_bytes():
    name = "\u00e9" * 91  # 182 bytes + "a.py:1 in " (10) = 192
    assert _crash.format_backtrace([("a.py", 1, name)]) is not None
    assert _crash.format_backtrace([("a.py", 1, name + "\u00e9")]) is None


def test_micropython_print_exception_output_is_parsed(monkeypatch):
    printed = (
        "Traceback (most recent call last):\n"
        '  File "main.py", line 4, in <module>\n'
        '  File "app.py", line 30, in main\n'
        '  File "boot.py", line 9\n'  # no function: '?', as the wheel writes it
        '  File "lib/drv.py", line 12, in read_sensor\n'
        '  File "nolines.py", line 0, in f\n'
        "ValueError: bad\n"
    )

    def print_exception(exc, out):
        out.write(printed)

    class NoTraceback:
        """An exception object as MicroPython has it: no __traceback__."""
        __slots__ = ()

    monkeypatch.setattr(sys, "print_exception", print_exception, raising=False)
    frames = _crash.exception_frames(NoTraceback())
    assert frames == [("main.py", 4, "<module>"), ("app.py", 30, "main"), ("boot.py", 9, "?"),
                      ("lib/drv.py", 12, "read_sensor"), ("nolines.py", 0, "f")]
    assert _crash.format_backtrace(frames) == \
        "nolines.py:? in f <- drv.py:12 in read_sensor <- boot.py:9 in ? <- app.py:30 in main <- main.py:4 in <module>"


def test_deep_recursion_keeps_the_crash_site(capture, make_client):
    def recurse(n):
        if n == 0:
            raise RecursionError("deep")
        return recurse(n - 1)

    client = make_client(capture)
    with pytest.raises(RecursionError):
        client.run(recurse, 50)
    backtrace = _crashes(capture)[0]["properties"]["backtrace"]
    assert len(backtrace.encode()) <= protocol.CRASH_BACKTRACE_MAX_BYTES
    assert all(f.endswith(" in recurse") for f in backtrace.split(" <- "))


# --- the excepthook -----------------------------------------------------------------------


def test_error_hook_reports_and_chains_then_uninstalls(capture, make_client, monkeypatch):
    previous_calls = []

    def previous(exc_type, exc, tb):
        previous_calls.append(exc)

    monkeypatch.setattr(sys, "excepthook", previous)
    client = make_client(capture)
    assert client.install_error_hook() is True
    assert client.install_error_hook() is True  # twice: still one link
    hook = sys.excepthook
    assert hook is not previous
    try:
        read_sensor()
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
        error = exc
    assert previous_calls == [error]  # reached the previous hook exactly once
    client.flush()
    [crash] = _crashes(capture)
    assert crash["properties"]["exception_cause"] == "ValueError"
    assert crash["properties"]["backtrace"].split(" <- ")[0].endswith(" in read_sensor")
    client.uninstall_error_hook()
    assert sys.excepthook is previous
    client.uninstall_error_hook()  # nothing installed: no-op
    assert sys.excepthook is previous


def test_error_hook_ignores_non_exceptions_and_passes_them_on(capture, make_client, monkeypatch):
    previous_calls = []
    monkeypatch.setattr(sys, "excepthook", lambda t, e, tb: previous_calls.append(t))
    client = make_client(capture)
    client.install_error_hook()
    sys.excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert previous_calls == [KeyboardInterrupt]
    assert client.queue_stats()["queued_events"] == 1


def test_uninstall_under_a_later_hook_leaves_that_hook_working(capture, make_client, monkeypatch):
    base_calls = []
    monkeypatch.setattr(sys, "excepthook", lambda t, e, tb: base_calls.append(e))
    client = make_client(capture)
    client.install_error_hook()
    ours = sys.excepthook
    later = lambda t, e, tb: ours(t, e, tb)  # noqa: E731 - someone chained on top of us
    sys.excepthook = later
    client.uninstall_error_hook()
    assert sys.excepthook is later
    error = ValueError("after uninstall")
    sys.excepthook(ValueError, error, None)
    assert base_calls == [error]
    assert client.queue_stats()["queued_events"] == 1  # ours passed it through unreported


def test_install_error_hook_returns_false_without_sys_excepthook(capture, make_client, monkeypatch):
    monkeypatch.delattr(sys, "excepthook")
    client = make_client(capture)
    assert client.install_error_hook() is False


def test_shutdown_takes_the_hook_out(capture, make_client, monkeypatch):
    previous = lambda t, e, tb: None  # noqa: E731
    monkeypatch.setattr(sys, "excepthook", previous)
    client = make_client(capture)
    client.install_error_hook()
    client.shutdown()
    assert sys.excepthook is previous


# --- crash report of the previous boot (host hook) -----------------------------------------


def test_crash_report_hook_queues_crash_after_boot_with_its_reset_reason(capture, make_client):
    report = {"source": "watchdog", "severity": "bogus", "reset_reason": "watchdog",
              "message": "task wdt", "backtrace": "b" * 193, "task_name": "main",
              "fault_pc": "0x0800abcd", "summary_version": 2, "coredump_available": True,
              "crash_id": "0123456789abcdef0123456789abcdef"}
    client = make_client(capture, port_hooks={"crash_report": report})
    client.flush()
    boot, crash = capture.events()
    assert boot["event"] == "$device_boot"
    assert boot["properties"]["reset_reason"] == "watchdog"
    props = crash["properties"]
    assert crash["event"] == "$crash"
    assert props["source"] == "watchdog"
    assert props["severity"] == "fatal"  # unknown severity becomes fatal
    assert props["crash_id"] == report["crash_id"]
    assert props["summary_version"] == 2 and props["coredump_available"] is True
    assert "backtrace" not in props  # over 192 bytes: left out whole
    assert props["task_name"] == "main" and props["fault_pc"] == "0x0800abcd"
    # the once rule covers the boot crash too
    with pytest.raises(ValueError):
        client.run(_raise, ValueError("second"))
    assert len(_crashes(capture)) == 1


@pytest.mark.parametrize("report", [{"unknown_field": "x"}, {"message": 5}, {"summary_version": -1},
                                    {"coredump_available": "yes"}, ["not", "a", "dict"]], ids=repr)
def test_malformed_crash_report_is_refused(capture, make_client, report):
    with pytest.raises(honch.InvalidArgumentError):
        make_client(capture, port_hooks={"crash_report": report})
