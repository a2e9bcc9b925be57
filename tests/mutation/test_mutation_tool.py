"""The mutation tool itself (harness/mutation/): changes, classes, equivalents, object code,
coverage mapping and the report. Small and fast; the campaign is `make mutation`."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from harness import REPO_ROOT
from harness.mutation import build, coverage
from harness.mutation.campaign import (
    DEFAULT_EQUIVALENTS, EquivalentsError, Options, Result, equivalence_reason, load_equivalents, report,
)
from harness.mutation.mutants import Mutant, apply_change, classify, describe_change, line_change

ORIGINAL = "int f(int a) {\n    if (a < 4)\n        return a + 1;\n    return 0;\n}\n"


def _mutant(mutated: str, file="core/src/x.c", kind="core") -> Mutant:
    line, old, new, diff = describe_change(file, ORIGINAL, mutated)
    return Mutant(kind, file, line, old, new, diff, source_text=mutated)


def test_a_changed_line_is_found_applied_and_described():
    mutated = ORIGINAL.replace("a < 4", "a <= 4")
    change = line_change(ORIGINAL, mutated)
    assert change == {"start": 1, "end": 2, "text": "    if (a <= 4)\n"}
    assert apply_change(ORIGINAL, change) == mutated
    m = _mutant(mutated)
    assert (m.where, m.original, m.mutated) == ("core/src/x.c:2", "if (a < 4)", "if (a <= 4)")
    assert "-    if (a < 4)\n+    if (a <= 4)\n" in m.diff


def test_an_inserted_statement_is_anchored_on_the_line_before():
    mutated = ORIGINAL.replace("return a + 1;\n", "return a + 1;\nbreak;\n")
    m = _mutant(mutated)
    assert m.line == 3 and m.mutated == "break;" and m.operator_class == "statement removed or control inserted"


def test_no_change_is_no_mutant():
    assert line_change(ORIGINAL, ORIGINAL) is None
    assert describe_change("x.c", ORIGINAL, ORIGINAL) is None


def test_ids_are_stable_and_distinct():
    a = _mutant(ORIGINAL.replace("a < 4", "a <= 4"))
    b = _mutant(ORIGINAL.replace("a < 4", "a > 4"))
    assert a.id == _mutant(ORIGINAL.replace("a < 4", "a <= 4")).id and a.id != b.id


@pytest.mark.parametrize("original,mutated,cls", [
    ("if (a < 4)", "if (a <= 4)", "relational / boundary"),
    ("if (a && b)", "if (a || b)", "logical / condition"),
    ("n = 64;", "n = 65;", "constant"),
    ("n = a + b;", "n = a - b;", "arithmetic / bitwise"),
    ("x = f(a);", "/*x = f(a);*/", "statement removed or control inserted"),
    ("x = f(a)", "x = None", "value or call replaced"),
])
def test_operator_classes(original, mutated, cls):
    assert classify(original, mutated) == cls


def test_equivalents_match_file_original_and_mutated_text(tmp_path):
    path = tmp_path / "eq.toml"
    path.write_text('[[equivalent]]\nfile = "core/src/x.c"\nline = 2\noriginal = "if (a < 4)"\n'
                    'mutated = "if (a <= 4)"\nreason = "a is never 4 here"\n')
    eq = load_equivalents(path)
    assert equivalence_reason(eq, _mutant(ORIGINAL.replace("a < 4", "a <= 4"))) == "a is never 4 here"
    assert equivalence_reason(eq, _mutant(ORIGINAL.replace("a < 4", "a > 4"))) is None


def test_an_equivalent_without_a_reason_is_refused_by_name(tmp_path):
    path = tmp_path / "eq.toml"
    path.write_text('[[equivalent]]\nfile = "core/src/x.c"\nline = 9\noriginal = "a"\nmutated = "b"\n')
    with pytest.raises(EquivalentsError, match=r"core/src/x.c:9.*lacks reason"):
        load_equivalents(path)


def test_the_reviewed_equivalents_file_is_current():
    """Every entry still names a line of its file, so a stale review shows up."""
    for (file, original, _), reason in load_equivalents(DEFAULT_EQUIVALENTS).items():
        lines = {x.strip() for x in (REPO_ROOT / file).read_text(encoding="utf-8").splitlines()}
        assert original in lines, f"{file}: equivalent entry for {original!r} ({reason}) names no current line"


@pytest.mark.skipif(shutil.which("objdump") is None, reason="binutils missing")
def test_object_code_fingerprints_tell_real_changes_from_spelling(tmp_path):
    def fingerprint(name, code):
        src = tmp_path / f"{name}.c"
        src.write_text(code)
        build.compile_object(src, tmp_path / f"{name}.o", ["-O2", "-fPIC"])
        return build.code_fingerprint(tmp_path / f"{name}.o")

    base = fingerprint("base", "int f(int a) { return a + 1; }\n")
    assert fingerprint("same", "int f(int a) { return 1 + a; }\n") == base
    assert fingerprint("other", "int f(int a) { return a + 2; }\n") != base


def test_a_core_mutant_that_does_not_compile_is_stillborn(tmp_path):
    builder = build.CoreBuilder(tmp_path)
    source = (REPO_ROOT / "core/src/honch_util.c").read_text()
    broken = source.replace("{", "{ this is not C", 1)
    line, old, new, diff = describe_change("core/src/honch_util.c", source, broken)
    m = Mutant("core", "core/src/honch_util.c", line, old, new, diff, source_text=broken)
    builder.fingerprints["core/src/honch_util.c"] = "unused"
    (tmp_path / "ext").mkdir()
    assert builder.build(m, tmp_path / "ext") == "stillborn"


def test_wrapper_lines_map_to_their_statement_and_module_level_to_the_whole_file():
    source = "X = [\n    1,\n]\n\ndef f(a):\n    if (a and\n            a > 1):\n        return 2\n"
    assert coverage.python_statement_line(source, 2) == (1, False)
    assert coverage.python_statement_line(source, 7) == (6, True)
    cov = {"t_fast": {"outcome": "passed", "seconds": 0.1, "lines": {"honch/m.py": [1, 6]}},
           "t_slow": {"outcome": "passed", "seconds": 2.0, "lines": {"honch/m.py": [1, 5, 6, 8]}},
           "t_other": {"outcome": "passed", "seconds": 0.5, "lines": {"honch/n.py": [1]}},
           "t_failed": {"outcome": "failed", "seconds": 0.1, "lines": {"honch/m.py": [1, 6, 8]}}}
    assert coverage.tests_reaching(cov, "honch/m.py", 7, source) == ["t_fast", "t_slow"]
    assert coverage.tests_reaching(cov, "honch/m.py", 8, source) == ["t_slow"]
    # module level runs at the agent's first import: every test using the wrapper, the file's own first
    cov["t_core_only"] = {"outcome": "passed", "seconds": 0.01, "lines": {"core/src/x.c": [3]}}
    assert coverage.tests_reaching(cov, "honch/m.py", 2, source) == ["t_fast", "t_slow", "t_other"]


def test_core_lines_gcov_does_not_instrument_count_as_reached_by_every_test_of_the_file():
    cov = {"a": {"outcome": "passed", "seconds": 1, "lines": {"core/src/x.c": [10]},
                 "executable": {"core/src/x.c": [10, 11]}},
           "b": {"outcome": "passed", "seconds": 2, "lines": {"core/src/x.c": [11]},
                 "executable": {"core/src/x.c": [10, 11]}}}
    assert coverage.tests_reaching(cov, "core/src/x.c", 11) == ["b"]
    assert coverage.tests_reaching(cov, "core/src/x.c", 3) == ["a", "b"]


def test_the_report_prints_scores_targets_and_every_survivor_with_its_diff():
    killed = [Result(_mutant(ORIGINAL.replace("a + 1", f"a + {i}")), "killed") for i in range(2, 21)]
    survivor = Result(_mutant(ORIGINAL.replace("a < 4", "a <= 4")), "survived", tests=["t"])
    text, ok = report(killed + [survivor, Result(_mutant(ORIGINAL.replace("0;", "1;")), "stillborn")],
                      Counter(core=30), Options(kinds=("core",)))
    assert "core score: 19/20 = 95.0 % (target 95 %: met)" in text and ok
    assert "core/src/x.c:2" in text and "+    if (a <= 4)" in text
    assert "core survivors by class: relational / boundary 1" in text


def test_the_subcommand_is_registered():
    proc = subprocess.run([str(Path(__import__("sys").executable)), "-m", "harness.cli", "mutation", "--help"],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and "--full" in proc.stdout and "--core-sample" in proc.stdout


def test_survivors_of_an_earlier_run_are_read_by_id_and_bad_files_named(tmp_path):
    import json

    from harness.mutation.cli import survivors_of

    results = tmp_path / "results.json"
    results.write_text(json.dumps({"mutants": [{"id": "aaa", "status": "survived"},
                                               {"id": "bbb", "status": "killed"},
                                               {"id": "ccc", "status": "survived"}]}))
    assert survivors_of(results) == {"aaa", "ccc"}
    assert survivors_of(None) == set()
    (tmp_path / "junk.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"--survivors-of .*junk.json: not a results.json"):
        survivors_of(tmp_path / "junk.json")
    (tmp_path / "none.json").write_text(json.dumps({"mutants": [{"id": "bbb", "status": "killed"}]}))
    with pytest.raises(ValueError, match="no mutant survived"):
        survivors_of(tmp_path / "none.json")


def test_only_keeps_the_chosen_mutants_and_runs_all_of_them(tmp_path, monkeypatch):
    from harness.mutation import campaign as campaign_module

    mutants = [_mutant(ORIGINAL.replace("a + 1", f"a + {i}")) for i in range(2, 9)]
    monkeypatch.setattr(campaign_module, "generate_core", lambda work: list(mutants))
    chosen = {mutants[1].id, mutants[5].id}
    c = campaign_module.Campaign(Options(work=tmp_path, only=frozenset(chosen), core_sample=1))
    assert {m.id for m in c.candidates("core")} == chosen
    assert c.sample_size("core") is None  # every chosen mutant runs, whatever the sample size
    text, _ = report([Result(m, "killed") for m in mutants[:2]], Counter(core=7),
                     Options(kinds=("core",), only=frozenset(chosen)))
    assert "(chosen by id)" in text


# --- a mutant is what the suite actually runs ------------------------------------------------------

#: a quick conformance test that tracks events and checks what the server stored
TRACKING_TEST = "conformance/test_queue.py::test_events_go_out_in_queueing_order_and_capacity_drops_the_oldest"


def _replace(file: str, kind: str, old: str, new: str) -> Mutant:
    source = (REPO_ROOT / file).read_text(encoding="utf-8")
    assert source.count(old) == 1, f"{file} no longer has exactly one {old!r}"
    mutated = source.replace(old, new)
    line, original, replacement, diff = describe_change(file, source, mutated)
    return Mutant(kind, file, line, original, replacement, diff, source_text=mutated)


def _verdict(mutant: Mutant | None, tmp_path: Path) -> str:
    """Build ``mutant`` (None: the unmutated wrapper) and run TRACKING_TEST on host against it."""
    from harness.mutation.campaign import run_tests

    ext = tmp_path / "ext"
    ext.mkdir()
    if mutant is None:
        shutil.copytree(REPO_ROOT / "honch", ext / "honch", ignore=shutil.ignore_patterns("__pycache__"))
    elif mutant.kind == "wrapper":
        assert build.build_wrapper(mutant, ext) == "built"
    else:
        builder = build.CoreBuilder(tmp_path / "core")
        builder.prepare()
        assert builder.build(mutant, ext) == "built"
    verdict, killer = run_tests([TRACKING_TEST], ext, tmp_path, limit_s=120, reruns=0)
    return verdict


def test_the_unmutated_sdk_survives_its_own_tests(tmp_path):
    assert _verdict(None, tmp_path) == "survived"


def test_a_wrapper_mutant_is_imported_by_the_board_and_killed(tmp_path):
    # The project's honch/ is first on the host agent's path; the mutant's copy must win.
    mutant = _replace("honch/client.py", "wrapper", "            self._core.track(event_name, properties)\n",
                      "            pass\n")
    assert _verdict(mutant, tmp_path) == "killed"


def test_a_core_mutant_is_imported_by_the_board_and_killed(tmp_path):
    # An editable install builds _honch_core into the checkout, which is on the agent's path too.
    mutant = _replace("core/src/honch_client.c", "core", "    e.user_max = HONCH_MAX_PROPERTIES;\n    return enqueue(c, &e);",
                      "    e.user_max = HONCH_MAX_PROPERTIES;\n    return HONCH_STATUS_OK;")
    assert _verdict(mutant, tmp_path) == "killed"


def test_a_wrapper_mutant_of_a_micropython_only_line_runs_and_is_killed_on_the_unix_board(tmp_path):
    # honch/_crash.py parses sys.print_exception output, which only MicroPython has
    from harness.mutation.campaign import run_tests

    mutant = _replace("honch/_crash.py", "wrapper", "        close = line.find('\"', 6)\n", "        close = None\n")
    ext = tmp_path / "ext"
    ext.mkdir()
    assert build.build_wrapper(mutant, ext) == "built"
    crash_test = "conformance/test_crash.py::test_backtrace_is_innermost_first"
    tests = [t for t in coverage.tests_for_micropython({f"{crash_test}[host]": {"outcome": "passed", "seconds": 1,
                                                                                "lines": {}}}, mutant.file)]
    assert tests == [f"{crash_test}[{coverage.MICROPYTHON_BOARD}]"]
    verdict, killer = run_tests(tests, ext, tmp_path, limit_s=120, reruns=0, board=coverage.MICROPYTHON_BOARD)
    assert verdict == "killed", killer


def test_a_wrapper_mutant_that_survives_on_host_runs_again_on_the_unix_board(tmp_path, monkeypatch):
    """The wrapper branches on the interpreter (sys.implementation, MicroPython-only
    fallbacks), so a host survivor runs again on the unix board: the tests that reached
    its line, then those the host skipped by tag."""
    from harness.mutation import campaign as campaign_module

    mutant = _replace("honch/config.py", "wrapper", '        if SDK_PLATFORM == "micropython":\n',
                      '        if SDK_PLATFORM == "MICROPYTHON":\n')
    reached, skipped = "conformance/test_a.py::test_reached", "conformance/test_b.py::test_micropython_only"
    calls = []

    def fake_run_tests(tests, pythonpath, out, limit_s, reruns, board=coverage.BOARD):
        calls.append((board, list(tests)))
        return ("survived", "") if board == coverage.BOARD else ("killed", tests[-1])

    monkeypatch.setattr(campaign_module, "run_tests", fake_run_tests)
    monkeypatch.setattr(campaign_module, "run_unit_tests", lambda *a: ("survived", ""))
    run = campaign_module.Campaign(Options(work=tmp_path, kinds=("wrapper",)), log=lambda s: None)
    run.equivalents = {}
    run.coverage = {f"{reached}[{coverage.BOARD}]": {"outcome": "passed", "seconds": 1.0,
                                                     "lines": {mutant.file: [mutant.line]}},
                    f"{skipped}[{coverage.BOARD}]": {"outcome": "skipped", "seconds": 0.0, "lines": {}}}
    result = run._one(mutant, 0, {"built": 0}, None)
    u = coverage.MICROPYTHON_BOARD
    assert calls == [(coverage.BOARD, [f"{reached}[{coverage.BOARD}]"]), (u, [f"{reached}[{u}]", f"{skipped}[{u}]"])]
    assert (result.status, result.board, result.killer) == ("killed", u, f"{skipped}[{u}]"), result
    assert result.reason == f"passed on {coverage.BOARD} and the unit tests, then ran on {u}"
    calls.clear()
    run.opts.micropython = False  # --no-micropython: the host's verdict stands
    assert run._one(mutant, 0, {"built": 0}, None).status == "survived" and len(calls) == 1


def test_a_wrapper_line_no_conformance_test_reaches_is_judged_by_the_wrappers_unit_tests(tmp_path):
    """honch.validation's helpers are public but the client does not call them: their
    unit tests judge such a mutant, with the mutant's package imported, and the report
    says how many kills came from them."""
    from harness.mutation import campaign as campaign_module

    mutant = _replace("honch/validation.py", "wrapper", 'raise InvalidArgumentError("invalid " + label)',
                      'raise InvalidArgumentError("invalid  " + label)')
    run = campaign_module.Campaign(Options(work=tmp_path, kinds=("wrapper",), micropython=False), log=lambda s: None)
    run.equivalents, run.coverage = {}, {}
    result = run._one(mutant, 0, {"built": 0}, None)
    assert result.status == "killed" and "one_byte_more_fails" in result.killer, result
    text, _ = report([result], Counter(wrapper=1), Options(kinds=("wrapper",)))
    assert "1 of the 1 killed by the wrapper's unit tests" in text and "conformance suite alone at least 0/1" in text
    # the unmutated package passes them: the kill is the mutant's
    unmutated = tmp_path / "plain"
    unmutated.mkdir()
    shutil.copytree(REPO_ROOT / "honch", unmutated / "honch", ignore=shutil.ignore_patterns("__pycache__"))
    assert campaign_module.run_unit_tests(unmutated, tmp_path, 300)[0] == "survived"


def test_a_wrapper_mutant_the_conformance_suite_lets_pass_is_judged_by_the_drop_in_tests(tmp_path, monkeypatch):
    """A public constant the contract does not bound but the published wrapper fixes:
    the conformance suite passes, the drop-in comparison with the wheel (tests/sdk, run
    on the mutant's package) kills it, and the report counts that kill apart."""
    from harness.mutation import campaign as campaign_module

    mutant = _replace("honch/config.py", "wrapper", "MAX_TRANSPORT_TIMEOUT_MS = 10000\n",
                      "MAX_TRANSPORT_TIMEOUT_MS = 10001\n")
    reached = f"conformance/test_a.py::test_reached[{coverage.BOARD}]"
    boards = []
    monkeypatch.setattr(campaign_module, "run_tests",
                        lambda *a, board=coverage.BOARD, **k: boards.append(board) or ("survived", ""))
    run = campaign_module.Campaign(Options(work=tmp_path, kinds=("wrapper",)), log=lambda s: None)
    run.equivalents = {}
    run.coverage = {reached: {"outcome": "passed", "seconds": 1.0, "lines": {mutant.file: [mutant.line]}}}
    result = run._one(mutant, 0, {"built": 0}, None)
    assert boards == [coverage.BOARD]  # killed by the unit tests: no minutes-long unix re-run
    assert result.status == "killed" and "test_every_published_name_and_signature_is_ours" in result.killer, result
    text, _ = report([result], Counter(wrapper=1), Options(kinds=("wrapper",)))
    assert f"0 on lines no conformance test reaches, 1 that the conformance suite let pass on {coverage.BOARD}" in text
    assert "conformance suite alone at least 0/1" in text
    assert result.reason == f"the conformance suite passed on {coverage.BOARD}; " + campaign_module.UNIT_TEST_KILL


def test_a_mutant_that_leaves_the_board_unusable_is_killed(tmp_path):
    """A mutated core that crashes or hangs the board gets it dropped: its remaining
    tests are skipped as board_dropped, which pytest counts as passing. That is a kill."""
    from harness.mutation import campaign as campaign_module

    junit = tmp_path / "junit.xml"
    case = ('<testcase classname="c" name="{name}"><properties><property name="board" value="host" />{extra}'
            '</properties>{body}</testcase>')
    dropped = case.format(name="test_b[host]", extra='<property name="skip_kind" value="board_dropped" />',
                          body='<skipped type="pytest.skip" message="not run: board host failed its health checks" />')
    tagged = case.format(name="test_c[host]", extra='<property name="skip_kind" value="tag" />',
                         body='<skipped type="pytest.skip" message="needs micropython" />')
    passed = case.format(name="test_a[host]", extra="", body="")
    for cases, expected in (([passed, tagged], ("survived", "")),
                            ([passed, dropped, tagged], ("killed", "test_b[host]: not run: board host failed its "
                                                                   "health checks"))):
        junit.write_text(f'<testsuites><testsuite>{"".join(cases)}</testsuite></testsuites>')
        assert campaign_module._pytest_verdict(["true"], dict(os.environ), junit, 30) == expected


def test_a_selection_that_names_no_mutant_is_refused_before_the_coverage_run(tmp_path, monkeypatch):
    from harness.mutation import campaign as campaign_module

    mutants = [_mutant(ORIGINAL.replace("a + 1", f"a + {i}")) for i in range(2, 5)]
    monkeypatch.setattr(campaign_module, "generate_core", lambda work: list(mutants))
    good = campaign_module.Campaign(Options(work=tmp_path, kinds=("core",), only=frozenset({mutants[0].id}),
                                            files=(mutants[0].file,)))
    good.check_selection()
    assert [m.id for m in good.candidates("core")] == [mutants[0].id]
    with pytest.raises(campaign_module.SelectionError, match=r"--only: no mutant has the id nosuchid"):
        campaign_module.Campaign(Options(work=tmp_path, kinds=("core",), only=frozenset({"nosuchid"}))).check_selection()
    with pytest.raises(campaign_module.SelectionError, match=r"--file core/src/nosuch.c: no mutant of that file"):
        campaign_module.Campaign(Options(work=tmp_path, kinds=("core",), files=("core/src/nosuch.c",))).check_selection()


def test_a_missing_equivalents_file_is_an_error(tmp_path):
    with pytest.raises(EquivalentsError, match=r"--equivalents .*nonexistent.toml: cannot read it"):
        load_equivalents(tmp_path / "nonexistent.toml")
