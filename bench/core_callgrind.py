"""Instructions per track() of a 4-property event in the C core, counted by callgrind.

Builds core/tests/bench/bench_track.c (-O2, host compiler) via `make -C core bench`,
runs it under `valgrind --tool=callgrind --toggle-collect=honch_track` and divides the
instructions collected inside honch_track (callees and the port's emitter included)
by the number of calls. Deterministic; target <= 4000. Needs the apt package valgrind.
"""

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "core"
CALLS = 1000
TARGET = 4000


def main() -> int:
    if not shutil.which("valgrind"):
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    subprocess.run(["make", "-s", "-C", str(ROOT / "core"), str(BUILD / "bench_track")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--toggle-collect=honch_track",
                        str(BUILD / "bench_track"), str(CALLS)], check=True, capture_output=True)
        total = int(re.search(r"^summary: (\d+)", out.read_text(), flags=re.M).group(1))
    per_call = total / CALLS
    print(f"core track(), 4 properties: {per_call:.0f} instructions per call "
          f"(callgrind, {CALLS} calls, host -O2; target <= {TARGET}: {'met' if per_call <= TARGET else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
