"""The matrix a run reports: verdict per clause and board, from real pytest outcomes."""

import json
import os
import subprocess
import sys
import textwrap

from harness.report.collector import RESULTS_ENV
from harness.report.render import write_reports
from harness.report.results import Outcome, build_matrix, read_records
from harness.report.summary import summarize
from harness.runner import exitcodes

SUITE = textwrap.dedent('''
    import pytest

    @pytest.fixture(params=["alpha", "beta"])
    def dut(request, record_property):
        record_property("board", request.param)
        record_property("board_log", f"/tmp/logs/{request.param}.log")
        return request.param

    @pytest.mark.clause("C1", "C2")
    def test_headers(dut):
        assert True

    @pytest.mark.clause("C21")
    def test_spacing(dut):
        assert dut != "beta", "flush() sent inside the spacing window"

    @pytest.mark.clause("C48")
    def test_battery(dut):
        if dut == "beta":
            pytest.skip("board has no battery source")

    def test_without_clause(dut):
        pass
''')


def run_passed(records):
    return summarize(records, {"boards": sorted({r.board for r in records})})["exit_status"] == exitcodes.CONFORMANT


def run_suite(tmp_path, *extra):
    (tmp_path / "test_fake_conformance.py").write_text(SUITE)
    results = tmp_path / "results.jsonl"
    env = dict(os.environ, **{RESULTS_ENV: str(results)})
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "harness.report.collector", "-q",
                           "-p", "no:cacheprovider", str(tmp_path), *extra],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    return proc, read_records(results)


def test_matrix_has_a_verdict_per_clause_and_board_with_the_failure_reason(tmp_path):
    proc, records = run_suite(tmp_path)
    assert proc.returncode == 1
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert "test_fake_conformance.py::test_spacing[beta]" in {p["nodeid"] for p in plan}
    starts = (tmp_path / "progress.jsonl").read_text()
    assert "test_spacing[beta]" in starts
    matrix = build_matrix(records)
    assert set(matrix) == {"C1", "C2", "C21", "C48"}
    assert matrix["C1"]["alpha"].verdict == matrix["C1"]["beta"].verdict == "pass"
    assert matrix["C21"]["alpha"].verdict == "pass"
    beta = matrix["C21"]["beta"]
    assert beta.verdict == "fail"
    assert "flush() sent inside the spacing window" in beta.reason
    assert beta.log == "/tmp/logs/beta.log"
    assert matrix["C48"]["beta"].verdict == "skip"
    assert "no battery source" in matrix["C48"]["beta"].reason
    assert not run_passed(records)


def test_run_passes_only_without_failures(tmp_path):
    proc, records = run_suite(tmp_path, "-k", "not spacing")
    assert proc.returncode == 0
    assert run_passed(records)


def test_an_unclaused_failure_still_fails_the_run():
    records = [Outcome("t.py::test_a[x]", "x", ["C1"], "passed"),
               Outcome("t.py::test_b[x]", "x", [], "failed", message="boom")]
    assert not run_passed(records)


def test_retried_pass_is_flaky_not_clean_and_does_not_fail_the_run():
    records = [Outcome("t.py::test_a[x]", "x", ["C5"], "rerun", message="timeout"),
               Outcome("t.py::test_a[x]", "x", ["C5"], "passed")]
    matrix = build_matrix(records)
    assert matrix["C5"]["x"].verdict == "flaky"
    assert "timeout" in matrix["C5"]["x"].reason
    assert run_passed(records)


def test_repetitions_count_failures_per_clause(tmp_path):
    records = [Outcome(f"t.py::test_a[x-{i}-5]", "x", ["C23"], "failed" if i == 3 else "passed",
                          message="gap 2.9 s outside 2 s ± 25 %") for i in range(1, 6)]
    summary = write_reports(records, {"started": "now", "boards": ["x"]}, tmp_path)
    cell = summary["clauses"]["C23"]["boards"]["x"]
    assert (cell["verdict"], cell["failed"], cell["attempts"]) == ("fail", 1, 5)
    md = (tmp_path / "matrix.md").read_text()
    assert "| C23 | backoff | " in md and "| FAIL 1/5 |" in md
    assert "gap 2.9 s" in (tmp_path / "matrix.html").read_text()
    assert json.loads((tmp_path / "summary.json").read_text())["passed"] is False


def test_reports_link_logs_relative_to_the_report(tmp_path):
    log = tmp_path / "artifacts" / "beta.log"
    records = [Outcome("t.py::test_a[beta]", "beta", ["C2"], "failed", message="no stream id",
                          properties={"board_log": str(log)})]
    write_reports(records, {"started": "now", "boards": ["beta"]}, tmp_path)
    assert "[serial log](artifacts/beta.log)" in (tmp_path / "matrix.md").read_text()
    assert 'href="artifacts/beta.log"' in (tmp_path / "matrix.html").read_text()


def test_clause_option_selects_only_tests_citing_it(tmp_path):
    proc, records = run_suite(tmp_path, "--clause", "C48")
    assert {r.nodeid.split("::")[-1].split("[")[0] for r in records} == {"test_battery"}
    assert proc.returncode == 0


def test_unknown_clause_is_a_usage_error_naming_it(tmp_path):
    proc, _ = run_suite(tmp_path, "--clause", "C99")
    assert proc.returncode == 4
    assert "--clause C99: not a contract clause" in proc.stderr + proc.stdout
