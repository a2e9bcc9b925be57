"""Helpers of the ``honch-hil run`` tests: start the real command, plant reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness import REPO_ROOT
from harness.report.render import write_reports
from harness.report.results import Outcome, append_record

MUTANTS = REPO_ROOT / "tests" / "mutants"


def run_env(mutant: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("PYTHONPATH", None)
    env.pop("HONCH_HIL_SOAK_SEED", None)
    if mutant:
        env["PYTHONPATH"] = str(MUTANTS / mutant)
    return env


def honch_hil_argv(reports: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", "run", "--reports", str(reports), *args]


def honch_hil_run(tmp_path: Path, *args: str, mutant: str | None = None, board: str | None = "host",
                  timeout: float = 600) -> tuple[subprocess.CompletedProcess, Path]:
    """``honch-hil run`` (on ``board`` unless None) to completion; returns it and its report directory."""
    reports = tmp_path / "reports"
    before = set(reports.iterdir()) if reports.exists() else set()
    argv = honch_hil_argv(reports, *(["--board", board] if board else []), *args)
    proc = subprocess.run(argv, cwd=REPO_ROOT, env=run_env(mutant), capture_output=True, text=True,
                          timeout=timeout)
    runs = sorted(set(reports.iterdir()) - before) if reports.exists() else []
    assert len(runs) == 1, proc.stdout + proc.stderr
    return proc, runs[0]


def summary_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def plant_report(run_dir: Path, records: list[Outcome], **meta) -> dict:
    """A report directory as a run leaves it, from collector records written directly."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for record in records:
        append_record(run_dir / "results.jsonl", record)
    meta.setdefault("started", "2026-01-01T00:00:00+00:00")
    meta.setdefault("boards", sorted({r.board for r in records}))
    return write_reports(records, meta, run_dir)
