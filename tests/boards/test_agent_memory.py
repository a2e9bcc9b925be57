"""The agent on a small MicroPython heap: a long run must not leave less room for
the next test than a fresh board has.

An ``init`` decodes its arguments (the ``event_buffer`` among them) before the
previous client is released; on the Cortex-M0 board (~96 KiB of GC heap) a 32 KiB
buffer then failed with MemoryError after a full suite had run, although it fits on
a fresh board. These run the unix firmware with a heap sized so that one such
buffer fits beside the agent and the SDK but two do not.
"""

from __future__ import annotations

import pytest

from harness.agent.codec import EventBuffer
from harness.agent.device import Device
from harness.boards.driver import BoardDriver
from harness.boards.inventory import BoardSpec
from harness.firmware.build import ensure_firmware

BUFFER = 48 * 1024


def _start(tmp_path, heap_bytes):
    spec = BoardSpec(name="unix-small-heap", kind="unix", firmware=str(ensure_firmware("unix")),
                     network="host", args=["-X", f"heapsize={heap_bytes}"],
                     tags=("micropython", "wall_clock"), op_timeout=30)
    driver = BoardDriver(spec, artifacts=tmp_path)
    driver.start()
    return driver


@pytest.fixture
def small_heap(tmp_path, capture):
    """A unix board whose free heap after importing the SDK holds one BUFFER and a
    client, not two buffers."""
    probe = _start(tmp_path / "probe", 1024 * 1024)
    try:
        device = Device(probe, capture.endpoint, capture.key)
        device.init(event_buffer=EventBuffer(1024))
        device.drop()
        used = 1024 * 1024 - probe.call("gc")
    finally:
        probe.stop()
    driver = _start(tmp_path / "board", used + BUFFER + BUFFER // 2)
    yield driver
    driver.stop()


def test_reinit_with_a_large_buffer_releases_the_previous_client_first(small_heap, capture):
    device = Device(small_heap, capture.endpoint, capture.key)
    for round_ in range(3):
        device.init(event_buffer=EventBuffer(BUFFER))
        device.track("round", {"n": round_})
        device.flush()
    assert sorted(e["properties"]["n"] for e in capture.wait_for_events(6) if e["event"] == "round") == [0, 1, 2]


def test_named_buffers_live_for_one_test_only(small_heap, capture):
    device = Device(small_heap, capture.endpoint, capture.key)
    baseline = small_heap.call("gc")
    device.init(event_buffer=EventBuffer(BUFFER, name="kept"))
    device.init(event_buffer=EventBuffer(BUFFER, name="kept"))  # the same object again (C44)
    device.drop()  # what the device fixture does between tests
    assert small_heap.call("gc") > baseline - BUFFER // 4
    device.init(event_buffer=EventBuffer(BUFFER, name="other"))
    device.track("after")
    device.flush()
    assert "after" in {e["event"] for e in capture.wait_for_events(2)}
