"""Boards on a labgrid place: a coordinator and an exporter on loopback, the exporter
exporting the emulated board's console; runs acquire the place, wait for it, release it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXPORTED_BOARD, assert_every_clause_passes, finish

from harness.boards.driver import BoardDriver
from harness.boards.exporter import free_port
from harness.boards.inventory import ROOT, parse_boards
from harness.boards.links import kill_process_group
from harness.boards.pool import BoardPool, BoardUnavailable

SUITE_TIMEOUT = 900


def labgrid_board(name: str, coordinator: str, target: str, acquire_timeout: float = 600) -> str:
    return (f'[boards.{name}]\nkind = "labgrid"\n{target}\ncoordinator = "{coordinator}"\n'
            f'acquire_timeout = {acquire_timeout}\n{EXPORTED_BOARD}')


def board_logs(reports: Path) -> str:
    return "\n".join(p.read_text() for p in reports.glob("*/artifacts/boards/**/*.log"))


def test_two_runs_contend_for_one_place_one_waits_both_pass_in_turn(labgrid_lab, run_suite, tmp_path):
    """The whole suite and a second run (its API tests: a second whole suite would only
    double the wait) start together on one place; one waits for the other's release."""
    boards_file = tmp_path / "boards.toml"
    boards_file.write_text(labgrid_board("rack-1", labgrid_lab.coordinator, 'place = "honch-rack-1"'))
    first = run_suite(boards_file, tmp_path / "first")
    second = run_suite(boards_file, tmp_path / "second", "-k", "test_api")
    results = [finish(first, SUITE_TIMEOUT), finish(second, SUITE_TIMEOUT)]
    for (status, out), name in zip(results, ("first", "second")):
        assert status == 0, f"{name} run:\n{out[-3000:]}"
        assert_every_clause_passes(tmp_path / name, ["rack-1"], out)
    waited = [name for name in ("first", "second") if "after waiting for" in board_logs(tmp_path / name)]
    assert len(waited) == 1, f"exactly one run waits for the other: {waited}"
    assert "acquired: None" in labgrid_lab.client("-p", "honch-rack-1", "show").stdout, "both runs released the place"


def test_a_reservation_by_tags_gets_the_place(labgrid_lab, tmp_path):
    spec = parse_boards(labgrid_board("rack", labgrid_lab.coordinator, 'place_tags = { board = "an385" }'))["rack"]
    driver = BoardDriver(spec, tmp_path)
    try:
        assert driver.start().call("echo", 7) == 7
    finally:
        driver.stop()
    driver.stop()  # release is idempotent
    assert "acquired: None" in labgrid_lab.client("-p", "honch-rack-1", "show").stdout


@pytest.mark.parametrize("case", ["held", "missing place", "coordinator down"])
def test_a_place_that_cannot_be_had_is_unavailable_in_one_line(labgrid_lab, tmp_path, case):
    coordinator, target = labgrid_lab.coordinator, 'place = "honch-rack-1"'
    if case == "held":
        labgrid_lab.client("-p", "honch-rack-1", "acquire", check=True)
    elif case == "missing place":
        target = 'place = "no-such-place"'
    else:
        coordinator = f"127.0.0.1:{free_port()}"
    spec = parse_boards(labgrid_board("rack", coordinator, target, acquire_timeout=2))["rack"]
    pool = BoardPool(tmp_path, tmp_path / "locks")
    try:
        with pytest.raises(BoardUnavailable) as caught:
            pool.checkout(spec, "test")
    finally:
        pool.close()
    message = str(caught.value)
    assert "\n" not in message and message.startswith("board rack: labgrid place")
    assert coordinator in message
    expected = {"held": "held by ", "missing place": "no such place",
                "coordinator down": "is labgrid-coordinator running"}[case]
    assert expected in message, message
    with pytest.raises(BoardUnavailable):
        pool.checkout(spec, "next test")  # the run goes on without it, without retrying


HOLD_PLACE = """
import sys, time
from harness.boards.inventory import ROOT, parse_boards
from harness.boards.links import kill_process_group
from harness.boards.labgrid import LabgridPlace
place = LabgridPlace(parse_boards(sys.argv[1])["rack"])
print(place.acquire(), flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_holder_releases_the_place(labgrid_lab, signum):
    board = labgrid_board("rack", labgrid_lab.coordinator, 'place = "honch-rack-1"')
    holder = subprocess.Popen([sys.executable, "-c", HOLD_PLACE, board], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        url = holder.stdout.readline()
        assert url.startswith("rfc2217://127.0.0.1:"), url
        assert "acquired: None" not in labgrid_lab.client("-p", "honch-rack-1", "show").stdout
        holder.send_signal(signum)
        holder.wait(timeout=60)
    finally:
        kill_process_group(holder)
        holder.stdout.close()
    assert "acquired: None" in labgrid_lab.client("-p", "honch-rack-1", "show").stdout
