"""The starvation meter (harness/boards/starvation.py): run-queue wait of a board's processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from harness.boards.driver import BoardDriver
from harness.boards.inventory import BoardSpec
from harness.boards.starvation import StarvationMeter, run_queue_wait_ns

pytestmark = pytest.mark.skipif(run_queue_wait_ns(os.getpid()) is None,
                                reason="this kernel has no /proc/<pid>/task/<tid>/schedstat")

SPIN = "import time\nend = time.monotonic() + float(__import__('sys').argv[1])\nwhile time.monotonic() < end: pass\n"


def _spinners(n: int, seconds: float, cpu: int) -> list[subprocess.Popen]:
    """n busy loops pinned to one CPU, so each waits for it while the others run."""
    procs = [subprocess.Popen([sys.executable, "-c", SPIN, str(seconds)]) for _ in range(n)]
    for p in procs:
        os.sched_setaffinity(p.pid, {cpu})
    return procs


def test_a_board_that_shares_its_cpu_with_busy_loops_is_measured_as_starved():
    cpu = min(os.sched_getaffinity(0))
    board, *others = procs = _spinners(3, 1.5, cpu)
    meter = StarvationMeter(lambda: [board.pid]).start()
    try:
        t0 = time.monotonic()
        for p in procs:
            p.wait()
        t1 = time.monotonic()
        starved = meter.starved_ms(t0, t1)
    finally:
        meter.stop()
        for p in procs:
            p.kill()
    # three loops on one CPU: each runs about a third of the time and waits the rest
    assert starved >= 0.3 * (t1 - t0) * 1000, f"{starved:.0f} ms of waiting measured in {t1 - t0:.2f} s"


def test_waiting_outside_the_window_is_not_counted_and_a_replaced_process_keeps_the_total():
    cpu = min(os.sched_getaffinity(0))
    pids = []
    meter = StarvationMeter(lambda: pids, period_s=0.002).start()
    try:
        first = _spinners(2, 0.6, cpu)
        pids[:] = [first[0].pid]
        for p in first:
            p.wait()
        busy_end = time.monotonic()
        before = meter.starved_ms(busy_end - 0.6, busy_end)
        pids[:] = [os.getpid()]  # the board process ended and was replaced (a reset)
        time.sleep(0.1)
        t0 = time.monotonic()
        time.sleep(0.2)
        quiet = meter.starved_ms(t0, time.monotonic())
        total = meter.starved_ms(busy_end - 0.6, time.monotonic())
    finally:
        meter.stop()
    assert before > 0, "two loops on one CPU: the board waited"
    assert quiet < before, f"an idle window ({quiet:.1f} ms) must not inherit the busy one's wait ({before:.1f} ms)"
    assert total >= before, "the wait of a process that ended stays in the total"


def test_an_empty_or_reversed_window_is_zero():
    meter = StarvationMeter().start()
    try:
        now = time.monotonic()
        assert meter.starved_ms(now, now) == 0.0
        assert meter.starved_ms(now, now - 1) == 0.0
    finally:
        meter.stop()


def _meter_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "starvation-meter" and t.is_alive())


def test_a_stopped_board_keeps_no_meter_thread_and_a_restarted_one_measures_again(tmp_path):
    """A meter samples /proc 50 times a second: each board left running one would cost
    its process CPU for as long as it lives (a harness that starts many boards)."""
    before = _meter_threads()
    driver = BoardDriver(BoardSpec(name="host", kind="host"), artifacts=tmp_path)
    try:
        for _ in range(3):  # start, stop, start again: a reset, then the end of a session
            driver.start()
            assert _meter_threads() == before + 1
            driver.stop()
            assert _meter_threads() == before, "a stopped board left its meter sampling"
        driver.start()
        samples = len(driver.starvation._times)
        time.sleep(0.2)
        assert len(driver.starvation._times) >= samples + 3, "a restarted meter samples again"
    finally:
        driver.stop()
    assert _meter_threads() == before
