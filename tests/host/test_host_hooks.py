"""Host hooks of the C core (contract 2.1, 11.3, 11.9; C8, C48), the event buffer used
in place, and the logging handler."""

import logging
import sys

import pytest

import _honch_core
import honch
from harness import protocol
from host_sdk_support import FAKE_EPOCH_MS, FakePlatform, base_config, event_names


@pytest.fixture
def unraisable(monkeypatch):
    """Exceptions the extension reported with PyErr_WriteUnraisable during the test."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: seen.append(info.exc_value))
    return seen


# --- state_path: $firmware_update and identity across restarts ------------------------


def test_firmware_update_is_queued_when_the_stored_version_changes(capture, make_client, tmp_path):
    state = tmp_path / "honch.state"
    first = make_client(capture, port_hooks={"state_path": str(state)}, firmware_version="1.0.0")
    first.shutdown()
    same = make_client(capture, port_hooks={"state_path": str(state)}, firmware_version="1.0.0")
    same.shutdown()
    updated = make_client(capture, port_hooks={"state_path": state}, firmware_version="1.1.0")
    updated.flush()
    names = event_names(capture)
    assert names == ["$device_boot", "$device_shutdown", "$device_boot", "$device_shutdown",
                     "$firmware_update", "$device_boot"]
    update = capture.events()[4]["properties"]
    assert update["previous_version"] == "1.0.0" and update["new_version"] == "1.1.0"


def test_identity_survives_a_restart_with_state(capture, make_client, tmp_path):
    state = tmp_path / "honch.state"
    client = make_client(capture, port_hooks={"state_path": state})
    client.identify("user=7\nwith newline %41")
    client.shutdown()
    again = make_client(capture, port_hooks={"state_path": state})
    again.track("after-restart")
    again.flush()
    again.flush()
    assert capture.events()[-1]["distinct_id"] == "user=7\nwith newline %41"
    again.reset()  # back to device_id, also in the stored state
    again.shutdown()
    third = make_client(capture, port_hooks={"state_path": state})
    third.flush()
    assert capture.events()[-1]["distinct_id"] == "dev-host-1"


def test_unwritable_state_fails_construction_with_storage_error(capture, tmp_path):
    missing_dir = tmp_path / "no" / "such" / "dir" / "state"
    with pytest.raises(honch.StorageError) as caught:
        honch.Honch._with_port_hooks({"state_path": str(missing_dir)}, **base_config(capture))
    assert caught.value.status == protocol.STATUS["IO"]


def test_port_hooks_are_checked_by_name(capture):
    with pytest.raises(honch.InvalidArgumentError):
        honch.Honch._with_port_hooks({"clock": object()}, **base_config(capture))


# --- battery (C48) and auto properties ------------------------------------------------


def test_reset_clears_the_battery_latch_and_error_events_carry_no_level(capture, make_client):
    client = make_client(capture, port_hooks={"battery_callback": lambda: 5}, battery_low_threshold=20)
    client.track("latched")  # the latch is set by now: no $battery_low for this one
    client.reset()
    client.track("after-reset")
    client.report_log_error("no battery on $error")
    client.flush()
    summary = [(e["event"], e["properties"].get("$battery_level"), e["properties"].get("level"))
               for e in capture.events()]
    assert summary == [
        ("after-reset", 5, None),
        ("$battery_low", 5, 5),
        ("$error", None, "error"),  # $error's own "level" property, and no battery level
    ]


def test_battery_latch_sequence_before_reset(capture, make_client):
    level = {"value": 80}
    client = make_client(capture, port_hooks={"battery_callback": lambda: level["value"]},
                         battery_low_threshold=20, flush_max_batches=10)
    client.reset()
    for value in (50, 19, 10, 25, 5, -1, 150):
        level["value"] = value
        client.track("reading", {"v": value})
    client.flush()
    summary = [(e["event"], e["properties"].get("$battery_level")) for e in capture.events()]
    assert summary == [
        ("reading", 50),
        ("reading", 19), ("$battery_low", 19),  # dropped below: once
        ("reading", 10),  # still low, latched: no second $battery_low
        ("reading", 25),  # at or above the threshold clears the latch
        ("reading", 5), ("$battery_low", 5),
        ("reading", None),  # negative: unknown, not stamped
        ("reading", None),  # above 100: unknown
    ]
    lows = [e["properties"]["level"] for e in capture.events() if e["event"] == "$battery_low"]
    assert lows == [19, 5]


def test_raising_battery_callback_reads_as_unknown(capture, unraisable, make_client):
    def broken():
        raise RuntimeError("fuel gauge offline")

    client = make_client(capture, port_hooks={"battery_callback": broken})
    client.track("no-level")
    assert [str(e) for e in unraisable][-1] == "fuel gauge offline"
    client.flush()
    assert "$battery_level" not in capture.events()[-1]["properties"]


def test_auto_properties_are_added_except_on_error_and_caller_wins(capture, make_client):
    calls = []

    def auto():
        calls.append(1)
        return {"uptime_s": 12, "build": "abc"}

    client = make_client(capture, port_hooks={"auto_properties_callback": auto})
    client.reset()
    calls.clear()
    client.track("t", {"build": "mine"})
    assert len(calls) == 1  # once per event, although the core walks it twice
    client.report_log_error("e")
    client.flush()
    tracked, error = capture.events()
    assert tracked["properties"]["uptime_s"] == 12
    assert tracked["properties"]["build"] == "mine"
    assert "uptime_s" not in error["properties"]


def test_auto_properties_count_toward_the_64_limit(capture, make_client):
    client = make_client(capture, port_hooks={"auto_properties_callback": lambda: {"auto": 1}})
    with pytest.raises(honch.InvalidArgumentError):
        client.track("wide", {f"k{i}": i for i in range(protocol.MAX_PROPERTIES)})
    client.track("fits", {f"k{i}": i for i in range(protocol.MAX_PROPERTIES - 1)})


def test_failing_auto_properties_callback_fails_the_event(capture, unraisable, make_client):
    state = {"fail": False}

    def auto():
        if state["fail"]:
            raise RuntimeError("sensor bus down")
        return {"uptime_s": 1}

    client = make_client(capture, port_hooks={"auto_properties_callback": auto})
    before = client.queue_stats()
    state["fail"] = True
    with pytest.raises(honch.InvalidArgumentError):
        client.track("t")
    assert client.queue_stats() == before
    assert [str(e) for e in unraisable] == ["sensor bus down"]


def test_calls_from_another_thread_during_an_upload(capture, make_client):
    import threading

    uploading = threading.Event()
    release = threading.Event()

    def transport(url, body, headers, timeout_ms):
        uploading.set()
        release.wait(10)
        return (204, None)

    client = make_client(capture, port_hooks={"transport": transport})
    worker = threading.Thread(target=client.flush)
    worker.start()
    try:
        assert uploading.wait(10)
        client.track("meanwhile")  # allowed, as from inside the transport
        with pytest.raises(honch.HonchError) as caught:
            client.tick()
        assert caught.value.status == protocol.STATUS["BUSY"]
    finally:
        release.set()
        worker.join(10)
    assert client.queue_stats()["queued_events"] == 1  # $device_boot delivered, "meanwhile" queued


# --- platform: the clock, wall clock and random source -----------------------------------


def test_fake_clock_stamps_timestamps(capture, make_client):
    platform = FakePlatform(now=5000)
    client = make_client(capture, port_hooks={"platform": platform})
    platform.advance(250)
    client.track("later")
    client.flush()
    boot, later = capture.events()
    assert boot["timestamp"] == FAKE_EPOCH_MS + 5000
    assert later["timestamp"] == FAKE_EPOCH_MS + 5250


def test_partial_platform_uses_the_host_for_what_it_lacks(capture, make_client):
    class ClockOnly:
        def monotonic_ms(self):
            return 42

    client = make_client(capture, port_hooks={"platform": ClockOnly()})
    client.flush()
    assert capture.events()[0]["timestamp"] > protocol.VALID_WALL_CLOCK_MS  # the host's wall clock


def test_random_bytes_hook_feeds_the_stream_id(capture, make_client):
    class Fixed(FakePlatform):
        def random_bytes(self, n):
            return bytes(range(0x1a, 0x1a + n))

    client = make_client(capture, port_hooks={"platform": Fixed()})
    assert client.stream_id() == "1a1b1c1d"


def test_broken_clock_hook_is_reported_and_time_never_goes_back(capture, unraisable, make_client):
    platform = FakePlatform(now=8000, wall_valid=False)  # timestamps then come from the monotonic clock
    client = make_client(capture, port_hooks={"platform": platform})
    platform.now = "not a number"
    client.track("while-broken")
    assert any("platform clock returned 'not a number'" in str(e) for e in unraisable)
    platform.now = 3000  # backwards: held at 8000
    client.track("backwards")
    platform.now = 9000
    client.track("forwards")
    client.flush()
    assert [e["timestamp"] for e in capture.events()] == [8000, 8000, 8000, 9000]


# --- event buffer -------------------------------------------------------------------------


def test_event_buffer_is_used_in_place_and_released_at_shutdown(capture, make_client):
    buffer = bytearray(4096)
    client = make_client(capture, event_buffer=buffer)
    client.track("marker-\u2603")
    assert "marker-\u2603".encode() in buffer  # the queue lives in the caller's buffer
    with pytest.raises(BufferError):
        buffer.extend(b"x")  # held while the client lives
    client.shutdown()
    buffer.extend(b"x")  # released
    assert len(buffer) == 4097


def test_core_client_in_a_reference_cycle_is_collected(capture):
    import gc
    import weakref

    holder = {}

    def transport(url, body, headers, timeout_ms):
        return holder["client"] and (204, None)  # closure -> holder -> client -> transport

    holder["client"] = _honch_core.Client(base_config(capture, transport=transport))
    ref = weakref.ref(holder["client"])
    del holder, transport
    gc.collect()
    assert ref() is None


# --- logging handler --------------------------------------------------------------------


def test_logging_handler_reports_errors_as_coalesced_error_events(capture, make_client):
    client = make_client(capture)
    handler = honch.HonchLogHandler(client)
    logger = logging.getLogger("app.sensors")
    logger.addHandler(handler)
    try:
        logger.warning("below the handler's level")
        logger.error("read failed")
        logger.error("read failed")
        logging.getLogger("honch").addHandler(handler)
        logging.getLogger("honch").error("the SDK's own log")
    finally:
        logger.removeHandler(handler)
        logging.getLogger("honch").removeHandler(handler)
    client.flush()
    [error] = [e for e in capture.events() if e["event"] == "$error"]
    assert error["properties"]["component"] == "app.sensors"
    assert error["properties"]["message"] == "read failed"
    assert error["properties"]["count"] == 2
    client.shutdown()
    logger.addHandler(handler)
    try:
        logger.error("after shutdown: dropped quietly")
    finally:
        logger.removeHandler(handler)
