"""Evidence on every emulated board (harness/boards/qemu.py: Cortex-M3, Cortex-M0,
Cortex-A9, RV32IMC): the SDK runs in the firmware over mpremote's serial transport,
its queue lives in the event buffer, values survive the 32-bit port (small ints are
31-bit there, floats single precision), the board's clock runs at the right rate,
and every boot draws a new stream id (from the RNG where the board has one, from
timing where it has none)."""

from __future__ import annotations

import re

from harness import SDK_VERSION
from harness.protocol import CONTEXT_IDS, QUEUE_STATS_KEYS, SDK_PLATFORM_MICROPYTHON
from harness.wire import F64, Int, UInt, decode_frames

from firmware_support import booted_qemu

#: The board has no network: the snippet replaces honch_transport.post_chunk (as the
#: harness's tether does) and keeps each request for the host to decode.
CAPTURING_CLIENT = """
import sys, gc, honch, honch_transport, _honch_core
posted = []
def keep_post(url, body, headers, timeout_ms):
    posted.append({"url": url, "body": body.hex(), "headers": sorted(headers.items()), "timeout_ms": timeout_ms})
    return 204, None
honch_transport.post_chunk = keep_post
buf = bytearray(8192)
c = honch.Honch(api_key="phc_qemu", device_id="qemu-1", device_model="mps2-an385", firmware_version="fw-q",
                event_buffer=buf, endpoint_url="http://capture.invalid:8080", transport_timeout_ms=20000)
"""


def _context(message, name):
    cid = next(i for i, n in CONTEXT_IDS.items() if n == name)
    return message.context_value(cid)


def test_sdk_tracks_and_reports_queue_stats_on_the_emulated_board(qemu_repl):
    result = qemu_repl.run(CAPTURING_CLIENT + """
for i in range(5):
    c.track("tick", {"i": i, "big": 2**40 + i, "neg": -2**63, "u64": 2**64 - 1, "f": 0.5})
stats = c.queue_stats()
c.flush()
result = {"platform": sys.platform, "core_platform": _honch_core.PLATFORM, "version": _honch_core.SDK_VERSION,
          "stats": stats, "after": c.queue_stats(), "posted": posted, "stream_id": c.stream_id()}
""")
    assert result["platform"] == "qemu"
    assert result["core_platform"] == SDK_PLATFORM_MICROPYTHON
    assert result["version"] == SDK_VERSION
    stats = result["stats"]
    assert set(stats) == set(QUEUE_STATS_KEYS)
    assert stats["queued_events"] == 6  # $device_boot + 5
    assert stats["buffer_bytes"] == 8192  # the queue lives in event_buffer (contract 6.6)
    assert 0 < stats["queued_bytes"] <= 8192
    assert result["after"]["queued_events"] == 0

    [request] = result["posted"]
    assert request["url"] == "http://capture.invalid:8080/capture"
    assert request["timeout_ms"] == 10000  # transport_timeout_ms clamps to 10000 on MicroPython
    assert dict(request["headers"])["X-Honch-Stream-Id"] == result["stream_id"]
    message = decode_frames([bytes.fromhex(request["body"])])
    assert _context(message, "$sdk_platform") == SDK_PLATFORM_MICROPYTHON
    # No wall clock on this board: timestamps stay monotonic and are marked so (contract 5).
    assert _context(message, "device_time_source") == UInt(0)
    assert message.events[0].time_delta_ms == 0  # base_time_ms is the first event's timestamp
    assert 0 < message.base_time_ms < 3600 * 1000  # milliseconds since this boot
    ticks = [e for e in message.events if e.name == "tick"]
    assert [dict(e.properties)["i"] for e in ticks] == [UInt(i) for i in range(5)]
    for i, event in enumerate(ticks):
        props = dict(event.properties)
        assert props["big"] == UInt(2**40 + i)
        assert props["neg"] == Int(-2**63)
        assert props["u64"] == UInt(2**64 - 1)
        assert props["f"] == F64(0.5)  # a single-precision float still travels as float64


def test_no_gc_allocation_is_retained_per_track(qemu_repl):
    # Measured inside functions: new globals of the REPL would take heap themselves.
    # micropython.mem_total() counts every byte ever allocated (MICROPY_MEM_STATS).
    result = qemu_repl.run(CAPTURING_CLIENT + """
import micropython
props = {"n": 1, "name": "sensor", "ok": True, "values": [1.5, -2], "big": 2**40, "neg": -2**63}
def allocated_by_core(n):
    track = c._core.track
    start = micropython.mem_total()
    for _ in range(n):
        track("reading", props)
    return micropython.mem_total() - start
def retained(n):
    gc.collect()
    start = gc.mem_free()
    for _ in range(n):
        c.track("reading", props)
    gc.collect()
    return start - gc.mem_free()
retained(10)
allocated_by_core(5)
result = {"retained": retained(200), "core_allocated": allocated_by_core(100), "stats": c.queue_stats()}
""")
    stats = result["stats"]
    # Every track was taken; the 8 KiB buffer dropped the oldest ones (also without allocating).
    assert stats["queued_events"] + stats["capacity_dropped_events"] == 316
    assert result["core_allocated"] == 0, "_honch_core allocated on the GC heap while tracking"
    assert stats["capacity_dropped_events"] > 0
    assert result["retained"] <= 0


def test_every_boot_draws_a_new_stream_id(qemu_firmware, qemu_machine):
    snippet = CAPTURING_CLIENT + "result = [c.stream_id(), honch.Honch(api_key='k', device_id='d', " \
        "device_model='m', firmware_version='1', event_buffer=bytearray(256)).stream_id()]"
    ids = []
    for _ in range(2):
        with booted_qemu(qemu_firmware, qemu_machine.name) as repl:
            ids.extend(repl.run(snippet))
    assert all(re.fullmatch(r"[0-9a-f]{8}", i) for i in ids), ids
    assert len(set(ids)) == 4, f"stream ids repeat across clients or boots: {ids}"


def test_the_board_clock_counts_real_time(qemu_repl):
    """The board HAL's clock (harness/firmware/boards/<BOARD>) behind time.ticks_*: a
    250 ms sleep lasts at least 250 ms by the board's microsecond and millisecond
    counters, which agree with each other, and not longer than the host saw the whole
    exchange take (the board cannot count time that did not pass)."""
    import time

    began = time.monotonic()
    result = qemu_repl.run("""
import time
c0 = time.ticks_cpu(); m0 = time.ticks_ms(); u0 = time.ticks_us()
time.sleep_ms(250)
u1 = time.ticks_us(); m1 = time.ticks_ms(); c1 = time.ticks_cpu()
result = {"us": time.ticks_diff(u1, u0), "ms": time.ticks_diff(m1, m0), "cpu": time.ticks_diff(c1, c0)}
""")
    host_us = (time.monotonic() - began) * 1e6
    assert 250_000 <= result["us"] <= host_us, result
    assert abs(result["ms"] - result["us"] / 1000) <= 2, result  # two reads, each truncated to its unit
    assert result["cpu"] != 0, "the fast counter (time.ticks_cpu, the random seed) does not move"
