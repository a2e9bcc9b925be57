"""Runs the conformance suite on the selected boards and writes ``reports/<timestamp>/``.

The suite itself is plain pytest (``conformance/`` with the honch-hil plugin); this
module prepares what it needs (firmware, one capture server shared by every
worker), starts pytest with one xdist worker per board, and turns the outcomes into
the matrix. Exit status 0 only when every selected board passes every applicable
clause.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from harness import REPO_ROOT
from harness.boards.inventory import BoardSpec, load_boards
from harness.capture import CaptureServer
from harness.capture.cli import TOKEN_ENV
from harness.report.collector import RESULTS_ENV
from harness.report.render import write_reports
from harness.report.results import read_records

CONFORMANCE_DIR = REPO_ROOT / "conformance"
FIRMWARE_TARGET_OF_KIND = {"unix": "unix", "qemu": "qemu"}


@dataclass
class RunOptions:
    boards: list[str] = field(default_factory=list)
    boards_file: str | None = None
    keyword: str | None = None
    clauses: list[str] = field(default_factory=list)
    repeat: int = 1
    retries: int = 0
    soak: int = 1
    capture_url: str | None = None
    capture_token: str | None = None
    reports_dir: Path = REPO_ROOT / "reports"
    workers: int | None = None
    pytest_args: list[str] = field(default_factory=list)


def select_boards(specs: dict[str, BoardSpec], names: list[str]) -> list[BoardSpec]:
    if not names:
        return [s for s in specs.values() if s.enabled]
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise ValueError(f"--board {', '.join(unknown)}: not in the inventory (boards: {', '.join(specs)})")
    return [specs[n] for n in names]


def prepare_firmware(boards: list[BoardSpec], log) -> None:
    """Build (or reuse) the firmware of every selected board the harness builds itself."""
    from harness.firmware.build import ensure_firmware

    for target in sorted({FIRMWARE_TARGET_OF_KIND[b.kind] for b in boards
                          if b.kind in FIRMWARE_TARGET_OF_KIND and b.firmware == "build"}):
        ensure_firmware(target, log=log)


def pytest_command(opts: RunOptions, boards: list[BoardSpec], report_dir: Path, capture_url: str) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", str(CONFORMANCE_DIR),
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
        cmd += ["--board", b.name]
    workers = opts.workers if opts.workers is not None else len(boards)
    if workers > 1:
        cmd += ["-n", str(workers), "--dist", "loadgroup"]
    if opts.keyword:
        cmd += ["-k", opts.keyword]
    for clause in opts.clauses:
        cmd += ["--clause", clause]
    if opts.repeat > 1:
        cmd += ["--count", str(opts.repeat), "--repeat-scope", "function"]
    if opts.retries > 0:
        cmd += ["--reruns", str(opts.retries)]
    return cmd + list(opts.pytest_args)


def run(opts: RunOptions, out=sys.stdout) -> int:
    def log(message: str) -> None:
        out.write(message + "\n")
        out.flush()

    specs = load_boards(opts.boards_file)
    boards = select_boards(specs, opts.boards)
    if not boards:
        log("no boards selected: every board in the inventory is disabled")
        return 2
    started = datetime.now(timezone.utc)
    report_dir = Path(opts.reports_dir) / started.strftime("%Y%m%dT%H%M%SZ")
    report_dir.mkdir(parents=True, exist_ok=False)
    results = report_dir / "results.jsonl"
    log(f"honch-hil run: boards {', '.join(b.name for b in boards)}; reports in {report_dir}")

    prepare_firmware(boards, log)

    env = dict(os.environ, **{RESULTS_ENV: str(results)})
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
    t0 = time.monotonic()
    try:
        cmd = pytest_command(opts, boards, report_dir, capture_url)
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env)
    finally:
        if server is not None:
            server.stop()
    records = read_records(results)
    meta = {
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - t0, 1),
        "boards": [b.name for b in boards],
        "board_kinds": {b.name: b.kind for b in boards},
        "selection": {"keyword": opts.keyword, "clauses": opts.clauses, "repeat": opts.repeat,
                      "retries": opts.retries, "soak": opts.soak},
        "pytest_exit_status": proc.returncode,
    }
    summary = write_reports(records, meta, report_dir)
    ok = summary["passed"] and proc.returncode == 0
    for board in summary["boards"]:
        t = summary["tallies"].get(board, {})
        failing = [c for c, info in summary["clauses"].items()
                   if info["boards"].get(board, {}).get("verdict") == "fail"]
        flaky = [c for c, info in summary["clauses"].items()
                 if info["boards"].get(board, {}).get("verdict") == "flaky"]
        verdicts = [info["boards"][board]["verdict"] for info in summary["clauses"].values()
                    if board in info["boards"]]
        line = (f"  {board}: clauses {verdicts.count('pass') + verdicts.count('flaky')} pass, "
                f"{verdicts.count('fail')} fail, {verdicts.count('skip')} skipped; tests "
                f"{t.get('pass', 0)} passed, {t.get('fail', 0)} failed, {t.get('skip', 0)} skipped")
        if flaky:
            line += f"; flaky clauses {', '.join(flaky)}"
        if failing:
            line += f"; FAILING clauses {', '.join(failing)}"
        log(line)
    log(f"{'PASS' if ok else 'FAIL'}: matrix in {report_dir / 'matrix.md'} and matrix.html")
    return 0 if ok else 1
