"""Round trip of agent calls on each emulated board: a no-op (``ping``) and ``track()``.

Prints median and p95 in milliseconds per board. Target: median <= 15 ms over the
QEMU pty. ``track()`` runs against an SDK client whose endpoint is never contacted
(a large flush threshold and interval), so it measures the link, the agent and the
SDK's enqueue only.

    build/venv/bin/python bench/agent_roundtrip.py [--board NAME ...] [-n CALLS]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.agent.codec import EventBuffer  # noqa: E402
from harness.boards.driver import BoardDriver  # noqa: E402
from harness.boards.inventory import load_boards  # noqa: E402

EMULATED = ("host", "unix", "qemu")
TARGET_MEDIAN_MS = 15.0


def timed(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def bench_board(spec, n: int, artifacts: Path) -> list[tuple[str, float, float]]:
    driver = BoardDriver(spec, artifacts)
    driver.log_to("bench")
    try:
        driver.start()
        driver.call("init", {
            "api_key": "bench-key", "device_id": "bench", "device_model": "bench",
            "firmware_version": "1.0.0", "event_buffer": EventBuffer(16384),
            "endpoint_url": "http://127.0.0.1:9", "flush_event_threshold": 100000,
            "flush_interval_seconds": 3600, "max_queued_events": 50,
        })
        for _ in range(10):  # warm up (imports, caches)
            driver.call("ping")
        rows = [("no-op", *summary(timed(lambda: driver.call("ping"), n)))]
        props = {"count": 1, "name": "sensor-1", "ok": True}
        rows.append(("track()", *summary(timed(lambda: driver.call("track", "sample", props), n))))
        return rows
    finally:
        driver.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", action="append", default=[], help="board name (default: emulated boards)")
    parser.add_argument("-n", type=int, default=300, help="calls per measurement (default 300)")
    args = parser.parse_args(argv)
    boards = load_boards()
    names = args.board or [n for n, s in boards.items() if s.kind in EMULATED and s.enabled]
    print(f"{'board':<14} {'call':<9} {'median ms':>10} {'p95 ms':>8}")
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            try:
                rows = bench_board(boards[name], args.n, Path(tmp))
            except Exception as exc:  # report the board, go on with the others
                print(f"{name:<14} unavailable: {str(exc).splitlines()[0]}")
                continue
            for call, median, p95 in rows:
                print(f"{name:<14} {call:<9} {median:>10.2f} {p95:>8.2f}", flush=True)
                if boards[name].kind == "qemu" and call == "no-op":
                    verdicts.append(f"{name}: no-op median {median:.2f} ms "
                                    f"({'meets' if median <= TARGET_MEDIAN_MS else 'misses'} the {TARGET_MEDIAN_MS:g} ms target)")
    for verdict in verdicts:
        print(verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
