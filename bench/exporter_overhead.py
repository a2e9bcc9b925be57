"""Conformance suite wall time through network exporters against the direct pty.

The emulated board (QEMU mps2-an385) is run three ways, one after the other: on its
own pty (``qemu-an385``, as shipped), and exported by Debian's ser2net on loopback as
RFC 2217 (``rfc2217://…?ign_set_control``) and as raw TCP (``socket://``), each a
``kind = "serial"`` board of a test inventory. Each run is ``pytest conformance -m
"not slow"`` on that one board. Prints wall time, tests, failures and the ratio of
each exporter to the direct pty. Target (issue 10): ≤ 1.3×.

Usage: ``build/venv/bin/python bench/exporter_overhead.py``
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.boards.exporter import ExportedQemu  # noqa: E402
from harness.firmware import ensure_firmware  # noqa: E402
from harness.boards.qemu import DEFAULT_MACHINE as QEMU_MACHINE  # noqa: E402

TARGET = 1.3
#: as in boards.toml's qemu-an385, but reached over the exporter
EXPORTED = ('kind = "serial"\nport = "{url}"\nnetwork = "tether"\nreset = "soft"\nop_timeout = 15\n'
            'tags = ["emulated", "micropython", "tether"]\n')


def suite(boards_file: Path, board: str, workdir: Path) -> tuple[float, dict]:
    junit = workdir / f"{board}.xml"
    cmd = [sys.executable, "-m", "pytest", "conformance", "-m", "not slow", "-q", "-p", "no:cacheprovider",
           "--boards-file", str(boards_file), "--board", board, f"--junitxml={junit}",
           f"--artifacts={workdir / ('artifacts-' + board)}"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if not junit.exists():
        sys.exit(f"{board}: pytest wrote no report (exit {done.returncode})\n{done.stdout[-2000:]}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for testsuite in ET.parse(junit).getroot().iter("testsuite"):
        for key in totals:
            totals[key] += int(testsuite.get(key) or 0)
    return wall, totals


def main() -> int:
    firmware = ensure_firmware("qemu")
    with tempfile.TemporaryDirectory(prefix="honch-exporter-bench-") as tmp, \
            ExportedQemu(firmware, QEMU_MACHINE) as rfc2217, ExportedQemu(firmware, QEMU_MACHINE) as raw:
        workdir = Path(tmp)
        boards_file = workdir / "boards.toml"
        shipped = (ROOT / "boards.toml").read_text()
        boards_file.write_text(shipped + "\n[boards.rack-rfc2217]\n" + EXPORTED.format(url=rfc2217.url("rfc2217"))
                               + "\n[boards.rack-raw]\n" + EXPORTED.format(url=raw.url("raw")))
        results = {board: suite(boards_file, board, workdir) for board in ("qemu-an385", "rack-rfc2217", "rack-raw")}
    direct = results["qemu-an385"][0]
    print(f"{'board':<14} {'link':<28} {'tests':>5} {'fail':>4} {'skip':>4} {'wall s':>7} {'ratio':>6}")
    links = {"qemu-an385": "QEMU pty (direct)", "rack-rfc2217": "ser2net RFC 2217", "rack-raw": "ser2net raw TCP"}
    for board, (wall, totals) in results.items():
        failed = totals["failures"] + totals["errors"]
        print(f"{board:<14} {links[board]:<28} {totals['tests']:>5} {failed:>4} {totals['skipped']:>4} "
              f"{wall:>7.1f} {wall / direct:>5.2f}x")
    worst = max(results[b][0] for b in ("rack-rfc2217", "rack-raw")) / direct
    print(f"worst exporter / direct pty = {worst:.2f}x: {'meets' if worst <= TARGET else 'misses'} "
          f"the target of <= {TARGET}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
