"""The lab of the lab tests, all on loopback and owned by the test: the emulated board
exported by ser2net, a labgrid coordinator and exporter with a place for it, and
``honch-hil run`` against boards files the tests write."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.boards.exporter import ExportedQemu, free_port, listening
from harness.boards.inventory import ROOT
from harness.boards.labgrid import DEFAULT_CLIENT
from harness.boards.links import ByteLog, kill_process_group
from harness.boards.qemu import QemuInstance
from harness.firmware import ensure_firmware
from harness.boards.qemu import DEFAULT_MACHINE as QEMU_MACHINE

LABGRID_BIN = DEFAULT_CLIENT.parent
#: the fields every exported emulated board shares (boards.toml syntax)
EXPORTED_BOARD = ('network = "tether"\nreset = "soft"\nop_timeout = 15\n'
                  'tags = ["emulated", "micropython", "tether"]\n')


@pytest.fixture
def exported_qemu(tmp_path):
    """A factory of emulated boards behind ser2net (RFC 2217 and raw TCP on loopback)."""
    made = []

    def make(name="board"):
        board = ExportedQemu(ensure_firmware("qemu"), QEMU_MACHINE, ByteLog(tmp_path / f"{name}-exporter.log"))
        made.append(board)
        return board.start()

    yield make
    for board in made:
        board.stop()


def honch_hil(*args: str, **kwargs) -> subprocess.Popen:
    """``honch-hil`` of this venv as a child process in its own process group."""
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                            **kwargs)


def finish(process: subprocess.Popen, timeout: float) -> tuple[int, str]:
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_process_group(process)
        out, _ = process.communicate()
        raise AssertionError(f"honch-hil did not finish within {timeout:g} s:\n{out[-3000:]}") from None
    return process.returncode, out


@pytest.fixture
def run_suite():
    """Start ``honch-hil run`` (returns the process); every one is killed at teardown."""
    started = []

    def start(boards_file: Path, reports: Path, *extra: str) -> subprocess.Popen:
        started.append(honch_hil("run", "--boards-file", str(boards_file), "--reports", str(reports), *extra))
        return started[-1]

    yield start
    for process in started:
        kill_process_group(process)


class LabgridLab:
    """labgrid-coordinator and labgrid-exporter on loopback; the exporter exports a
    serial device (RawSerialPort: it runs ser2net per acquisition) into one place."""

    def __init__(self, workdir: Path, device: str, place: str, tags: dict[str, str]):
        self.workdir = workdir
        self.coordinator = f"127.0.0.1:{free_port()}"
        self.place = place
        self.processes: list[subprocess.Popen] = []
        workdir.mkdir(parents=True, exist_ok=True)
        self._spawn("coordinator", [LABGRID_BIN / "labgrid-coordinator", "-l", self.coordinator])
        host, port = self.coordinator.rsplit(":", 1)
        self._wait(lambda: listening(host, int(port)), "the coordinator to listen")
        config = workdir / "exporter.yaml"
        config.write_text(f"honch-board:\n  RawSerialPort:\n    port: {device}\n    speed: 115200\n")
        self._spawn("exporter", [LABGRID_BIN / "labgrid-exporter", "-c", self.coordinator,
                                 "-n", "lab-1", "--hostname", "127.0.0.1", config])
        self._wait(lambda: "lab-1/honch-board" in self.client("resources").stdout, "the exporter's resource")
        self.client("-p", place, "create", check=True)
        self.client("-p", place, "add-match", "lab-1/honch-board/NetworkSerialPort", check=True)
        self.client("-p", place, "set-tags", *[f"{k}={v}" for k, v in tags.items()], check=True)

    def _spawn(self, name: str, argv: list) -> None:
        log = open(self.workdir / f"{name}.log", "w")
        self.processes.append(subprocess.Popen([str(a) for a in argv], cwd=self.workdir, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True))
        log.close()

    def _wait(self, ready, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"labgrid process {process.args[0]} exited while waiting for {what}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what} (logs in {self.workdir})")
            time.sleep(0.3)

    def client(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        done = subprocess.run([str(LABGRID_BIN / "labgrid-client"), "-x", self.coordinator, *args],
                              capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, LG_USERNAME="lab-admin"))
        if check and done.returncode != 0:
            raise RuntimeError(f"labgrid-client {' '.join(args)}: {done.stderr.strip()}")
        return done

    def stop(self) -> None:
        for process in reversed(self.processes):  # the exporter (and its ser2net) first
            kill_process_group(process)


@pytest.fixture
def labgrid_lab(tmp_path):
    """A labgrid lab whose one place, ``honch-rack-1`` (tags board=an385), holds the
    emulated board's console."""
    if not (LABGRID_BIN / "labgrid-client").exists():
        pytest.skip(f"labgrid is not installed in {LABGRID_BIN.parent} (make labgrid)")
    qemu = QemuInstance(ensure_firmware("qemu"), QEMU_MACHINE, ByteLog(tmp_path / "qemu.log"))
    lab = None
    try:
        lab = LabgridLab(tmp_path / "labgrid", qemu.start(), "honch-rack-1", {"board": "an385"})
        yield lab
    finally:
        if lab is not None:
            lab.stop()
        qemu.stop()


def clause_verdicts(reports: Path) -> dict[str, dict[str, tuple[str, str]]]:
    """board -> clause -> (verdict, reason) from the one run's summary.json under ``reports``."""
    import json

    summary = json.loads(next(reports.glob("*/summary.json")).read_text())
    verdicts: dict[str, dict[str, tuple[str, str]]] = {}
    for clause, entry in summary["clauses"].items():
        for board, cell in entry["boards"].items():
            verdicts.setdefault(board, {})[clause] = (cell["verdict"], cell.get("reason", ""))
    return verdicts


def assert_every_clause_passes(reports: Path, boards: list[str], output: str) -> None:
    """Each board ran the suite and passed every clause its tags and detected capabilities
    make applicable."""
    verdicts = clause_verdicts(reports)
    for board in boards:
        assert verdicts.get(board), f"board {board} ran no clause:\n{output[-3000:]}"
        bad = {c: v for c, v in verdicts[board].items()
               if v[0] != "pass" and not (v[0] == "skip" and ("lacks tag" in v[1] or "lacks capability" in v[1]))}
        assert not bad, f"board {board}: {bad}\n{output[-3000:]}"
