"""``honch-hil run`` end to end on the host board: reports, links, exit status."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from harness import REPO_ROOT
from runs import honch_hil_run

def test_a_conforming_board_passes_and_every_report_is_written(tmp_path):
    proc, run_dir = honch_hil_run(tmp_path, "--clause", "C2")
    assert proc.returncode == 0, proc.stdout[-3000:]
    for name in ("junit.xml", "matrix.md", "matrix.html", "summary.json"):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["passed"] is True
    assert summary["clauses"]["C2"]["boards"]["host"]["verdict"] == "pass"
    assert all(cell["verdict"] == "pass" for info in summary["clauses"].values() for cell in info["boards"].values())
    assert "| C2 | wire | " in (run_dir / "matrix.md").read_text()
    assert list((run_dir / "artifacts" / "boards" / "host").glob("conformance_test_wire*.log"))
    transcripts = list((run_dir / "artifacts" / "server").glob("*.json"))
    assert transcripts and all(json.loads(t.read_text())["requests"] for t in transcripts)
    assert re.search(r"^\[host 1/\d+\] pass ", proc.stdout, re.M)  # no terminal: a line per finished test
    assert 'property name="board" value="host"' in (run_dir / "junit.xml").read_text()


def test_a_broken_port_fails_the_run_and_the_matrix_says_why(tmp_path):
    proc, run_dir = honch_hil_run(tmp_path, "--clause", "C2", mutant="no_stream_id")
    assert proc.returncode == 1
    summary = json.loads((run_dir / "summary.json").read_text())
    cell = summary["clauses"]["C2"]["boards"]["host"]
    assert cell["verdict"] == "fail"
    assert cell["reason"] and Path(cell["log"]).is_file() and Path(cell["transcript"]).is_file()
    md = (run_dir / "matrix.md").read_text()
    assert re.search(r"\| C2 \| wire \| .* \| FAIL", md) and "serial log" in md and "server transcript" in md
    assert re.search(r"host: clauses .*look at [C0-9, ]*\bC2\b", proc.stdout)
    assert "NON-CONFORMANT (exit status 1)" in proc.stdout


def test_unknown_board_is_a_clear_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--board", "nope",
                           "--reports", str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--board nope: not in the inventory" in proc.stderr


def test_repeat_runs_each_test_n_times_and_counts_every_attempt(tmp_path):
    proc, run_dir = honch_hil_run(tmp_path, "--clause", "C3", "--repeat", "3")
    assert proc.returncode == 0, proc.stdout[-3000:]
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    tests = {r["nodeid"].split("[")[0] for r in records}
    assert tests and len(records) == 3 * len(tests)
    cell = json.loads((run_dir / "summary.json").read_text())["clauses"]["C3"]["boards"]["host"]
    assert cell["verdict"] == "pass" and cell["attempts"] == 3 * len(cell["tests"])


def test_retries_do_not_turn_a_real_failure_into_a_pass(tmp_path):
    proc, run_dir = honch_hil_run(tmp_path, "--clause", "C2", "--retries", "1", mutant="no_stream_id")
    assert proc.returncode == 1
    outcomes = [json.loads(line)["outcome"] for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert "rerun" in outcomes and "failed" in outcomes and "passed" not in outcomes
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["clauses"]["C2"]["boards"]["host"]["verdict"] == "fail"
