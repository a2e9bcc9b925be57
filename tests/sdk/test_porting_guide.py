"""docs/porting.md, followed step by step on a firmware that has only ``_honch_core``."""

from __future__ import annotations

import re
import subprocess
import sys

from harness import REPO_ROOT
from harness.firmware import ensure_firmware
from harness.runner import exitcodes

GUIDE = REPO_ROOT / "docs" / "porting.md"
HONCH_HIL = [sys.executable, "-m", "harness.cli"]


def _guide_board() -> str:
    blocks = re.findall(r"```toml\n(.*?)```", GUIDE.read_text(), flags=re.S)
    (board,) = [b for b in blocks if b.startswith("[boards.my-port]")]
    return board


def test_the_porting_guide_takes_a_core_only_firmware_to_a_matrix(tmp_path):
    firmware = ensure_firmware("unix-core-only")
    board = _guide_board()
    assert "/path/to/your/micropython" in board
    boards_file = tmp_path / "my-boards.toml"
    boards_file.write_text(board.replace("/path/to/your/micropython", str(firmware)))

    probe = subprocess.run([*HONCH_HIL, "boards", "--boards-file", str(boards_file), "--board", "my-port",
                            "--artifacts", str(tmp_path / "artifacts")],
                           capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert "OK" in probe.stdout and "honch 0.3.1" in probe.stdout, probe.stdout
    assert "capabilities" in probe.stdout and "status_attr" not in probe.stdout, probe.stdout

    run = subprocess.run([*HONCH_HIL, "run", "--boards-file", str(boards_file), "--board", "my-port",
                          "--clause", "C1", "--clause", "C47", "--reports", str(tmp_path / "reports")],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (report,) = list((tmp_path / "reports").iterdir())
    matrix = (report / "matrix.md").read_text()
    assert "my-port" in matrix and "C47" in matrix


def test_a_board_whose_firmware_has_no_honch_is_one_misconfigured_board_not_a_failing_port(tmp_path):
    """The guide's board without its ``wrapper`` line on a core-only firmware: the probe
    fails naming the field, and a run reports the board, not a failure of every clause."""
    firmware = ensure_firmware("unix-core-only")
    board = "\n".join(line for line in _guide_board().splitlines() if not line.startswith("wrapper"))
    boards_file = tmp_path / "my-boards.toml"
    boards_file.write_text(board.replace("/path/to/your/micropython", str(firmware)) + "\n")

    probe = subprocess.run([*HONCH_HIL, "boards", "--boards-file", str(boards_file), "--board", "my-port",
                            "--artifacts", str(tmp_path / "artifacts")],
                           capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert probe.returncode != 0 and "OK" not in probe.stdout, probe.stdout
    assert "cannot import honch" in probe.stdout and "'wrapper' field" in probe.stdout, probe.stdout

    run = subprocess.run([*HONCH_HIL, "run", "--boards-file", str(boards_file), "--board", "my-port",
                          "--clause", "C1", "--reports", str(tmp_path / "reports")],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode == exitcodes.INFRASTRUCTURE_ERROR, out[-3000:]
    assert "NON-CONFORMANT" not in out and "cannot import honch" in out, out[-3000:]
    assert "Traceback" not in out
