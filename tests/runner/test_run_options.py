"""``honch-hil run``'s options checked and normalised before the run (no board needed)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness.runner.run import RunOptions, pytest_command, resolve_paths
from runs import run_env, summary_of

HOST_ONLY = '[boards.solo]\nkind = "host"\nnetwork = "host"\ntags = ["ssl", "wall_clock"]\n'


def test_relative_path_options_are_resolved_against_the_invoking_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opts = RunOptions(boards_file="b.toml", expectations="exp/dev.toml", firmwares=["mp", "../other/mp"],
                      reports_dir=Path("out"), baseline=Path("old"), rerun_failed=Path("../prev"))
    resolve_paths(opts)
    assert opts.boards_file == str(tmp_path / "b.toml")
    assert opts.expectations == str(tmp_path / "exp" / "dev.toml")
    assert opts.firmwares == [str(tmp_path / "mp"), str(tmp_path.parent / "other" / "mp")]
    assert opts.reports_dir == tmp_path / "out"
    assert opts.baseline == tmp_path / "old" and opts.rerun_failed == tmp_path.parent / "prev"
    cmd = pytest_command(opts, [], opts.reports_dir / "run", "http://127.0.0.1:1")
    for flag in ("--boards-file", "--expectations", "--firmware", "--junitxml", "--artifacts"):
        values = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == flag]
        assert values and all(Path(v).is_absolute() for v in values), (flag, values)


def test_a_run_started_outside_the_checkout_reads_its_relative_paths_there(tmp_path):
    import sys

    (tmp_path / "solo.toml").write_text(HOST_ONLY)
    work = tmp_path / "work"
    work.mkdir()
    argv = [sys.executable, "-m", "harness.cli", "run", "--boards-file", "../solo.toml", "--board", "solo",
            "--clause", "C1", "--reports", "../reports"]
    from harness import REPO_ROOT
    env = dict(run_env(), PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = list((tmp_path / "reports").iterdir())
    assert len(runs) == 1, runs
    summary = summary_of(runs[0])
    assert summary["clauses"]["C1"]["boards"]["solo"]["verdict"] == "pass"
    assert (runs[0] / "junit.xml").is_file() and (runs[0] / "artifacts").is_dir()
    assert json.loads((runs[0] / "summary.json").read_text())["board_args"]["solo"] == \
        ["--board", "solo", "--boards-file", str(tmp_path / "solo.toml")]


def test_reports_that_is_a_file_is_a_usage_error_naming_it(tmp_path):
    import sys

    from harness import REPO_ROOT

    afile = tmp_path / "afile"
    afile.write_text("")
    for reports in (afile, afile / "sub"):
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--board", "host", "-k", "zzzz",
                               "--reports", str(reports)], cwd=REPO_ROOT, env=run_env(),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f"--reports {reports}: not a directory" in proc.stderr and "Traceback" not in proc.stderr


def test_runs_started_in_the_same_second_get_report_directories_of_their_own(tmp_path):
    from datetime import datetime, timezone

    from harness.runner.run import make_report_dir

    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    dirs = [make_report_dir(tmp_path / "reports", started) for _ in range(3)]
    assert [d.name for d in dirs] == ["20260102T030405Z", "20260102T030405Z-2", "20260102T030405Z-3"]
    assert all(d.is_dir() for d in dirs)


def _summary_dir(tmp_path, name, content) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "summary.json").write_text(json.dumps(content))
    return d


def test_a_malformed_baseline_or_rerun_summary_is_a_usage_error_before_the_run(tmp_path):
    import pytest

    from harness.runner.run import SummaryError, run

    cases = {"top": ([1, 2], "not an object"), "empty": ({}, 'no "clauses"'),
             "five": ({"clauses": 5}, '"clauses" is not an object'),
             "cell": ({"clauses": {"C1": {"boards": {"host": "fail"}}}}, 'clauses.C1.boards.host has no "verdict"'),
             "tests": ({"clauses": {"C1": {"boards": {"host": {"verdict": "fail", "tests": 3}}}}},
                       "clauses.C1.boards.host.tests is not a list")}
    for name, (content, what) in cases.items():
        d = _summary_dir(tmp_path, name, content)
        for option in ("baseline", "rerun_failed"):
            reports = tmp_path / f"reports-{name}-{option}"
            opts = RunOptions(boards=["host"], clauses=["C1"], reports_dir=reports, **{option: d})
            with pytest.raises(SummaryError) as err:
                run(opts)
            message = str(err.value)
            assert f"--{option.replace('_', '-')} {d}" in message and what in message, message
            assert str(d / "summary.json") in message
            assert not reports.exists()  # refused before the run: nothing started, no report directory


def test_the_cli_exits_2_on_a_malformed_summary(tmp_path):
    import sys

    from harness import REPO_ROOT

    d = _summary_dir(tmp_path, "bad", {})
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--rerun-failed", str(d),
                           "--reports", str(tmp_path / "r")], cwd=REPO_ROOT, env=run_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert 'is not a honch-hil summary: no "clauses" object' in proc.stderr
