"""What counts as a problem of a run beyond its boards' known deviations (the judge of
bench/suite_under_load.py: a loaded run is compared with an unloaded reference)."""

from harness.report.results import Outcome, problems


def outcome(test, board, clauses, pytest_outcome, message="", when="call", **properties):
    return Outcome(nodeid=f"conformance/test_x.py::{test}[{board}]", board=board, clauses=clauses,
                   outcome=pytest_outcome,
                   when=when, message=message, properties={"test_id": f"conformance/test_x.py::{test}", **properties})


DEVIATIONS = {"published": {"C11": "0.3.1 accepts a bad endpoint"}}


def test_a_failure_on_a_listed_clause_deviates_and_any_other_failure_is_a_problem():
    records = [
        outcome("test_endpoint", "published", ["C11"], "failed", "accepted http:/x"),
        outcome("test_endpoint", "ours", ["C11"], "failed", "accepted http:/x"),
        outcome("test_spacing", "published", ["C21"], "failed", "sent 0.4 s early"),
        outcome("test_headers", "published", ["C1"], "passed"),
    ]
    found, deviating = problems(records, DEVIATIONS)
    assert deviating == {("published", "conformance/test_x.py::test_endpoint")}
    assert [(p.board, p.test_id.split("::")[1], p.state) for p in found] == [
        ("ours", "test_endpoint", "fail"), ("published", "test_spacing", "fail")]
    assert "sent 0.4 s early" in str(found[1])


def test_a_test_citing_a_listed_and_an_unlisted_clause_is_no_deviation():
    found, deviating = problems([outcome("test_both", "published", ["C11", "C12"], "failed", "x")], DEVIATIONS)
    assert deviating == set() and [p.test_id for p in found] == ["conformance/test_x.py::test_both"]


def test_against_a_reference_only_the_tests_that_deviated_there_are_excused():
    expected = {("published", "conformance/test_x.py::test_endpoint")}
    records = [
        outcome("test_endpoint", "published", ["C11"], "failed", "accepted http:/x"),
        # same listed clause, but this test passed unloaded: under load its failure is a false failure
        outcome("test_constructor_timing", "published", ["C11"], "failed", "took 3.2 s"),
    ]
    found, deviating = problems(records, DEVIATIONS, expected)
    assert deviating == expected
    assert [p.test_id for p in found] == ["conformance/test_x.py::test_constructor_timing"]


def test_errors_lost_boards_and_retried_passes_are_problems_even_on_listed_clauses():
    records = [
        outcome("test_endpoint", "published", ["C11"], "failed", "link timed out", result="error"),
        outcome("test_spacing", "ours", ["C21"], "rerun", "late"),
        outcome("test_spacing", "ours", ["C21"], "passed"),
        outcome("test_queue", "ours", ["C30"], "skipped", "board lost", skip_kind="board_dropped"),
        outcome("test_battery", "ours", ["C48"], "skipped", "no battery", skip_kind="capability"),
    ]
    found, _ = problems(records, DEVIATIONS, set())
    assert sorted((p.test_id.split("::")[1], p.state) for p in found) == [
        ("test_endpoint", "error"), ("test_queue", "not_run"), ("test_spacing", "flaky")]
