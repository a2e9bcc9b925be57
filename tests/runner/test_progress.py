"""Progress per board from the collector's files: a live line per board on a terminal,
one short line per finished test without one."""

from __future__ import annotations

import io
import json
import os

from harness.report.results import Outcome, append_record
from harness.runner.progress import LineProgress, LiveProgress, Tracker, progress_for


def _plan(tmp_path, boards=("host", "unix"), tests=("test_a", "test_b", "test_c")):
    plan = [{"nodeid": f"t.py::{t}[{b}]", "board": b, "clauses": ["C1"], "test_id": f"t.py::{t}"}
            for b in boards for t in tests]
    (tmp_path / "plan.json").write_text(json.dumps(plan))


def _start(tmp_path, nodeid, t):
    with (tmp_path / "progress.jsonl").open("a") as f:
        f.write(json.dumps({"start": nodeid, "t": t}) + "\n")


def test_tracker_counts_done_failing_current_and_time_left_per_board(tmp_path):
    results = tmp_path / "results.jsonl"
    _plan(tmp_path)
    tracker = Tracker(results, ["host", "unix"])
    _start(tmp_path, "t.py::test_a[host]", 1000.0)
    append_record(results, Outcome("t.py::test_a[host]", "host", ["C1"], "passed"))
    _start(tmp_path, "t.py::test_b[host]", 1001.0)
    append_record(results, Outcome("t.py::test_b[host]", "host", ["C1"], "failed", message="boom"))
    append_record(results, Outcome("t.py::test_a[unix]", "unix", ["C1"], "skipped", when="setup", message="no tag"))
    _start(tmp_path, "t.py::test_c[host]", 1002.0)
    finished = tracker.poll()
    assert [(b, r.nodeid, s) for b, r, s, _ in finished] == [
        ("host", "t.py::test_a[host]", "pass"), ("host", "t.py::test_b[host]", "fail"),
        ("unix", "t.py::test_a[unix]", "skip")]
    host = tracker.boards["host"]
    assert (len(host.done), host.total, len(host.failing), host.current) == (2, 3, 1, "test_c[host]")
    assert host.eta_seconds() is not None and host.eta_seconds() > 0
    line = host.line()
    assert line.startswith("host") and "2/3" in line and "1 failing" in line and "now test_c[host]" in line
    assert "left" in line
    assert tracker.poll() == []  # nothing new


def test_without_a_terminal_one_short_line_per_finished_test(tmp_path):
    results = tmp_path / "results.jsonl"
    _plan(tmp_path, boards=("host",))
    tracker = Tracker(results, ["host"])
    out = io.StringIO()
    view = progress_for(out)
    assert isinstance(view, LineProgress)
    append_record(results, Outcome("t.py::test_a[host]", "host", ["C1"], "passed", duration=0.25))
    append_record(results, Outcome("t.py::test_b[host]", "host", ["C1"], "failed", message="x" * 500))
    view.update(tracker, tracker.poll())
    lines = out.getvalue().splitlines()
    assert lines[0] == "[host 1/3] pass    test_a[host] (0.2 s)"
    assert lines[1].startswith("[host 2/3] FAIL    test_b[host]: xxx") and len(lines[1]) < 140


def test_on_a_terminal_one_line_per_board_redrawn_in_place(tmp_path):
    results = tmp_path / "results.jsonl"
    _plan(tmp_path)
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as tty:
        view = progress_for(tty)
        assert isinstance(view, LiveProgress)
        tracker = Tracker(results, ["host", "unix"])
        view.start()
        view.update(tracker, tracker.poll())
        append_record(results, Outcome("t.py::test_a[unix]", "unix", ["C1"], "passed"))
        view.update(tracker, tracker.poll())
        view.live.refresh()
        view.stop()
    screen = os.read(master, 65536).decode("utf-8", "replace")
    os.close(master)
    assert "host" in screen and "0/3" in screen and "unix" in screen and "1/3" in screen
    assert "\x1b[" in screen  # cursor control: redrawn, not appended line after line


def test_test_ids_drop_the_board_and_the_repeat_step_whatever_the_other_parameters_hold():
    from harness.runner.testids import test_id

    assert test_id("c/t.py::test_x[vec-qemu-an385-2-5]", "qemu-an385", "2-5") == "c/t.py::test_x[vec]"
    assert test_id("c/t.py::test_x[host]", "host") == "c/t.py::test_x"
    assert test_id("c/t.py::test_x[a::b-[c]-unix]", "unix") == "c/t.py::test_x[a::b-[c]]"
    assert test_id("c/t.py::test_y", "host") == "c/t.py::test_y"
