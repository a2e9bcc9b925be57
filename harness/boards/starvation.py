"""How long a board and the harness were ready to run but had no CPU.

A timing clause has an upper bound: the device must act within it. On a loaded
host an emulated board (QEMU, the unix port, the host agent) and the harness
around it (the tether that carries the board's HTTP, the capture server) can be
runnable and still wait for a core; the board then acts late through no fault of
its own. Linux counts that wait per thread in ``/proc/<pid>/task/<tid>/schedstat``
(the second field: nanoseconds spent on a run queue). :class:`StarvationMeter`
samples the sum over the board's processes and this process every 20 ms,
so a test can ask how much of a given window was such waiting and
widen an upper bound by exactly that. On an idle machine the figure is about 0,
so the bound stays what the contract allows; lower bounds never need it.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from pathlib import Path

SAMPLE_PERIOD_S = 0.02
#: samples kept (about 400 s at the period above); older windows read from the oldest kept
MAX_SAMPLES = 20_000


def run_queue_wait_ns(pid: int) -> int | None:
    """Nanoseconds every thread of ``pid`` has spent runnable but not running; None if unknown."""
    total, seen = 0, False
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tasks:
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
        except OSError:
            continue  # the thread ended between listing and reading
        if len(fields) >= 2:
            total += int(fields[1])
            seen = True
    return total if seen else None


class StarvationMeter:
    """Cumulative run-queue wait of ``pids()`` plus this process, sampled in a thread."""

    def __init__(self, pids=lambda: (), period_s: float = SAMPLE_PERIOD_S):
        self._pids = pids
        self._period = period_s
        self._times: list[float] = []
        self._waits: list[float] = []
        self._base: dict[int, int] = {}   # pid -> its wait when first seen (new processes start at 0 here)
        self._last: dict[int, int] = {}
        self._gone = 0                    # wait of processes that have ended since
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.available = run_queue_wait_ns(os.getpid()) is not None

    def start(self) -> "StarvationMeter":
        if self.available and self._thread is None:
            self._stop.clear()  # started again after a stop (a board reset)
            self._sample()
            self._thread = threading.Thread(target=self._run, name="starvation-meter", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self._sample()

    def _total_ns(self) -> int:
        pids = {os.getpid(), *(p for p in self._pids() if p)}
        for pid in pids:
            wait = run_queue_wait_ns(pid)
            if wait is None:
                continue
            self._base.setdefault(pid, wait)
            self._last[pid] = wait
        for pid in [p for p in self._last if p not in pids]:  # ended or replaced (a reset)
            self._gone += self._last.pop(pid) - self._base.pop(pid)
        return self._gone + sum(w - self._base[p] for p, w in self._last.items())

    def _sample(self) -> None:
        with self._lock:
            now = time.monotonic()
            wait_ms = self._total_ns() / 1e6
            self._times.append(now)
            self._waits.append(wait_ms)
            if len(self._times) > MAX_SAMPLES:
                del self._times[:MAX_SAMPLES // 2], self._waits[:MAX_SAMPLES // 2]

    def _at(self, t: float) -> float:
        """Cumulative wait at monotonic time ``t``, the sample at or after it (a conservative read)."""
        i = bisect.bisect_left(self._times, t)
        return self._waits[min(i, len(self._waits) - 1)]

    def starved_ms(self, t_from: float, t_to: float) -> float:
        """Milliseconds of run-queue wait between two ``time.monotonic()`` instants.

        The window is widened to the samples around it, so the figure may include up
        to one sample period of waiting just outside it; 0 when nothing is measured.
        """
        if not self.available:
            return 0.0
        self._sample()  # the window may end just now
        with self._lock:
            if not self._times or t_to <= t_from:
                return 0.0
            i = max(bisect.bisect_right(self._times, t_from) - 1, 0)
            return max(0.0, self._at(t_to) - self._waits[i])
