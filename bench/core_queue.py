"""Cost of one track() + one consuming flush() in the C core at queue depths 16, 256, 1024.

Builds core/tests/bench/bench_queue.c (-O2) via `make -C core bench`. The driver keeps one
client per depth (1 MiB buffers, batch_size 1, a transport answering 204 at once) and
measures all depths interleaved in the same process, best of 15 rounds of 20000
iterations; every iteration queues one event and delivers (consumes) the oldest one, so
the depth stays constant. Push, peek and consume are O(1): the target is a 1024/16 ratio
of at most 1.25.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "core"
DEPTHS = (16, 256, 1024)
TARGET_RATIO = 1.25


def main() -> int:
    subprocess.run(["make", "-s", "-C", str(ROOT / "core"), str(BUILD / "bench_queue")], check=True)
    out = subprocess.run([str(BUILD / "bench_queue"), *map(str, DEPTHS)], check=True, capture_output=True,
                         text=True).stdout
    cost = {int(d): float(ns) for d, ns in (line.split() for line in out.splitlines())}
    for depth in DEPTHS:
        print(f"core queue depth {depth:>5}: {cost[depth]:8.1f} ns per track + consume")
    ratio = cost[1024] / cost[16]
    print(f"core queue ratio 1024/16: {ratio:.3f} (target <= {TARGET_RATIO}: "
          f"{'met' if ratio <= TARGET_RATIO else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
