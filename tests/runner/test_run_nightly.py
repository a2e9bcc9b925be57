"""Nightly-grade runs end to end: known deviations, --baseline, --rerun-failed, ad hoc boards,
error versus failure. Real ``honch-hil run`` processes on the host board (and the unix firmware)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

from harness import REPO_ROOT
from harness.firmware import ensure_firmware
from harness.report.results import Outcome
from harness.runner import exitcodes
from runs import honch_hil_run, plant_report, summary_of

STREAM_ID_TEST = "conformance/test_wire.py::test_stream_id_is_8_hex_stable_for_the_client_and_new_for_each_client"


def boards_file_with_expectations(tmp_path, deviations: dict[str, str]) -> str:
    (tmp_path / "expected.toml").write_text(
        "[deviations]\n" + "".join(f'{c} = "{r}"\n' for c, r in deviations.items()))
    (tmp_path / "boards.toml").write_text(
        '[boards.host]\nkind = "host"\nexpectations = "expected.toml"\n'
        'tags = ["excepthook", "battery", "persistent_state", "ssl", "wall_clock"]\n')
    return str(tmp_path / "boards.toml")


def test_a_known_deviation_is_shown_as_such_and_the_run_is_conformant(tmp_path):
    # the C2 tests also cite C1 and C10, which the missing header breaks as well
    boards = boards_file_with_expectations(tmp_path, {c: "this port sends no stream id" for c in ("C1", "C2", "C10")})
    proc, run_dir = honch_hil_run(tmp_path, "--boards-file", boards, "--clause", "C2", mutant="no_stream_id")
    assert proc.returncode == exitcodes.CONFORMANT, proc.stdout[-2000:]
    cell = summary_of(run_dir)["clauses"]["C2"]["boards"]["host"]
    assert cell["verdict"] == "deviation" and cell["expected"] == "this port sends no stream id"
    assert "known deviation" in (run_dir / "matrix.html").read_text()


def test_a_listed_clause_that_passes_is_unexpectedly_passing_and_non_conformant(tmp_path):
    boards = boards_file_with_expectations(tmp_path, {"C2": "this port sends no stream id"})
    proc, run_dir = honch_hil_run(tmp_path, "--boards-file", boards, "--clause", "C2")
    assert proc.returncode == exitcodes.NON_CONFORMANT
    summary = summary_of(run_dir)
    assert summary["clauses"]["C2"]["boards"]["host"]["verdict"] == "unexpected_pass"
    assert summary["result"] == "non-conformant"
    assert "UNEXPECTED PASS" in (run_dir / "matrix.md").read_text()


def test_a_malformed_expectations_file_is_a_usage_error_naming_file_and_clause(tmp_path):
    boards = boards_file_with_expectations(tmp_path, {"C99": "no such clause"})
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--boards-file", boards,
                           "--reports", str(tmp_path / "r")], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == exitcodes.USAGE_ERROR
    assert "expected.toml: deviations.C99: not a contract clause" in proc.stderr


def test_baseline_marks_a_planted_regression_and_has_its_own_exit_status(tmp_path):
    # last night (planted from collector records): C2 passed on host
    baseline = tmp_path / "last-night"
    plant_report(baseline, [Outcome(STREAM_ID_TEST + "[host]", "host", ["C2"], "passed")], boards=["host"])
    # tonight the port drops the stream id: C2 is a new failure
    proc, tonight = honch_hil_run(tmp_path, "--clause", "C2", "--baseline", str(baseline), mutant="no_stream_id")
    assert proc.returncode == exitcodes.REGRESSION, proc.stdout[-2000:]
    summary = summary_of(tonight)
    assert summary["clauses"]["C2"]["boards"]["host"]["diff"] == "new failure"
    assert "C2 on host" in summary["baseline"]["new failure"]
    assert re.search(r"new failure vs baseline: .*C2 on host", proc.stdout)
    html = (tonight / "matrix.html").read_text()
    assert re.search(r'id="C2-host"[^>]*data-diff="new failure"', html)

    # the same failure the next night: still failing, no regression
    proc, second = honch_hil_run(tmp_path, "--clause", "C2", "--baseline", str(tonight), mutant="no_stream_id")
    assert proc.returncode == exitcodes.NON_CONFORMANT
    assert summary_of(second)["clauses"]["C2"]["boards"]["host"]["diff"] == "still failing"

    # the port is repaired: fixed
    proc, repaired = honch_hil_run(tmp_path, "--clause", "C2", "--baseline", str(tonight))
    assert proc.returncode == exitcodes.CONFORMANT
    assert summary_of(repaired)["clauses"]["C2"]["boards"]["host"]["diff"] == "fixed"
    assert "fixed vs baseline: " in proc.stdout


def test_rerun_failed_reruns_exactly_the_failures_of_a_planted_report(tmp_path):
    planted = tmp_path / "planted"
    failing = [STREAM_ID_TEST, "conformance/test_lifecycle.py::test_shutdown_queues_device_shutdown_and_sends_it"]
    records = [Outcome(f"{failing[0]}[host]", "host", ["C2"], "failed", message="no stream id",
                       properties={"test_id": failing[0]}),
               Outcome("conformance/test_wire.py::test_retried_upload_keeps_the_headers[host]", "host", ["C2"],
                       "passed", properties={"test_id": "conformance/test_wire.py::test_retried_upload_keeps_the_headers"}),
               Outcome(f"{failing[1]}[host]", "host", ["C8"], "rerun", message="slow",
                       properties={"test_id": failing[1]}),
               Outcome(f"{failing[1]}[host]", "host", ["C8"], "passed", properties={"test_id": failing[1]}),
               Outcome("conformance/test_api.py::test_config_rejects_bad_values[host]", "host", ["C15"], "skipped",
                       message="board lacks tag(s) x", properties={"skip_kind": "tag"})]
    plant_report(planted, records, boards=["host"], seed=4242, board_args={"host": ["--board", "host"]})
    proc, run_dir = honch_hil_run(tmp_path, "--rerun-failed", str(planted), "--repeat", "2", board=None)
    assert proc.returncode == exitcodes.CONFORMANT, proc.stdout[-3000:] + proc.stderr
    ran = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert sorted({r["properties"]["test_id"] for r in ran}) == sorted(failing)
    assert len(ran) == 2 * len(failing)  # --repeat 2
    summary = summary_of(run_dir)
    assert summary["seed"] == 4242 and summary["rerun_of"] == str(planted)


def test_a_failing_cell_shows_the_command_that_reruns_exactly_it(tmp_path):
    proc, run_dir = honch_hil_run(tmp_path, "--clause", "C2", "--seed", "77", mutant="no_stream_id")
    cell = summary_of(run_dir)["clauses"]["C2"]["boards"]["host"]
    argv = shlex.split(cell["rerun"])
    assert argv[:4] == ["honch-hil", "run", "--board", "host"] and argv[-2:] == ["--seed", "77"]
    tests = [argv[i + 1] for i, a in enumerate(argv) if a == "--test"]
    assert tests and all("[" not in t or "host" not in t for t in tests)
    assert cell["rerun"] in (run_dir / "matrix.html").read_text().replace("&#x27;", "'")
    # and the command does run exactly those tests
    again, again_dir = honch_hil_run(tmp_path, *argv[2:], mutant="no_stream_id", board=None)
    ran = {json.loads(line)["properties"]["test_id"] for line in (again_dir / "results.jsonl").read_text().splitlines()}
    assert ran == set(tests)
    assert again.returncode == exitcodes.NON_CONFORMANT


def test_firmware_option_runs_an_ad_hoc_unix_board(tmp_path):
    firmware = ensure_firmware("unix")
    proc, run_dir = honch_hil_run(tmp_path, "--firmware", str(firmware), "--clause", "C2", board=None)
    assert proc.returncode == exitcodes.CONFORMANT, proc.stdout[-3000:]
    summary = summary_of(run_dir)
    (board,) = summary["boards"]
    assert board == "firmware-micropython" and summary["board_kinds"][board] == "unix"
    assert "micropython" in summary["board_versions"][board]
    assert summary["clauses"]["C2"]["boards"][board]["verdict"] == "pass"


def test_bad_ad_hoc_board_options_are_usage_errors(tmp_path):
    for option, value, expected in (("--firmware", str(tmp_path / "nope"), "no such file"),
                                    ("--port", "http://x", "unknown scheme 'http'")):
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", option, value,
                               "--reports", str(tmp_path / "r")], cwd=REPO_ROOT, capture_output=True, text=True)
        assert proc.returncode == exitcodes.USAGE_ERROR
        assert f"{option} {value}: {expected}" in proc.stderr


def test_an_unreachable_capture_server_is_an_infrastructure_error_not_a_failure(tmp_path):
    proc, run_dir = honch_hil_run(tmp_path, "--clause", "C2", "--capture-url", "http://127.0.0.1:9")
    assert proc.returncode == exitcodes.INFRASTRUCTURE_ERROR, proc.stdout[-2000:]
    assert summary_of(run_dir)["result"] == "infrastructure error"
