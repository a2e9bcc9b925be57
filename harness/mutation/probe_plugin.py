"""pytest side of per-test coverage (``-p harness.mutation.probe_plugin``).

Before each test it announces the test's node id in ``$HONCH_MUTATION_PROBE/current``
and, when a host agent is running, waits until the agent has attributed what it
counted so far to the previous test (``probe/sitecustomize.py``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ACK_TIMEOUT_S = 30.0
_seq = 0


def _agents_alive(probe: Path) -> bool:
    alive = False
    for entry in (probe / "agents").glob("*"):
        try:
            os.kill(int(entry.name), 0)
            alive = True
        except (ProcessLookupError, ValueError):
            entry.unlink(missing_ok=True)
    return alive


def announce(nodeid: str) -> None:
    global _seq
    probe = Path(os.environ["HONCH_MUTATION_PROBE"])
    _seq += 1
    tmp = probe / "current.tmp"
    tmp.write_text(f"{_seq} {nodeid}", encoding="utf-8")
    os.replace(tmp, probe / "current")
    if not _agents_alive(probe):
        return
    deadline = time.monotonic() + ACK_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if int((probe / "ack").read_text()) >= _seq:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.005)
    raise RuntimeError(f"the host agent did not switch coverage to {nodeid} within {ACK_TIMEOUT_S:g} s")


def pytest_runtest_setup(item):
    announce(item.nodeid)


def pytest_sessionfinish(session):
    announce("")
