"""The conformance suite catches real port bugs.

Each mutant in ``tests/mutants/<name>/`` breaks one behaviour of the host port (its
``sitecustomize.py`` wraps the transport, the core's client class or a wrapper
function at interpreter start-up). A sub-run of ``conformance/`` on the ``host``
board with the mutant first on ``PYTHONPATH`` — which the host board's agent
subprocess inherits — must FAIL the clauses that behaviour belongs to, while the
same selection passes on the unbroken host.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import CONFORMANCE_PYTEST_OPTIONS
from harness.report import junit as junit_report

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = Path(__file__).resolve().parent / "mutants"
BOARD = "host"

#: mutant -> (tests it must break (pytest -k expression), clauses that must fail)
CASES = {
    "ignore_retry_after": ("test_retry_after_seconds_holds_back_every_tick", {"C24"}),
    "no_backoff": ("test_backoff_doubles_within_jitter_up_to_the_ceiling_and_resets_after_success", {"C23"}),
    "no_stream_id": ("test_stream_id_is_8_hex_stable_for_the_client_and_new_for_each_client", {"C2"}),
    "retry_rejected": ("test_rejected_batch_is_dead_lettered_and_never_resent", {"C42"}),
    "crash_outermost_first": ("test_backtrace_is_innermost_first", {"C34"}),
    "ignore_spacing": ("test_flush_inside_the_spacing_window_raises_and_tick_waits_for_it", {"C21"}),
    "ignore_offline": ("test_offline_tick_is_silent_and_flush_raises_offline_without_a_request", {"C28"}),
    "accept_202_final": ("test_202_on_a_single_frame_is_retryable", {"C26"}),
    "connection_loss_as_delivered": ("test_soak_under_random_faults", {"C25"}),
}
#: the soak's schedule is random; these runs replay one that has closed connections
SUB_RUN_ENV = {"HONCH_HIL_SOAK_SEED": "12345"}


def _run_suite(tmp_path: Path, selection: str, mutant: str | None) -> dict[str, dict]:
    """Run the selected conformance tests on the host board; per test: outcome and clauses."""
    label = mutant or "unbroken"
    junit = tmp_path / f"{label}.xml"
    env = dict(os.environ)
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    env.update(SUB_RUN_ENV)
    if mutant:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(MUTANTS / mutant), env.get("PYTHONPATH")]))
    else:
        env.pop("PYTHONPATH", None)
    cmd = [sys.executable, "-m", "pytest", "conformance", "--board", BOARD, "-k", selection,
           *CONFORMANCE_PYTEST_OPTIONS, "-p", "no:cacheprovider", "-q", "--no-header",
           f"--junitxml={junit}", f"--artifacts={tmp_path / ('artifacts-' + label)}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if not junit.exists():
        raise AssertionError(f"the {label} sub-run wrote no report (exit {proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    if mutant and f"mutant {mutant!r} active" not in proc.stderr:
        raise AssertionError(f"mutant {mutant} was not applied in the sub-run:\n{proc.stderr[-2000:]}")
    results = {}
    for case in junit_report.testcases(junit):
        props = junit_report.properties(case)
        results[case.get("name")] = {"outcome": junit_report.outcome(case),
                                     "clauses": set(props.get("clauses", "").split()), "output": proc.stdout}
    if not results:
        raise AssertionError(f"the {label} sub-run selected no test with -k {selection!r}:\n{proc.stdout[-2000:]}")
    return results


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory):
    selection = " or ".join(sorted({tests for tests, _ in CASES.values()}))
    return _run_suite(tmp_path_factory.mktemp("unbroken"), selection, None)


def test_the_unbroken_host_passes_every_selected_clause(unbroken):
    bad = {name: r["outcome"] for name, r in unbroken.items() if r["outcome"] != "passed"}
    assert not bad, f"the unbroken host port must pass the tests the mutants break: {bad}"
    covered = set().union(*(r["clauses"] for r in unbroken.values()))
    wanted = set().union(*(clauses for _, clauses in CASES.values()))
    assert wanted <= covered, f"clauses without a selected test: {sorted(wanted - covered)}"


@pytest.mark.parametrize("mutant", sorted(CASES))
def test_the_suite_fails_the_clauses_a_mutant_breaks(mutant, unbroken, tmp_path):
    selection, clauses = CASES[mutant]
    assert all(r["outcome"] == "passed" for name, r in unbroken.items() if name.startswith(selection)), \
        "the unbroken host fails this selection already: the comparison would prove nothing"
    results = _run_suite(tmp_path, selection, mutant)
    failed = {name for name, r in results.items() if r["outcome"] == "failed"}
    assert failed, f"mutant {mutant} passed every selected test: the suite does not catch it"
    failed_clauses = set().union(*(results[name]["clauses"] for name in failed))
    assert clauses <= failed_clauses, (
        f"mutant {mutant} must fail clause(s) {sorted(clauses)}; failing tests {sorted(failed)} "
        f"cite {sorted(failed_clauses)}")
