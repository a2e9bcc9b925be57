"""``honch-hil boards`` stopped by a signal while it probes leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from harness.boards.inventory import ROOT
from harness.runner import exitcodes, processes


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_boards_stopped_by_a_signal_ends_the_board_it_probes(tmp_path, sig):
    firmware = tmp_path / "slowfw.sh"
    firmware.write_text("#!/bin/sh\nexec sleep 37\n")  # a unix board whose agent never comes up
    firmware.chmod(0o755)
    inventory = tmp_path / "boards.toml"
    inventory.write_text(f'[boards.slow]\nkind = "unix"\nfirmware = "{firmware}"\nwrapper = "project"\n'
                         'start_timeout = 30\n')
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "boards", "--boards-file", str(inventory),
                             "--artifacts", str(tmp_path / "artifacts")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        board = []
        while time.monotonic() < deadline and not board:
            board = [p for p in processes.descendants(proc.pid) if _comm(p) == "sleep"]
            time.sleep(0.05)
        assert board, "the board's firmware process never started"
        group = os.getpgid(board[0])
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == exitcodes.INTERRUPTED, err.decode()
        assert f"interrupted by {sig.name}" in err.decode()
        assert "Traceback" not in err.decode()
        deadline = time.monotonic() + 2  # the pid may still be a zombie of init for a moment
        while time.monotonic() < deadline and (processes.alive(board[0]) or _group_alive(group)):
            time.sleep(0.05)
        assert not processes.alive(board[0]), "the firmware process was left running"
        assert not _group_alive(group), "a process of the board's process group was left running"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in board:
            if processes.alive(pid):
                os.kill(pid, signal.SIGKILL)


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # zombies still count for killpg: only live members matter
    return any(_pgid(p) == pgid for p in processes._parents())


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
