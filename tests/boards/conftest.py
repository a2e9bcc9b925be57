"""Helpers of the board tests: a fake raw-REPL board on a pty."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.boards.inventory import ROOT
from harness.boards.links import kill_process_group

FAKE_DEVICE = Path(__file__).with_name("fake_repl_device.py")


class FakeDevice:
    def __init__(self, workdir: Path, frozen_agent: bool = True):
        env = dict(os.environ)
        if frozen_agent:  # like our firmware: honch_agent importable without copying
            env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "harness" / "agent"), env.get("PYTHONPATH", "")])
        self.workdir = workdir
        self.process = subprocess.Popen([sys.executable, str(FAKE_DEVICE)], cwd=workdir, env=env,
                                        stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.port = self.process.stdout.readline().strip()
        if not self.port.startswith("/dev/"):
            kill_process_group(self.process)
            raise RuntimeError(f"the fake device did not report its pty: {self.port!r}")

    def hard_reset(self):
        os.kill(self.process.pid, signal.SIGUSR1)

    def stop(self):
        kill_process_group(self.process)
        self.process.stdout.close()


@pytest.fixture
def fake_device(tmp_path):
    (tmp_path / "board-fs").mkdir()
    device = FakeDevice(tmp_path / "board-fs")
    yield device
    device.stop()


@pytest.fixture
def fake_device_factory(tmp_path):
    made = []

    def make(frozen_agent=True):
        workdir = tmp_path / f"board-fs-{len(made)}"
        workdir.mkdir()
        made.append(FakeDevice(workdir, frozen_agent))
        return made[-1]

    yield make
    for device in made:
        device.stop()
