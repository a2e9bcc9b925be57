"""A board whose exporter accepts the connection and drops it as the agent starts (a
ser2net whose device went away, a rack port that resets): one board-lost error naming
the link and the log, "not run" for the rest, and no second attempt per test."""

from __future__ import annotations

import socket
import threading

from harness.runner import exitcodes
from runs import honch_hil_run, summary_of


class DroppingExporter:
    """A raw TCP "exporter" that closes every connection once it has read a first write."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(10)
                try:
                    conn.recv(64)  # the harness's first bytes (Ctrl-C to reach the REPL)
                except OSError:
                    pass

    def close(self):
        self.sock.close()
        self._thread.join(timeout=5)


def test_an_exporter_that_drops_the_link_at_agent_start_is_one_lost_board_error(tmp_path):
    exporter = DroppingExporter()
    try:
        boards = tmp_path / "boards.toml"
        boards.write_text(f'''
[boards.rack-drops]
kind = "serial"
port = "socket://127.0.0.1:{exporter.port}"
firmware = "preinstalled"
network = "tether"
reset = "soft"
start_timeout = 5
tags = ["real", "micropython", "tether"]
''')
        proc, run_dir = honch_hil_run(tmp_path, "--boards-file", str(boards), "--clause", "C1", "--clause", "C2",
                                      board="rack-drops", timeout=300)
    finally:
        exporter.close()
    out = proc.stdout + proc.stderr
    assert proc.returncode == exitcodes.INFRASTRUCTURE_ERROR, out[-3000:]
    assert "Traceback" not in out
    summary = summary_of(run_dir)
    assert set(summary["boards_lost"]) == {"rack-drops"}, summary["boards_lost"]
    lost = summary["boards_lost"]["rack-drops"]
    assert "link failed while the agent started" in lost["reason"] and lost["log"], lost
    tally = summary["tallies"]["rack-drops"]
    assert tally["error"] == 1 and tally["not_run"] >= 1 and tally["pass"] == tally["fail"] == 0, tally
    assert exporter.connections == 1, f"the harness connected {exporter.connections} times to a lost board"
