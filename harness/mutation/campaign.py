"""A mutation campaign: sample mutants, build each, run the tests that reach it, report.

Every mutant is one of:

* ``stillborn`` — does not compile with the project's flags (not counted);
* ``identical`` — compiles to the original's object code (not counted);
* ``equivalent`` — listed, with its reason, in the reviewed equivalents file;
* ``killed`` — a conformance test failed (or the run hung past its time limit);
* ``survived`` — every test that reaches its line passed, or no test reaches it.

The score is killed / (killed + survived). Only built mutants fill the sample, so
``--core-sample 160`` means 160 mutants that compile to different code.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from harness import CONFORMANCE_PYTEST_OPTIONS, REPO_ROOT
from harness.mutation import build, coverage
from harness.mutation.mutants import Mutant, generate_core, generate_wrapper
from harness.report import junit as junit_report

DEFAULT_EQUIVALENTS = REPO_ROOT / "tests" / "mutation" / "equivalent.toml"
TARGETS = {"core": 0.95, "wrapper": 0.90}


COUNTED = ("killed", "survived")
UNIT_TEST_LIMIT_S = 300
UNIT_TEST_KILL = "killed by the wrapper's unit tests"


@dataclass
class Options:
    work: Path = REPO_ROOT / "build" / "mutation"
    seed: int = 1
    core_sample: int = 200
    wrapper_sample: int = 100
    full: bool = False
    jobs: int = 2
    kinds: tuple = ("core", "wrapper")
    equivalents: Path = DEFAULT_EQUIVALENTS
    files: tuple = ()            # restrict to these repository-relative files
    reruns: int = 1              # a test must fail this many extra times to kill (load flakiness)
    micropython: bool = True     # wrapper lines the host never runs are tried on the unix board
    only: frozenset = frozenset()  # run just these mutant ids (re-checking earlier survivors)


@dataclass
class Result:
    mutant: Mutant
    status: str
    tests: list = field(default_factory=list)
    killer: str = ""
    seconds: float = 0.0
    reason: str = ""
    board: str = coverage.BOARD

    def to_json(self) -> dict:
        m = self.mutant
        return {"id": m.id, "kind": m.kind, "file": m.file, "line": m.line, "original": m.original,
                "mutated": m.mutated, "class": m.operator_class, "status": self.status,
                "tests_run": len(self.tests), "board": self.board, "killer": self.killer,
                "seconds": round(self.seconds, 2),
                "reason": self.reason, "diff": m.diff}


# --- the reviewed equivalents ------------------------------------------------------------------


class EquivalentsError(ValueError):
    pass


class SelectionError(ValueError):
    """--file or --only names no mutant."""


def load_equivalents(path: Path) -> dict[tuple, str]:
    """(file, original line, mutated text) -> reason, from the reviewed TOML file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EquivalentsError(f"--equivalents {path}: cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise EquivalentsError(f"--equivalents {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise EquivalentsError(f"{path}: {exc}") from None
    out = {}
    for i, entry in enumerate(data.get("equivalent", [])):
        missing = [k for k in ("file", "original", "mutated", "reason") if not str(entry.get(k, "")).strip()]
        if missing:
            raise EquivalentsError(f"{path}: entry {i + 1} ({entry.get('file', '?')}:{entry.get('line', '?')}) "
                                   f"lacks {', '.join(missing)}")
        out[(entry["file"], entry["original"].strip(), entry["mutated"].strip())] = entry["reason"]
    return out


def equivalence_reason(equivalents: dict, mutant: Mutant) -> str | None:
    return equivalents.get((mutant.file, mutant.original.strip(), mutant.mutated.strip()))


# --- running one mutant ----------------------------------------------------------------------------


def run_tests(tests: list[str], pythonpath: Path, out: Path, limit_s: float, reruns: int,
              board: str = coverage.BOARD) -> tuple[str, str]:
    """Run ``tests`` on ``board`` with ``pythonpath`` first; ("killed"|"survived"|"timeout", first failed test)."""
    junit = out / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", *tests, *coverage.pytest_board_args(pythonpath, out, board_name=board), "-x",
           *CONFORMANCE_PYTEST_OPTIONS, "-p", "no:cacheprovider",
           "-q", "--no-header", f"--junitxml={junit}", f"--artifacts={out / 'artifacts'}"]
    if reruns:
        cmd += ["--reruns", str(reruns)]
    return _pytest_verdict(cmd, coverage.pytest_env(pythonpath, coverage.SUB_RUN_ENV), junit, limit_s)


def dropped_board(cases) -> str:
    """The first of the JUnit ``cases`` skipped because its board was given up on (lost,
    or unhealthy twice), with why; "" when none was. A mutant that leaves the board
    unusable (a crash, a hang) is killed, although what it skipped reads as passing."""
    for case in cases:
        if junit_report.properties(case).get("skip_kind") == "board_dropped":
            skipped = case.find("skipped")
            why = skipped.get("message", "") if skipped is not None else ""
            return f"{case.get('name')}: {why}"[:300]
    return ""


def _pytest_verdict(cmd: list[str], env: dict, junit: Path, limit_s: float,
                    passing_codes: tuple = (0,)) -> tuple[str, str]:
    """Run a pytest command in its own process group: ("killed", first failed test or
    exit status) | ("survived", "") | ("timeout", ""); nothing it started outlives it."""
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        code = proc.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return "timeout", ""
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the agent subprocess, if pytest left it behind
        except ProcessLookupError:
            pass
    cases = junit_report.testcases(junit) if junit.exists() else []  # read once for every verdict below
    failed = [case.get("name") for case in cases if junit_report.outcome(case) == "failed"]
    if failed:
        return "killed", failed[0]
    dropped = dropped_board(cases)
    if dropped:
        return "killed", dropped
    if code not in passing_codes:
        return "killed", f"pytest exit {code}"
    return "survived", ""


#: The wrapper's own tests of public names the client does not use (honch.validation's
#: helpers, HonchLogHandler, the errors module): a wrapper line no conformance test can
#: reach is judged by these, on CPython, before the whole suite runs on the unix board.
WRAPPER_UNIT_TESTS = ("tests/sdk", "tests/host")


def run_unit_tests(pythonpath: Path, out: Path, limit_s: float) -> tuple[str, str]:
    """The wrapper's unit tests with the mutant's ``honch`` first on the path
    (``python -P``: the checkout's own package must not shadow it)."""
    junit = out / "unit-junit.xml"
    cmd = [sys.executable, "-P", "-m", "pytest", *WRAPPER_UNIT_TESTS, "-x", "-q", "-p", "no:cacheprovider",
           "-p", "no:xdist", f"--junitxml={junit}"]
    # exit 5 (no tests collected) is not a kill
    return _pytest_verdict(cmd, coverage.pytest_env(pythonpath), junit, limit_s, passing_codes=(0, 5))


class Campaign:
    def __init__(self, opts: Options, log=print):
        self.opts = opts
        self.log = log
        self.lock = threading.Lock()
        self.results: list[Result] = []
        self.generated: Counter = Counter()
        self._all: dict[str, list[Mutant]] = {}

    # --- selection ---------------------------------------------------------------------------

    def _mutants(self, kind: str) -> list[Mutant]:
        """Every mutant of ``kind``, generated once per campaign."""
        if kind not in self._all:
            work = self.opts.work
            self._all[kind] = generate_core(work) if kind == "core" else generate_wrapper(work)
        return list(self._all[kind])

    def check_selection(self) -> None:
        """--file and --only name something, before the long coverage run starts."""
        opts = self.opts
        if not (opts.files or opts.only):
            return
        mutants = [m for kind in opts.kinds for m in self._mutants(kind)]
        known_files = {m.file for m in mutants}
        for path in opts.files:
            if path not in known_files:
                raise SelectionError(f"--file {path}: no mutant of that file (mutants are made of "
                                     f"{', '.join(sorted(known_files)) or 'no file'})")
        ids = {m.id for m in mutants}
        unknown = sorted(opts.only - ids)
        if unknown:
            raise SelectionError(f"--only: no mutant has the id {', '.join(unknown)} "
                                 f"(ids are printed with each survivor and listed in results.json)")

    def candidates(self, kind: str) -> list[Mutant]:
        mutants = self._mutants(kind)
        if self.opts.files:
            mutants = [m for m in mutants if m.file in self.opts.files]
        if self.opts.only:
            mutants = [m for m in mutants if m.id in self.opts.only]
        self.generated[kind] = len(mutants)
        random.Random(f"{self.opts.seed}:{kind}").shuffle(mutants)
        return mutants

    def sample_size(self, kind: str) -> int | None:
        if self.opts.full or self.opts.only:
            return None
        return self.opts.core_sample if kind == "core" else self.opts.wrapper_sample

    # --- the run -----------------------------------------------------------------------------

    def run(self) -> list[Result]:
        opts = self.opts
        opts.work = opts.work.resolve()  # the agent subprocess runs in another directory
        opts.work.mkdir(parents=True, exist_ok=True)
        self.equivalents = load_equivalents(opts.equivalents)
        self.check_selection()
        started = time.monotonic()
        self.coverage = coverage.per_test_coverage(opts.work / "coverage", jobs=opts.jobs, log=self.log)
        broken = sorted(t for t, r in self.coverage.items() if r["outcome"] not in ("passed", "skipped"))
        if broken:
            self.log(f"warning: {len(broken)} tests did not pass on the unmutated coverage build and are not "
                     f"used: {', '.join(broken)}")
        if "wrapper" in opts.kinds and opts.micropython:
            from harness.firmware.build import ensure_firmware

            ensure_firmware(coverage.MICROPYTHON_BOARD, log=self.log)  # before any mutant's time limit runs
        self.core_builder = build.CoreBuilder(opts.work / "core-build")
        if "core" in opts.kinds:
            self.core_builder.prepare()
        for kind in opts.kinds:
            self._run_kind(kind)
        self.log(f"campaign finished in {time.monotonic() - started:.0f} s")
        return self.results

    def _run_kind(self, kind: str) -> None:
        queue = iter(self.candidates(kind))
        want = self.sample_size(kind)
        state = {"built": 0, "done": 0}
        self.log(f"{kind}: {self.generated[kind]} mutants generated; running "
                 f"{'all' if want is None else want} that build ({self.opts.jobs} at a time)")

        def claim():
            with self.lock:
                for m in queue:
                    return m
                return None

        def worker(slot: int):
            while True:
                with self.lock:
                    if want is not None and state["built"] >= want:
                        return
                m = claim()
                if m is None:
                    return
                result = self._one(m, slot, state, want)
                if result is None:
                    continue
                with self.lock:
                    self.results.append(result)
                    if result.status in COUNTED + ("equivalent",):
                        state["done"] += 1
                        if state["done"] % 20 == 0:
                            self._progress(kind, state["done"])
                            # an interrupted campaign still leaves what it found
                            write_results(self.results, self.generated, self.opts, "(partial)")

        with ThreadPoolExecutor(max_workers=self.opts.jobs) as pool:
            for f in [pool.submit(worker, i) for i in range(self.opts.jobs)]:
                f.result()

    def _progress(self, kind: str, n: int) -> None:
        c = Counter(r.status for r in self.results if r.mutant.kind == kind)
        self.log(f"  {kind}: {n} run — killed {c['killed']}, survived {c['survived']}, "
                 f"equivalent {c['equivalent']}")

    def _one(self, m: Mutant, slot: int, state: dict, want: int | None) -> Result | None:
        out = self.opts.work / "run" / f"slot{slot}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        ext = out / "ext"
        ext.mkdir()
        t0 = time.monotonic()
        status = self.core_builder.build(m, ext) if m.kind == "core" else build.build_wrapper(m, ext)
        if status != "built":
            return Result(m, status)
        with self.lock:
            if want is not None and state["built"] >= want:
                return None  # another worker filled the sample meanwhile
            state["built"] += 1
        reason = equivalence_reason(self.equivalents, m)
        if reason:
            return Result(m, "equivalent", reason=reason)
        original = (REPO_ROOT / m.file).read_text(encoding="utf-8") if m.kind == "wrapper" else None
        tests = coverage.tests_reaching(self.coverage, m.file, m.line, original)
        board, slower, where = coverage.BOARD, 3, ""
        if not tests and m.kind == "wrapper":
            verdict, killer = run_unit_tests(ext, out, UNIT_TEST_LIMIT_S)
            if verdict != "survived":
                return Result(m, "killed", killer=killer or verdict, seconds=time.monotonic() - t0,
                              reason="no conformance test reaches it; " + UNIT_TEST_KILL)
        if not tests and m.kind == "wrapper" and self.opts.micropython:
            # a line the host never runs (a MicroPython-only path): the whole suite on the MicroPython port
            tests, board, slower = coverage.tests_for_micropython(self.coverage, m.file), coverage.MICROPYTHON_BOARD, 5
            where = f"no host test reaches it; the suite ran on {board}"
        if not tests:
            return Result(m, "survived", reason="no conformance test reaches this line")
        host_ids = [t.replace(f"[{board}", f"[{coverage.BOARD}", 1) for t in tests]
        limit = 60 + slower * sum(self.coverage[t]["seconds"] for t in host_ids if t in self.coverage)
        verdict, killer = run_tests(tests, ext, out, limit, self.opts.reruns, board=board)
        if verdict == "survived" and m.kind == "wrapper" and board == coverage.BOARD:
            # What the contract leaves open but the published wrapper fixes (public constants,
            # the Honch.config view, detail texts) only the drop-in tests judge; counted apart.
            # They take seconds, the unix re-run below minutes, so they come first.
            unit_verdict, unit_killer = run_unit_tests(ext, out, UNIT_TEST_LIMIT_S)
            if unit_verdict != "survived":
                return Result(m, "killed", tests=tests, killer=unit_killer or unit_verdict, board=board,
                              seconds=time.monotonic() - t0,
                              reason=f"the conformance suite passed on {board}; " + UNIT_TEST_KILL)
        if verdict == "survived" and m.kind == "wrapper" and board == coverage.BOARD and self.opts.micropython:
            # The wrapper runs on two interpreters and branches on which (sys.implementation,
            # MicroPython-only fallbacks): what CPython cannot see, the unix port may.
            # Tests the host skipped by tag (MicroPython-only rules) come after those that reached the line.
            board, slower = coverage.MICROPYTHON_BOARD, 5
            skipped = sorted(t for t, r in self.coverage.items() if r["outcome"] == "skipped" and t not in tests)
            tests = [t.replace(f"[{coverage.BOARD}", f"[{board}", 1) for t in tests + skipped]
            verdict, killer = run_tests(tests, ext, out, limit * slower / 3, self.opts.reruns, board=board)
            where = f"passed on {coverage.BOARD} and the unit tests, then ran on {board}"
        status = "killed" if verdict in ("killed", "timeout") else "survived"
        return Result(m, status, tests=tests, killer=killer or ("timeout" if verdict == "timeout" else ""),
                      seconds=time.monotonic() - t0, board=board, reason=where)


# --- the report ----------------------------------------------------------------------------------


def score(results: list[Result], kind: str) -> tuple[int, int, float]:
    counted = [r for r in results if r.mutant.kind == kind and r.status in COUNTED]
    killed = sum(r.status == "killed" for r in counted)
    return killed, len(counted), (killed / len(counted) if counted else 0.0)


def report(results: list[Result], generated: Counter, opts: Options) -> tuple[str, bool]:
    """The printed report and whether every target was met."""
    lines, ok = [], True
    for kind in opts.kinds:
        rs = [r for r in results if r.mutant.kind == kind]
        c = Counter(r.status for r in rs)
        killed, counted, s = score(results, kind)
        met = s >= TARGETS[kind]
        ok &= met
        lines.append(f"{kind}: {generated[kind]} generated, {c['stillborn']} stillborn and {c['identical']} with "
                     f"identical object code skipped; {counted + c['equivalent']} mutants run "
                     f"({'chosen by id' if opts.only else 'all' if opts.full else f'seeded sample, seed {opts.seed}'}): "
                     f"{killed} killed, "
                     f"{c['survived']} survived, {c['equivalent']} equivalent")
        lines.append(f"{kind} score: {killed}/{counted} = {100 * s:.1f} % "
                     f"(target {100 * TARGETS[kind]:.0f} %: {'met' if met else 'MISSED'})")
        by_units = sum(r.status == "killed" and r.reason.endswith(UNIT_TEST_KILL) for r in rs)
        if by_units:
            unreached = sum(r.status == "killed" and r.reason.startswith("no conformance test reaches") for r in rs)
            lines.append(f"{kind}: {by_units} of the {killed} killed by the wrapper's unit tests "
                         f"({', '.join(WRAPPER_UNIT_TESTS)}): {unreached} on lines no conformance test reaches, "
                         f"{by_units - unreached} that the conformance suite let pass on {coverage.BOARD} (before "
                         f"the unix re-run); by the conformance suite alone at least {killed - by_units}/{counted} = "
                         f"{100 * (killed - by_units) / counted:.1f} %")
        survivors = [r for r in rs if r.status == "survived"]
        if survivors:
            by_class = Counter(r.mutant.operator_class for r in survivors)
            lines.append(f"{kind} survivors by class: " + ", ".join(f"{k} {v}" for k, v in by_class.most_common()))
    survivors = sorted((r for r in results if r.status == "survived"), key=lambda r: (r.mutant.file, r.mutant.line))
    if survivors:
        lines.append("")
        lines.append(f"surviving mutants ({len(survivors)}):")
    for r in survivors:
        why = r.reason or f"{len(r.tests)} tests passed"
        lines.append(f"--- {r.mutant.where} [{r.mutant.id}] {r.mutant.operator_class}; {why}")
        lines.append(r.mutant.diff.rstrip("\n"))
    return "\n".join(lines), ok


def write_results(results: list[Result], generated: Counter, opts: Options, text: str) -> Path:
    path = opts.work / "results.json"
    data = {"seed": opts.seed, "full": opts.full, "generated": dict(generated),
            "scores": {k: dict(zip(("killed", "counted", "score"), score(results, k))) for k in opts.kinds},
            "mutants": [r.to_json() for r in results if r.status not in ("stillborn", "identical")]}
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    (opts.work / "report.txt").write_text(text + "\n", encoding="utf-8")
    return path
