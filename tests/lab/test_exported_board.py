"""The emulated board behind ser2net, driven like a board in a rack: sessions follow each
other on the same exported board (probe, run, run) and each finds a REPL, also after
a session that ended without stopping its agent."""

from __future__ import annotations

from conftest import EXPORTED_BOARD, assert_every_clause_passes, finish, honch_hil

from harness.boards.driver import BoardDriver
from harness.boards.inventory import parse_boards


def test_probe_then_run_then_run_on_the_same_exported_board(exported_qemu, run_suite, tmp_path):
    board = exported_qemu()
    boards_file = tmp_path / "boards.toml"
    boards_file.write_text(f'[boards.rack-an385]\nkind = "serial"\nport = "{board.url("rfc2217")}"\n{EXPORTED_BOARD}')
    status, out = finish(honch_hil("boards", "--boards-file", str(boards_file), "--artifacts", str(tmp_path / "probe")), 120)
    assert status == 0 and "OK" in out, out
    for attempt in ("first", "second"):
        status, out = finish(run_suite(boards_file, tmp_path / attempt, "-k", "test_api"), 300)
        assert status == 0, f"{attempt} run:\n{out[-3000:]}"
        assert_every_clause_passes(tmp_path / attempt, ["rack-an385"], out)


def test_an_agent_left_running_by_an_earlier_session_is_taken_over(exported_qemu, tmp_path):
    board = exported_qemu()
    spec = parse_boards(f'[boards.rack]\nkind = "serial"\nport = "{board.url("raw")}"\n{EXPORTED_BOARD}')["rack"]
    crashed = BoardDriver(spec, tmp_path).start()
    crashed.link.close()  # the harness died: no exit op, the agent still runs on the board
    crashed.link = crashed.agent = None
    taker = BoardDriver(spec, tmp_path)
    try:
        taker.start()
        assert taker.call("echo", "still here") == "still here"
        taker.reset()  # a soft reset ends the agent with its exit op first
        assert taker.call("ping") is None
    finally:
        taker.stop()
    log = taker.log.path.read_text()
    assert "took over an agent left running by an earlier session" in log
    assert "agent exit: exited" in log
