"""Per-test coverage of the core (gcov) and the wrapper (coverage.py) on the host board.

The host extension is built once with ``--coverage``; each conformance test then
runs alone in its own pytest process with that build first on ``PYTHONPATH``. The
agent subprocess inherits the environment: ``GCOV_PREFIX`` sends its ``.gcda``
counts to the test's own directory, and a ``sitecustomize`` starts coverage.py
(``COVERAGE_PROCESS_START``) over ``honch/``. The result maps every test to the
lines of ``core/src`` and ``honch/`` it reached, its duration and its outcome; it is
cached until a source, a test or the harness changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from harness import CONFORMANCE_PYTEST_OPTIONS, REPO_ROOT
from harness.mutation import build
from harness.report import junit as junit_report

#: inputs whose change invalidates the recorded coverage
COVERAGE_INPUTS = ("core", "honch", "conformance", "fixtures", "harness/agent", "harness/capture",
                   "harness/conformance_support.py", "harness/protocol.py", "harness/wire")
BOARD = "host"
#: where a wrapper line that no test reaches on host runs instead: the MicroPython port
#: (honch/ has MicroPython-only paths, e.g. the backtrace from sys.print_exception)
MICROPYTHON_BOARD = "unix"
#: the soak's schedule is random; coverage and mutant runs replay one fixed schedule
SUB_RUN_ENV = {"HONCH_HIL_SOAK_SEED": "12345"}

PROBE_SOURCES = Path(__file__).resolve().parent / "probe"


def inputs_digest(root: Path = REPO_ROOT) -> str:
    h = hashlib.sha1()
    for top in COVERAGE_INPUTS:
        base = root / top
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for p in paths:
            if "__pycache__" in p.parts or p.suffix in (".pyc", ".o", ".so"):
                continue
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def build_coverage_extension(work: Path, root: Path = REPO_ROOT) -> Path:
    flags = build.compile_flags(root, coverage=True)
    objects = []
    for src in build.core_sources(root):
        obj = work / "obj" / (src.stem + ".o")
        build.compile_object(src, obj, flags)
        objects.append(obj)
    flush = work / "obj" / "gcov_flush.o"
    build.compile_object(PROBE_SOURCES / "gcov_flush.c", flush, [f for f in flags if f != "--coverage"])
    ext = build.link(objects + [flush], work / "ext", coverage=True)
    shutil.copy(PROBE_SOURCES / "sitecustomize.py", work / "ext" / "sitecustomize.py")
    (work / "coveragerc").write_text(f"[run]\nsource = {root / 'honch'}\nparallel = true\n", encoding="utf-8")
    return ext.parent


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def board_inventory(ext: Path, out: Path, root: Path = REPO_ROOT, board_name: str = BOARD) -> Path:
    """A boards file whose board (``host`` by default) imports ``honch`` (and, on host,
    ``_honch_core``) from ``ext``.

    The project board's wrapper is the checkout, which the driver puts first on the
    agent's ``PYTHONPATH``; an editable install builds ``_honch_core`` in the checkout
    too, so a mutant elsewhere on the path would never be imported. Here the wrapper
    is ``ext`` itself, holding the mutant (or a link to the project's ``honch/``).
    """
    data = tomllib.loads((root / "boards.toml").read_text(encoding="utf-8"))
    board = dict(data["boards"][board_name], wrapper=str(ext))
    if not (ext / "honch").exists():
        (ext / "honch").symlink_to(root / "honch", target_is_directory=True)
    lines = []
    for title, table in (("defaults", data.get("defaults", {})), (f"boards.{board_name}", board)):
        lines.append(f"[{title}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
        lines.append("")
    path = out / "boards.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def pytest_board_args(ext: Path, out: Path, root: Path = REPO_ROOT, board_name: str = BOARD) -> list[str]:
    """The pytest options that run the suite on ``board_name`` with ``ext`` first."""
    return ["--boards-file", str(board_inventory(ext, out, root, board_name)), "--board", board_name]


def pytest_env(pythonpath: Path, extra: dict | None = None) -> dict:
    """The environment of a sub-run of the suite with ``pythonpath`` first."""
    env = dict(os.environ)
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS", "COVERAGE_PROCESS_START", "GCOV_PREFIX"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), os.environ.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def collect_tests(root: Path = REPO_ROOT) -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "pytest", "conformance", "--board", BOARD, "--collect-only",
                           "-q", "-p", "no:cacheprovider"], cwd=root, capture_output=True, text=True,
                          env=pytest_env(Path()))
    tests = [line.strip() for line in proc.stdout.splitlines() if "::" in line]
    if not tests:
        raise RuntimeError(f"collecting the conformance suite found no test:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return tests


def junit_outcomes(path: Path) -> dict[str, tuple[str, float]]:
    """nodeid-ish name -> (outcome, seconds) from a pytest JUnit XML report."""
    out = {}
    if not path.exists():
        return out
    for case in junit_report.testcases(path):
        out[case.get("name")] = (junit_report.outcome(case), float(case.get("time") or 0))
    return out


def test_name(nodeid: str) -> str:
    return nodeid.split("::")[-1]


def _gcov_lines(gcda_root: Path, obj_dir: Path, root: Path, executable: dict) -> dict[str, list[int]]:
    """Core lines the run executed; ``executable`` collects every line gcov instruments."""
    lines: dict[str, set] = {}
    for gcda in gcda_root.rglob("*.gcda"):
        shutil.copy(obj_dir / (gcda.stem + ".gcno"), gcda.with_suffix(".gcno"))
        proc = subprocess.run(["gcov", "--json-format", "--stdout", str(gcda)], capture_output=True, text=True,
                              cwd=gcda.parent)
        for doc in proc.stdout.splitlines():
            if not doc.strip():
                continue
            for f in json.loads(doc).get("files", []):
                path = Path(f["file"])
                path = path if path.is_absolute() else (obj_dir / path)
                try:
                    rel = str(path.resolve().relative_to(root))
                except ValueError:
                    continue
                if rel.startswith("core/src/"):
                    lines.setdefault(rel, set()).update(x["line_number"] for x in f["lines"] if x["count"] > 0)
                    executable.setdefault(rel, set()).update(x["line_number"] for x in f["lines"])
    return {k: sorted(v) for k, v in lines.items()}


def _python_lines(probe: Path, root: Path) -> dict[str, dict[str, list[int]]]:
    """nodeid -> {file: lines} from the agents' coverage.py data (one dynamic context per test)."""
    import coverage

    cov = coverage.Coverage(data_file=str(probe / ".coverage"))
    try:
        cov.combine([str(probe)], keep=True)
    except coverage.CoverageException:
        return {}  # no agent measured anything
    data = cov.get_data()
    out: dict = {}
    for path in data.measured_files():
        try:
            rel = str(Path(path).resolve().relative_to(root))
        except ValueError:
            continue
        for line, contexts in data.contexts_by_lineno(path).items():
            for nodeid in contexts:
                if nodeid:
                    out.setdefault(nodeid, {}).setdefault(rel, set()).add(line)
    return {t: {f: sorted(ls) for f, ls in files.items()} for t, files in out.items()}


def record(work: Path, root: Path = REPO_ROOT, log=print) -> dict:
    """One run of the whole suite on host with the probe; per test: outcome, seconds, lines."""
    from harness.mutation.probe.sitecustomize import test_dir_name

    ext = build_coverage_extension(work, root)
    probe = work / "probe"
    shutil.rmtree(probe, ignore_errors=True)
    (probe / "agents").mkdir(parents=True)
    (work / "coveragerc").write_text(f"[run]\nsource = {root / 'honch'}\nparallel = true\n"
                                     f"data_file = {probe / '.coverage'}\n", encoding="utf-8")
    env = pytest_env(ext, {"GCOV_PREFIX": str(probe / "live"), "GCOV_PREFIX_STRIP": "0",
                           "COVERAGE_PROCESS_START": str(work / "coveragerc"),
                           "HONCH_MUTATION_PROBE": str(probe), **SUB_RUN_ENV})
    junit = work / "junit.xml"
    log(f"per-test coverage: the conformance suite on {BOARD} with the --coverage core and coverage.py")
    proc = subprocess.run([sys.executable, "-m", "pytest", "conformance", *pytest_board_args(ext, work, root),
                           *CONFORMANCE_PYTEST_OPTIONS, "-p", "no:cacheprovider",
                           "-p", "harness.mutation.probe_plugin", "-q", f"--junitxml={junit}",
                           f"--artifacts={work / 'artifacts'}"], cwd=root, env=env, capture_output=True, text=True)
    outcomes = junit_outcomes(junit)
    if not outcomes:
        raise RuntimeError(f"the coverage run wrote no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}"
                           f"{proc.stderr[-3000:]}")
    python = _python_lines(probe, root)
    results = {}
    for nodeid in collect_tests(root):
        outcome, seconds = outcomes.get(test_name(nodeid), ("missing", 0.0))
        executable: dict = {}
        lines = _gcov_lines(probe / "tests" / test_dir_name(nodeid), work / "obj", root, executable)
        lines.update(python.get(nodeid, {}))
        results[nodeid] = {"outcome": outcome, "seconds": seconds, "lines": lines,
                           "executable": {k: sorted(v) for k, v in executable.items()}}
    shutil.rmtree(work / "artifacts", ignore_errors=True)
    return results


def per_test_coverage(work: Path, jobs: int = 2, root: Path = REPO_ROOT, log=print) -> dict:
    """{nodeid: {"outcome", "seconds", "lines": {file: [line, ...]}}}, recorded or from the cache."""
    work = work.resolve()  # the agent runs in another directory
    cache = work / "coverage.json"
    digest = inputs_digest(root)
    if cache.exists():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("inputs_sha1") == digest:
            return data["tests"]
    results = record(work, root, log)
    cache.write_text(json.dumps({"inputs_sha1": digest, "tests": results}), encoding="utf-8")
    return results


def executable_lines(coverage_map: dict, file: str) -> set[int]:
    out = set()
    for r in coverage_map.values():
        out.update(r.get("executable", {}).get(file, ()))
    return out


def python_statement_line(source: str, line: int) -> tuple[int | None, bool]:
    """(first line of the innermost statement containing ``line``, whether it is inside a function).

    The first line is what coverage.py records; statements outside functions run at
    import, which the coverage run attributes to the first test of each agent.
    """
    import ast

    best, in_function = None, False
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno < line:
                in_function = True
            if best is None or node.lineno >= best.lineno:
                best = node
    return (best.lineno if best is not None else None), in_function


def tests_reaching(coverage_map: dict, file: str, line: int, source: str | None = None) -> list[str]:
    """Tests that reached ``file:line``, fastest first (a mutant run stops at its first failure).

    A core line gcov does not instrument (a data initialiser, a declaration) counts
    as reached by every test that reached the file; a wrapper line is mapped to the
    statement it belongs to.
    """
    passed = {t: r for t, r in coverage_map.items() if r["outcome"] == "passed"}
    if file.endswith(".py") and source is not None:
        statement, in_function = python_statement_line(source, line)
        if in_function and statement is not None:
            hits = [t for t, r in passed.items() if statement in set(r["lines"].get(file, ()))]
        else:
            # Module-level code runs once, when the board's agent first imports the
            # package, so coverage credits it to whichever test came first; in a
            # mutant's sub-run every test can see it. Tests that reached the file
            # come first, then every other test that used the wrapper.
            near = sorted((t for t, r in passed.items() if r["lines"].get(file)), key=lambda t: passed[t]["seconds"])
            rest = sorted((t for t, r in passed.items() if t not in near
                           and any(f.startswith("honch/") for f in r["lines"])), key=lambda t: passed[t]["seconds"])
            return near + rest
    elif file.endswith(".c") and line not in executable_lines(coverage_map, file):
        hits = [t for t, r in passed.items() if r["lines"].get(file)]
    else:
        hits = [t for t, r in passed.items() if line in set(r["lines"].get(file, ()))]
    return sorted(hits, key=lambda t: coverage_map[t]["seconds"])


def tests_for_micropython(coverage_map: dict, file: str) -> list[str]:
    """For a wrapper line no host test reaches: every test, as the MicroPython board's ids,
    those that reached ``file`` on host first, each group fastest first."""
    passed = {t: r for t, r in coverage_map.items() if r["outcome"] == "passed"}
    near = sorted((t for t, r in passed.items() if r["lines"].get(file)), key=lambda t: passed[t]["seconds"])
    rest = sorted((t for t in passed if t not in near), key=lambda t: passed[t]["seconds"])
    return [t.replace(f"[{BOARD}", f"[{MICROPYTHON_BOARD}", 1) for t in near + rest]
