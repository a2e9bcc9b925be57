"""The agent on every board of the inventory (host, unix, qemu-an385 by default),
through the plugin's ``device`` / ``capture`` fixtures, against the mock capture
server — including the tether on boards without a network."""

from __future__ import annotations

import pytest

from harness import protocol
from harness.agent.client import RemoteError, raises_remote
from harness.agent.tether import Tether, firmware_transport
from harness.boards.driver import BoardDriver
from harness.boards.inventory import ROOT, BoardSpec

from harness import SDK_VERSION as VERSION
from harness.sdk.wrappers import PUBLISHED_WHEELS


def capabilities(board) -> set:
    return set((board.info or {}).get("capabilities") or [])


def expected_platform(board) -> str:
    return protocol.SDK_PLATFORM_HOST if board.spec.kind == "host" else protocol.SDK_PLATFORM_MICROPYTHON


def test_info_reports_interpreter_core_and_heap(board):
    info = board.call("info")
    assert info["honch_core"] is True
    # our SDK, or a published wrapper in front of our core: the version is the wrapper's
    assert info["sdk_version"] in (VERSION, *PUBLISHED_WHEELS), info["sdk_version"]
    assert set(info["capabilities"]) <= set(protocol.CAPABILITIES), info["capabilities"]
    assert info["sdk_platform"] == expected_platform(board)
    if info["implementation"] == "micropython":
        assert info["version"].startswith("1.25") and isinstance(info["mem_free"], int)
    assert info["tether"] is (board.spec.network == "tether")


def test_tracked_event_reaches_the_capture_server(device, capture, board):
    properties = {"n": 7, "neg": -3, "pi": 3.5, "s": "h\u00e9", "list": [1, None, True], "map": {"a": "b"}}
    device.track("hil_smoke", properties)
    assert device.queue_stats()["queued_events"] == 2  # $device_boot + hil_smoke
    device.flush()
    events = {e["event"]: e for e in capture.wait_for_events(2)}
    smoke = events["hil_smoke"]
    for key, value in properties.items():
        assert smoke["properties"][key] == value
    assert smoke["properties"]["$device_id"] == device.device_id
    assert smoke["properties"]["$sdk_platform"] == expected_platform(board)
    assert smoke["properties"]["$sdk_version"] == VERSION
    assert device.queue_stats()["queued_events"] == 0


def test_device_exceptions_carry_class_status_and_honch_bases(device, capture, board):
    carries_status = "status_attr" in capabilities(board)
    with pytest.raises(RemoteError) as info:
        device.track("")
    assert info.value.name == "InvalidArgumentError"
    assert info.value.status == (protocol.STATUS["INVALID_ARGUMENT"] if carries_status else None)
    assert info.value.classes == ["InvalidArgumentError", "HonchError"]

    capture.add_faults({"status": 429, "headers": {"Retry-After": "1"}})
    device.track("x")
    with pytest.raises(RemoteError) as info:
        device.flush()
    assert info.value.classes == ["RateLimitedError", "TransportError", "HonchError"]
    assert info.value.status == (protocol.STATUS["RATE_LIMITED"] if carries_status else None)
    assert info.value.message == protocol.STATUSES[protocol.STATUS["RATE_LIMITED"]][1]


def test_values_json_cannot_carry_reach_the_sdk(device, capture):
    capture.reset(binary_properties=True)
    device.track("typed", {"blob": b"\x00\x01\xff", "tup": (1, 2), "big": 2**64 - 1, "low": -2**63})
    with raises_remote("InvalidArgumentError", status=protocol.STATUS["INVALID_ARGUMENT"]):
        device.track("nan", {"x": float("nan")})
    with raises_remote("InvalidArgumentError"):
        device.track("obj", {"x": __import__("harness.agent.codec", fromlist=["Unsupported"]).Unsupported()})
    with raises_remote("InvalidArgumentError"):
        device.track("intkey", {1: "x"})
    device.flush()
    typed = next(e for e in capture.wait_for_events(2) if e["event"] == "typed")
    assert typed["properties"]["tup"] == [1, 2]
    assert typed["properties"]["big"] == 2**64 - 1 and typed["properties"]["low"] == -2**63


def test_run_reraises_the_same_exception_after_reporting_it(device, capture, board):
    assert device.run(result=(1, "x")) == {"returned": (1, "x")}
    raised = device.run(exception="ValueError", message="sensor on fire", depth=3)["raised"]
    assert raised["class"] == "ValueError" and raised["message"] == "sensor on fire"
    assert raised["same_object"] is True
    crash = next(e for e in capture.wait_for_events(2) if e["event"] == "$crash")
    assert crash["properties"]["exception_cause"] == "ValueError"
    if board.spec.wrapper == "project" or board.info["implementation"] == "micropython":
        # (the published wrapper builds backtraces from MicroPython's sys.print_exception only)
        assert "_raiser" in crash["properties"]["backtrace"]


def test_pump_ticks_on_the_device_until_the_threshold_flush(device, capture):
    device.init(flush_event_threshold=3, flush_min_interval_ms=protocol.SPACING_DISABLED)
    device.track("a")
    device.track("b")
    result = device.pump(300, 20)
    assert result["ticks"] >= 5 and result["elapsed_ms"] >= 300
    assert {"a", "b"} <= {e["event"] for e in capture.wait_for_events(3)}


def test_offline_callback_driven_from_the_host(device, capture, board):
    from harness.agent.codec import ONLINE_CALLBACK

    device.init(connectivity_callback=ONLINE_CALLBACK)
    device.set_online(False)
    device.track("kept")
    with raises_remote("OfflineError", status=protocol.STATUS["OFFLINE"]):
        device.flush()
    device.set_online(True, reenter="tick")
    device.flush()
    log = device.callback_log()
    assert log["calls"] >= 2
    assert log["reentries"][0]["op"] == "tick"
    if "status_attr" in capabilities(board):
        assert log["reentries"][0]["status"] == protocol.STATUS["BUSY"]
    assert "kept" in {e["event"] for e in capture.wait_for_events(2)}


@pytest.mark.requires_tags("tether")
def test_tether_sends_the_firmware_transport_bytes(device, capture, board):
    device.track("tethered")
    device.flush()
    assert "tethered" in {e["event"] for e in capture.wait_for_events(2)}
    assert board.tether.requests >= 1
    request = capture.requests()[-1]
    names = sorted(name.lower() for name, _ in _header_items(request["headers"]))
    assert names == sorted(["host", "content-length", "connection", "content-type",
                            protocol.HEADER_PROJECT_KEY.lower(), protocol.HEADER_STREAM_ID.lower()])


def _header_items(headers):
    return headers.items() if hasattr(headers, "items") else headers


@pytest.fixture
def host_tether_board(tmp_path):
    """A host board whose uploads go through the tether (no firmware needed)."""
    driver = BoardDriver(BoardSpec(name="host-tether", kind="host", network="tether", op_timeout=15),
                         artifacts=tmp_path)
    driver.start()
    yield driver
    driver.stop()


def test_tether_timeout_is_enforced_on_the_device_and_late_answers_ignored(host_tether_board, capture):
    from harness.agent.device import Device

    device = Device(host_tether_board, capture.endpoint, capture.key)
    device.init(transport_timeout_ms=500)
    device.track("slow")
    capture.add_faults({"delay_ms": 1500})
    with raises_remote("TransportError", status=protocol.STATUS["TIMEOUT"]):
        device.flush()
    # the host answers the timed-out request late; the device must not take it for the next one
    device.init(transport_timeout_ms=5000)
    device.track("fast")
    device.flush()
    assert "fast" in {e["event"] for e in capture.wait_for_events(2, timeout=10)}


def test_tether_reports_refused_connection_as_transport(host_tether_board, capture):
    from harness.agent.device import Device

    device = Device(host_tether_board, "http://127.0.0.1:9", capture.key)
    device.init()
    device.track("nowhere")
    with raises_remote("TransportError", status=protocol.STATUS["TRANSPORT"]):
        device.flush()


def test_tether_serves_a_port_whose_post_chunk_returns_a_bare_status(tmp_path, capture):
    """tether_reply = "status": the device gets what its own post_chunk would return; the
    port then never sees Retry-After, so it falls back to its backoff."""
    from harness.agent.device import Device

    spec = BoardSpec(name="host-bare", kind="host", network="tether", tether_reply="status", op_timeout=15)
    driver = BoardDriver(spec, artifacts=tmp_path)
    try:
        driver.start()
        device = Device(driver, capture.endpoint, capture.key)
        device.init(flush_min_interval_ms=protocol.SPACING_DISABLED, flush_retry_initial_ms=100,
                    flush_retry_max_ms=100)
        device.track("bare")
        device.flush()
        assert "bare" in {e["event"] for e in capture.wait_for_events(2)}
        device.track("limited")
        capture.add_faults({"status": 429, "headers": {"Retry-After": "30"}})
        with raises_remote("RateLimitedError"):
            device.flush()
        device.pump(600)  # a port without Retry-After retries after its backoff (~100 ms), not 30 s
        assert "limited" in {e["event"] for e in capture.events()}
    finally:
        driver.stop()


def test_tether_bytes_equal_the_firmware_encoder():
    transport = firmware_transport()
    url = "http://127.0.0.1:8080/capture"
    headers = {"Content-Type": protocol.CONTENT_TYPE, protocol.HEADER_PROJECT_KEY: "k",
               protocol.HEADER_STREAM_ID: "0123abcd"}
    data = transport.encode_request(url, b"\x02body", headers)
    assert data.startswith(b"POST /capture HTTP/1.1\r\n") and data.endswith(b"\r\n\r\n\x02body")
    assert Tether().transport is transport


def test_hung_agent_is_interrupted_reset_and_answers_again(board):
    from harness.agent.client import AgentTimeout

    failures_before = board.health_failures
    resets_before = board.resets
    with pytest.raises(AgentTimeout) as info:
        board.call("sleep", 60_000, timeout=1.0)
    text = str(info.value) + "\n".join(getattr(info.value, "__notes__", []))
    assert f"board {board.name}: no reply to sleep() within 1 s" in text
    assert str(board.log_path) in text
    if board.spec.kind == "serial":  # the MPS2 firmware polls its UART only when reading, so no Ctrl-C there
        assert "KeyboardInterrupt" in text, "what the board printed after Ctrl-C is in the message"
    assert board.resets == resets_before + 1
    assert board.call("echo", "alive") == "alive"
    board.health_failures = failures_before  # a deliberate hang must not count against the board


@pytest.mark.requires_tags("tether")
def test_tethered_board_times_out_by_itself(device, capture):
    device.init(transport_timeout_ms=500)
    device.track("slow")
    capture.add_faults({"delay_ms": 1500})
    with raises_remote("TransportError", status=protocol.STATUS["TIMEOUT"]):
        device.flush()
    device.init()
    device.track("fast")
    device.flush()
    assert "fast" in {e["event"] for e in capture.wait_for_events(2, timeout=10)}


@pytest.mark.parametrize("name", ["host", "unix", "qemu-an385"])
def test_stop_leaves_no_process_behind(name, tmp_path):
    import os

    from harness.boards.inventory import load_boards

    driver = BoardDriver(load_boards()[name], artifacts=tmp_path)
    driver.start()
    process = driver.qemu.process if driver.qemu is not None else driver.link.process
    assert driver.call("ping") is None
    driver.stop()
    assert process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing of its process group is left either
