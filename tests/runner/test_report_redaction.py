"""No project key in any report: a failing test whose traceback shows a key (in a frame's
arguments, its locals, the assertion message, captured output and a user property) leaves
it in no report file and in none of pytest's output (harness/report/redaction.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import REPO_ROOT
from harness.report.collector import RESULTS_ENV
from harness.report.redaction import REDACTED, register, scrub_report
from harness.report.render import write_reports
from harness.report.results import read_records

LEAKY_TEST = '''
import warnings

from harness.capture import ControlClient

KEY = {key!r}


def configure(config):
    assert config["accepted"], "the board refused " + repr(config)


def test_a_key_in_every_part_of_the_report(record_property):
    tenant = ControlClient("http://127.0.0.1:9").tenant(KEY)  # no request: only the key is known
    print("configured with", tenant.key)
    record_property("key", tenant.key)
    config = {{"api_key": tenant.key, "accepted": False}}
    configure(config)


def test_a_key_made_by_another_test_and_passed_as_an_argument():
    configure({{"api_key": KEY.upper().lower(), "accepted": False}})


def test_a_key_in_a_warning_and_in_the_line_that_warns():
    ControlClient("http://127.0.0.1:9").tenant(KEY)
    warnings.warn(UserWarning("slow tenant {key}"))
'''

EXITING_TEST = '''
import pytest

from harness.capture import ControlClient


def test_a_key_in_the_reason_pytest_exit_gives(request):
    tenant = ControlClient("http://127.0.0.1:9").tenant({key!r})
    pytest.exit("the rack refused " + tenant.key, returncode=3)
'''


@pytest.mark.parametrize("style", [["-n", "1", "--tb=long", "--showlocals"], ["--tb=native"], ["--tb=short", "-l"]],
                         ids=["xdist-long-locals", "native", "short-locals"])
def test_no_report_and_no_pytest_output_holds_a_key_of_the_run(tmp_path, style):
    key = f"hil-{uuid.uuid4().hex}"
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\n")
    (suite / "test_leaky.py").write_text(LEAKY_TEST.format(key=key))
    reports = tmp_path / "reports"
    reports.mkdir()
    results = reports / "results.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env[RESULTS_ENV] = str(results)
    proc = subprocess.run([sys.executable, "-m", "pytest", str(suite), "--rootdir", str(suite), "-c",
                           str(suite / "pytest.ini"), "-p", "harness.report.collector", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                           "--junitxml", str(reports / "junit.xml"), "-q", "-rfE", *style],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert "2 failed" in output and "slow tenant" in output, output
    assert REDACTED in output, "the traceback showed the key's place (else this test proves nothing)"
    (reports / "pytest.log").write_text(output)
    write_reports(read_records(results), {"started": "now", "boards": ["-"]}, reports)
    files = sorted(p for p in reports.rglob("*") if p.is_file())
    assert {"junit.xml", "results.jsonl", "summary.json", "matrix.md", "matrix.html"} <= {p.name for p in files}
    leaks = [p.name for p in files if key in p.read_text(errors="replace")]
    assert not leaks, f"the key is in {leaks}"
    assert REDACTED in ET.parse(reports / "junit.xml").getroot().find(".//failure").text


def test_a_report_keeps_its_shape_when_scrubbed():
    """Crash message, frame arguments, locals, sections and properties, in place."""
    key = f"hil-{uuid.uuid4().hex}"
    register(key)

    def configure(config):
        assert config["accepted"], f"refused {key}"

    try:
        configure({"api_key": key, "accepted": False})
    except AssertionError:
        excinfo = pytest.ExceptionInfo.from_current()
    report = pytest.TestReport("t.py::t", ("t.py", 1, "t"), {}, "failed",
                               excinfo.getrepr(style="long", showlocals=True), "call",
                               sections=[("Captured stdout call", f"key {key}\n")], user_properties=[("key", key)])
    assert key in report.longreprtext
    scrub_report(report)
    assert key not in report.longreprtext and REDACTED in report.longreprtext
    assert report.longrepr.reprcrash.message.startswith(f"AssertionError: refused {REDACTED}\n")
    assert report.sections == [("Captured stdout call", f"key {REDACTED}\n")]
    assert report.user_properties == [("key", REDACTED)]
    assert "accepted" in report.longreprtext and "configure" in report.longreprtext


@pytest.mark.parametrize("style", [[], ["--full-trace"]], ids=["default", "full-trace"])
def test_the_line_pytest_exit_ends_a_run_with_shows_no_key(tmp_path, style):
    key = f"hil-{uuid.uuid4().hex}"
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\n")
    (suite / "test_exiting.py").write_text(EXITING_TEST.format(key=key))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run([sys.executable, "-m", "pytest", str(suite), "--rootdir", str(suite), "-c",
                           str(suite / "pytest.ini"), "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q",
                           *style], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert "the rack refused" in output, output
    assert key not in output, output
    assert f"the rack refused {REDACTED}" in output, output
