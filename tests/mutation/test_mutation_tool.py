"""The mutation tool itself (harness/mutation/): changes, classes, equivalents, object code,
coverage mapping and the report. Small and fast; the campaign is `make mutation`."""

from __future__ import annotations

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
    assert coverage.tests_reaching(cov, "honch/m.py", 2, source) == ["t_fast", "t_slow"]


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
