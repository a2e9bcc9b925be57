"""Runs the conformance suite on the selected boards and writes ``reports/<timestamp>/``.

The suite itself is plain pytest (``conformance/`` with the honch-hil plugin); this
module prepares what it needs (firmware, one capture server shared by every worker,
the run's seed), starts pytest with one xdist worker per board in a process group of
its own, shows progress per board, and turns the outcomes into the reports.

SIGINT and SIGTERM are forwarded to pytest (as SIGTERM, which the plugin turns into
KeyboardInterrupt), so fixtures tear down (boards stopped, locks and labgrid places
released); whatever is still alive ``STOP_GRACE`` seconds later, or at a second signal, is
killed, board processes included (they run in sessions of their own and are found
as descendants of the run). The reports then cover what ran and say "interrupted".
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from harness import CONFORMANCE_PYTEST_OPTIONS, REPO_ROOT
from harness.boards.inventory import DEFAULT_BOARDS_FILE, BoardsFileError, BoardSpec, load_boards, path_problems
from harness.capture import CaptureServer
from harness.capture.cli import TOKEN_ENV
from harness.capture.redact import Forms, secret_forms
from harness.report.collector import RESULTS_ENV, read_plan
from harness.report.expectations import load_expectations
from harness.report.render import LABEL, write_reports
from harness.report.results import Outcome, read_records
from harness.report.summary import read_summary
from harness.runner import exitcodes, processes
from harness.runner.processes import STOP_GRACE, Interruption
from harness.runner.adhoc import adhoc_boards
from harness.runner.progress import Tracker, progress_for

CONFORMANCE_DIR = REPO_ROOT / "conformance"
FIRMWARE_TARGET_OF_KIND = {"unix": "unix", "qemu": "qemu"}
#: the soak test's seed variable (conformance/test_soak.py reads it): a run's seed is its schedule
SOAK_SEED_ENV = "HONCH_HIL_SOAK_SEED"


@dataclass
class RunOptions:
    boards: list[str] = field(default_factory=list)
    boards_file: str | None = None
    keyword: str | None = None
    clauses: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    repeat: int = 1
    retries: int = 0
    soak: int = 1
    seed: int | None = None
    capture_url: str | None = None
    capture_token: str | None = None
    reports_dir: Path = REPO_ROOT / "reports"
    workers: int | None = None
    firmwares: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    expectations: str | None = None
    baseline: Path | None = None
    rerun_failed: Path | None = None
    pytest_args: list[str] = field(default_factory=list)


def resolve_paths(opts: RunOptions, cwd: str | Path | None = None) -> None:
    """Make every path option absolute against the invoking directory (``cwd``, default the
    current one): pytest runs in the checkout, so a relative path would mean another file there."""
    base = Path(cwd) if cwd is not None else Path.cwd()

    def absolute(value):
        return Path(os.path.normpath(base / Path(value).expanduser()))

    if opts.boards_file:
        opts.boards_file = str(absolute(opts.boards_file))
    if opts.expectations:
        opts.expectations = str(absolute(opts.expectations))
    opts.firmwares = [str(absolute(f)) for f in opts.firmwares]
    opts.reports_dir = absolute(opts.reports_dir)
    if opts.baseline is not None:
        opts.baseline = absolute(opts.baseline)
    if opts.rerun_failed is not None:
        opts.rerun_failed = absolute(opts.rerun_failed)


def select_boards(specs: dict[str, BoardSpec], names: list[str], adhoc: list[BoardSpec]) -> list[BoardSpec]:
    if not names and adhoc:
        return list(adhoc)
    if not names:
        return [s for s in specs.values() if s.enabled]
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise ValueError(f"--board {', '.join(unknown)}: not in the inventory (boards: {', '.join(specs)})")
    return [specs[n] for n in names] + list(adhoc)


def prepare_firmware(boards: list[BoardSpec], log) -> None:
    """Build (or reuse) the firmware of every selected board the harness builds itself."""
    from harness.firmware.build import ensure_firmware

    for target in sorted({FIRMWARE_TARGET_OF_KIND[b.kind] for b in boards
                          if b.kind in FIRMWARE_TARGET_OF_KIND and b.firmware == "build"}):
        ensure_firmware(target, log=log)


def board_args(spec: BoardSpec, opts: RunOptions) -> list[str]:
    """The options that select this board again (the per-cell rerun commands use them)."""
    if spec.description.startswith("ad hoc"):
        args = ["--firmware", spec.firmware] if spec.kind == "unix" else ["--port", spec.port]
        return args + (["--expectations", opts.expectations] if opts.expectations else [])
    args = ["--board", spec.name]
    if opts.boards_file and Path(opts.boards_file).resolve() != DEFAULT_BOARDS_FILE:
        args += ["--boards-file", str(Path(opts.boards_file).resolve())]
    return args


def pytest_command(opts: RunOptions, boards: list[BoardSpec], report_dir: Path, capture_url: str) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", str(CONFORMANCE_DIR), *CONFORMANCE_PYTEST_OPTIONS,
           "-p", "harness.report.collector",
           "--rootdir", str(REPO_ROOT),
           "--junitxml", str(report_dir / "junit.xml"),
           "--artifacts", str(report_dir / "artifacts"),
           "--capture-url", capture_url,
           "--soak", str(opts.soak),
           "-q", "-rfE"]
    if opts.boards_file:
        cmd += ["--boards-file", opts.boards_file]
    for b in boards:
        if not b.description.startswith("ad hoc"):
            cmd += ["--board", b.name]
    for path in opts.firmwares:
        cmd += ["--firmware", path]
    for url in opts.ports:
        cmd += ["--port", url]
    if opts.expectations:
        cmd += ["--expectations", opts.expectations]
    workers = opts.workers if opts.workers is not None else len(boards)
    if workers > 1:
        cmd += ["-n", str(workers), "--dist", "loadgroup"]
    if opts.keyword:
        cmd += ["-k", opts.keyword]
    for clause in opts.clauses:
        cmd += ["--clause", clause]
    for test in opts.tests:
        cmd += ["--test", test]
    if opts.repeat > 1:
        cmd += ["--count", str(opts.repeat), "--repeat-scope", "function"]
    if opts.retries > 0:
        cmd += ["--reruns", str(opts.retries)]
    return cmd + list(opts.pytest_args)


# --- --rerun-failed -------------------------------------------------------------------

#: the cell states --rerun-failed runs again
RERUN_STATES = ("fail", "flaky", "unexpected_pass")


class SummaryError(ValueError):
    """A ``--baseline`` or ``--rerun-failed`` report whose summary.json is not one (usage error)."""


def _summary_problem(summary, for_rerun: bool = False) -> str | None:
    """What is wrong with the structure of a summary.json (None: usable)."""
    def is_str_list(v) -> bool:
        return isinstance(v, list) and all(isinstance(x, str) for x in v)

    if not isinstance(summary, dict):
        return f"the top level is a JSON {type(summary).__name__}, not an object"
    clauses = summary.get("clauses")
    if not isinstance(clauses, dict):
        return "no \"clauses\" object" if clauses is None else "\"clauses\" is not an object"
    for clause, info in clauses.items():
        boards = info.get("boards") if isinstance(info, dict) else None
        if not isinstance(boards, dict):
            return f"clauses.{clause} has no \"boards\" object"
        for board, cell in boards.items():
            where = f"clauses.{clause}.boards.{board}"
            if not isinstance(cell, dict) or not isinstance(cell.get("verdict"), str):
                return f"{where} has no \"verdict\" string"
            for key in ("problem_ids", "test_ids", "tests"):
                if key in cell and cell[key] is not None and not is_str_list(cell[key]):
                    return f"{where}.{key} is not a list of test ids"
            if for_rerun and cell["verdict"] in RERUN_STATES and not any(cell.get(k) for k in ("problem_ids", "test_ids", "tests")):
                return f"{where} is {cell['verdict']} but names no test (\"tests\")"
    problems = summary.get("unclaused_problems", [])
    if not isinstance(problems, list):
        return "\"unclaused_problems\" is not a list"
    for i, problem in enumerate(problems):
        if not isinstance(problem, dict) or not all(isinstance(problem.get(k), str) for k in ("state", "board", "test_id")):
            return f"unclaused_problems[{i}] lacks its \"state\", \"board\" and \"test_id\" strings"
    if summary.get("seed") is not None and (not isinstance(summary["seed"], int) or isinstance(summary["seed"], bool)):
        return "\"seed\" is not an integer"
    selection = summary.get("selection")
    if selection is not None and not isinstance(selection, dict):
        return "\"selection\" is not an object"
    soak = (selection or {}).get("soak", 1)
    if not isinstance(soak, int) or isinstance(soak, bool) or soak < 1:
        return "selection.soak is not a positive integer"
    board_args = summary.get("board_args", {})
    if not isinstance(board_args, dict) or not all(is_str_list(v) for v in board_args.values()):
        return "\"board_args\" is not an object of option lists"
    return None


def previous_summary(report_dir: Path, option: str) -> dict:
    """The summary.json of a ``--baseline`` / ``--rerun-failed`` report, checked before the run."""
    try:
        summary = read_summary(report_dir)
    except ValueError as exc:
        raise SummaryError(f"{option} {exc}") from None
    problem = _summary_problem(summary, for_rerun=option == "--rerun-failed")
    if problem:
        raise SummaryError(f"{option} {report_dir}: {Path(report_dir) / 'summary.json'} is not a honch-hil "
                           f"summary: {problem}")
    return summary


def apply_rerun_failed(opts: RunOptions) -> int:
    """Turn ``--rerun-failed DIR`` into a selection: every failing test of that report,
    on its board (or on ``--board``), with its seed and soak scale. Returns how many."""
    previous = previous_summary(opts.rerun_failed, "--rerun-failed")
    failing: dict[str, set[str]] = {}
    for info in previous["clauses"].values():
        for board, cell in info["boards"].items():
            if cell["verdict"] in RERUN_STATES:
                failing.setdefault(board, set()).update(cell.get("problem_ids") or cell.get("test_ids") or cell["tests"])
    for problem in previous.get("unclaused_problems", []):
        if problem["state"] == "fail":
            failing.setdefault(problem["board"], set()).add(problem["test_id"])
    if opts.seed is None:
        opts.seed = previous.get("seed")
    opts.soak = (previous.get("selection") or {}).get("soak", opts.soak)
    if opts.boards or opts.firmwares or opts.ports:
        opts.tests = sorted(set().union(*failing.values())) if failing else []
    else:
        for board in failing:
            _select_previous_board(opts, previous.get("board_args", {}).get(board, ["--board", board]))
        opts.tests = sorted(f"{tid}@{board}" for board, tids in failing.items() for tid in tids)
    return len(opts.tests)


def _select_previous_board(opts: RunOptions, args: list[str]) -> None:
    for flag, value in zip(args[::2], args[1::2]):
        if flag == "--board":
            opts.boards.append(value)
        elif flag == "--firmware":
            opts.firmwares.append(value)
        elif flag == "--port":
            opts.ports.append(value)
        elif flag == "--boards-file":
            opts.boards_file = value
        elif flag == "--expectations":
            opts.expectations = value


def _wait_with_progress(proc, tracker: Tracker, view, interruption: Interruption, keep) -> None:
    view.start()
    killed = noted = False
    try:
        while proc.poll() is None:
            view.update(tracker, tracker.poll())
            if interruption.deadline is not None and not noted:
                view.note(f"honch-hil run: {interruption.signal}: stopping; pytest tears down (boards stopped, "
                          f"locks released) for up to {STOP_GRACE:g} s; send it again to stop at once")
                noted = True
            if interruption.overdue() and not killed:
                processes.signal_group(proc, signal.SIGKILL)
                # pytest's own status is Popen's to collect: reaping it here would make it read 0
                processes.end_descendants(grace=0.2, keep=keep, spare={proc.pid})
                killed = True
            time.sleep(0.1)
        view.update(tracker, tracker.poll())
    finally:
        view.stop()


# --- reports --------------------------------------------------------------------------

def not_run_records(plan: list[dict], records: list[Outcome], why: str) -> list[Outcome]:
    """A ``not_run`` record for every planned test that has none."""
    seen = {(r.nodeid, r.board) for r in records}
    return [Outcome(nodeid=p["nodeid"], board=p["board"], clauses=p["clauses"], outcome="not_run",
                    when="setup", message=why, properties={"test_id": p["test_id"], "board": p["board"]})
            for p in plan if (p["nodeid"], p["board"]) not in seen]


def ensure_junit(path: Path, records: list[Outcome]) -> None:
    """pytest writes junit.xml as it ends; if it was killed first, write one from the records."""
    try:
        ET.parse(path)
        return
    except (OSError, ET.ParseError):
        pass
    suite = ET.Element("testsuite", name="honch-hil", tests=str(len(records)))
    for r in records:
        classname, _, name = r.nodeid.rpartition("::")
        case = ET.SubElement(suite, "testcase", classname=classname.replace("/", ".").removesuffix(".py"),
                             name=name, time=str(r.duration))
        props = ET.SubElement(case, "properties")
        ET.SubElement(props, "property", name="board", value=r.board)
        ET.SubElement(props, "property", name="clauses", value=" ".join(r.clauses))
        state = r.state
        if state == "fail":
            ET.SubElement(case, "failure", message=r.message).text = r.details
        elif state == "error":
            ET.SubElement(case, "error", message=r.message).text = r.details
        elif state in ("skip", "not_run", "rerun"):
            ET.SubElement(case, "skipped", message=r.message or state)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def final_lines(summary: dict, report_dir: Path) -> list[str]:
    """The last lines a run prints: per board, lost boards, the baseline diff, the result."""
    lines = []
    for board in summary["boards"]:
        c = summary["clause_tallies"].get(board, {})
        counts = ", ".join(f"{n} {LABEL[s]}" for s, n in c.items() if n) or "no clause ran"
        line = f"  {board}: clauses {counts}"
        bad = [cl for cl, info in summary["clauses"].items()
               if info["boards"].get(board, {}).get("verdict") in ("fail", "unexpected_pass", "error")]
        if bad:
            line += f"; look at {', '.join(bad)}"
        version = summary["board_versions"].get(board)
        if version:
            line += f" [{version}]"
        lines.append(line)
    for board, lost in summary["boards_lost"].items():
        lines.append(f"  {board}: {lost['reason']} (log: {lost['log']})")
    base = summary.get("baseline")
    if base:
        for key in ("new failure", "fixed", "still failing"):
            if base[key]:
                lines.append(f"  {key} vs baseline: {', '.join(base[key])}")
        if not any(base[k] for k in ("new failure", "fixed", "still failing")):
            lines.append(f"  unchanged vs baseline {base['dir']}")
    if summary.get("interrupted"):
        lines.append(f"  INTERRUPTED by {summary['interrupted']['signal']}: reports cover what ran")
    lines.append(f"{summary['result'].upper()} (exit status {summary['exit_status']}): "
                 f"matrix in {report_dir / 'matrix.md'} and matrix.html; pytest output in {report_dir / 'pytest.log'}")
    return lines


# --- the run --------------------------------------------------------------------------

class ReportsDirError(ValueError):
    """``--reports`` is unusable (a usage error)."""


def check_reports_parent(parent: Path) -> None:
    """``--reports DIR`` must be a directory or creatable as one."""
    for p in (parent, *parent.parents):
        if p.exists():
            if not p.is_dir():
                which = "" if p == parent else f" ({p} is a file)"
                raise ReportsDirError(f"--reports {parent}: not a directory{which}")
            if not os.access(p, os.W_OK | os.X_OK):
                raise ReportsDirError(f"--reports {parent}: cannot create the run's directory in {p} (not writable)")
            return


def make_report_dir(parent: Path, started: datetime) -> Path:
    """``parent/<timestamp>``, or ``<timestamp>-2``, ``-3``... when a run started in the same
    second already has it (created atomically, so concurrent runs never share one)."""
    check_reports_parent(parent)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportsDirError(f"--reports {parent}: cannot create it ({exc.strerror or exc})") from None
    n = 1
    while True:
        report_dir = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            report_dir.mkdir()
            return report_dir
        except FileExistsError:
            n += 1
        except OSError as exc:
            raise ReportsDirError(f"--reports {parent}: cannot create {report_dir.name} ({exc.strerror or exc})") from None


def _deviations(boards: list[BoardSpec]) -> dict[str, dict[str, str]]:
    return {b.name: load_expectations(b.expectations) for b in boards if b.expectations}


def run(opts: RunOptions, out=sys.stdout) -> int:
    def log(message: str) -> None:
        out.write(message + "\n")
        out.flush()

    resolve_paths(opts)
    baseline = previous_summary(opts.baseline, "--baseline") if opts.baseline is not None else None
    if opts.rerun_failed is not None and apply_rerun_failed(opts) == 0:
        log(f"honch-hil run: {opts.rerun_failed} has no failing test to rerun")
        return exitcodes.CONFORMANT
    specs = load_boards(opts.boards_file)
    adhoc = adhoc_boards(opts.firmwares, opts.ports, specs, opts.expectations)
    boards = select_boards(specs, opts.boards, adhoc)
    if not boards:
        log("no boards selected: every board in the inventory is disabled")
        return exitcodes.USAGE_ERROR
    where = str(opts.boards_file or DEFAULT_BOARDS_FILE)
    problems = [line for b in boards if b.base_dir is not None for line in path_problems(b, where)]
    if problems:
        raise BoardsFileError(problems)
    deviations = _deviations(boards)
    if opts.seed is None:
        opts.seed = int(os.environ.get(SOAK_SEED_ENV) or secrets.randbits(32))

    started = datetime.now(timezone.utc)
    report_dir = make_report_dir(Path(opts.reports_dir), started)
    results = report_dir / "results.jsonl"
    log(f"honch-hil run: boards {', '.join(b.name for b in boards)}; seed {opts.seed}; reports in {report_dir}")

    meta = {
        "started": started.isoformat(timespec="seconds"),
        "boards": [b.name for b in boards],
        "board_kinds": {b.name: b.kind for b in boards},
        "board_args": {b.name: board_args(b, opts) for b in boards},
        "selection": {"keyword": opts.keyword, "clauses": opts.clauses, "tests": opts.tests,
                      "repeat": opts.repeat, "retries": opts.retries, "soak": opts.soak},
        "seed": opts.seed,
        "deviations": deviations,
        "baseline_dir": str(opts.baseline) if opts.baseline else None,
        "rerun_of": str(opts.rerun_failed) if opts.rerun_failed else None,
    }
    t0 = time.monotonic()
    with Interruption() as interruption:
        try:
            prepare_firmware(boards, log)
            returncode = _run_pytest(opts, boards, report_dir, results, interruption, meta, out)
        except KeyboardInterrupt:
            interruption.signal = interruption.signal or "SIGINT"
            returncode = None
    meta["duration_s"] = round(time.monotonic() - t0, 1)
    meta["pytest_exit_status"] = returncode
    records = read_records(results)
    plan = read_plan(results)
    if interruption.signal:
        missing = not_run_records(plan, records, f"not run: the run was interrupted by {interruption.signal}")
        meta["interrupted"] = {"signal": interruption.signal, "not_run": len(missing)}
    else:
        missing = not_run_records(plan, records, "not run: pytest ended before it ran")
    ran = bool(records)
    records += missing
    ensure_junit(report_dir / "junit.xml", records)
    summary = write_reports(records, meta, report_dir, baseline)
    if not ran and not interruption.signal:
        for line in why_nothing_ran(opts, returncode, report_dir / "pytest.log"):
            log(line)
    for line in final_lines(summary, report_dir):
        log(line)
    return summary["exit_status"]


#: pytest's own lines that say why a session stopped before any test (a usage error, an
#: ``Exit`` raised by a fixture such as an unreachable --capture-url, an internal error)
_STOP_LINE = re.compile(r"^(?:ERROR: |INTERNALERROR> \S|E   |!+ .*(?:Exit|Interrupted)\b)")
#: pytest's exit status when the selection matched no test
PYTEST_NO_TESTS = 5


def why_nothing_ran(opts: RunOptions, returncode: int | None, pytest_log: Path) -> list[str]:
    """What the terminal shows when no test ran: which selection matched nothing, or
    the lines of pytest.log that say why pytest stopped (at most a few)."""
    lines = []
    if returncode == PYTEST_NO_TESTS:
        chosen = [f"-k {opts.keyword!r}"] if opts.keyword else []
        chosen += [f"--clause {c}" for c in opts.clauses] + [f"--test {t}" for t in opts.tests]
        lines.append(f"  no test matched the selection ({', '.join(chosen) or 'every test'})")
    try:
        text = pytest_log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return lines
    found = [line.strip("! ") for line in text.splitlines() if _STOP_LINE.match(line)]
    if opts.capture_token:
        forms = Forms(secret_forms(opts.capture_token))
        found = [forms.text(line) for line in found]
    lines += [f"  pytest: {line}" for line in found[-4:]]
    return lines


def _run_pytest(opts, boards, report_dir, results, interruption, meta, out) -> int:
    env = dict(os.environ, **{RESULTS_ENV: str(results), SOAK_SEED_ENV: str(opts.seed)})
    server = None
    capture_url = opts.capture_url
    if capture_url:
        if opts.capture_token:
            env[TOKEN_ENV] = opts.capture_token
    else:
        # Boards on Wi-Fi reach the server over the LAN: bind every interface, guard the
        # control API with a token only this run knows.
        lan = any(b.network == "wifi" for b in boards)
        token = secrets.token_urlsafe(24) if lan else None
        server = CaptureServer(host="0.0.0.0" if lan else "127.0.0.1", control_token=token).start()
        capture_url = server.url
        if token:
            env[TOKEN_ENV] = token
    meta["capture_url"] = capture_url if opts.capture_url else "in-process"
    processes.become_subreaper()
    keep = set(processes.descendants(os.getpid()))
    try:
        cmd = pytest_command(opts, boards, report_dir, capture_url)
        with open(report_dir / "pytest.log", "wb") as pytest_log:
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=pytest_log, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            interruption.proc = proc
            tracker = Tracker(results, [b.name for b in boards])
            _wait_with_progress(proc, tracker, progress_for(out), interruption, keep)
        return proc.returncode
    finally:
        processes.end_descendants(grace=0.3, keep=keep)  # board processes whose worker died
        if server is not None:
            server.stop()
