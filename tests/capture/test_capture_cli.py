"""``honch-hil serve`` as a real process: request lines, transcript, Ctrl-C, token rule."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from capture_helpers import load_vectors, post
from harness.capture import ControlClient

KEY = "cli-secret-key-9f8e"
TOKEN = "cli-control-token-77"


def test_serve_accepts_the_vectors_and_prints_a_line_per_request(serve, tmp_path):
    transcript = tmp_path / "transcript.jsonl"
    served = serve("--transcript", str(transcript))
    control = ControlClient(served.url)
    tenant = control.create_tenant(KEY)
    vectors = load_vectors()
    for index, case in enumerate(vectors):
        for frame in case["frames"]:
            last = post(served.port, bytes.fromhex(frame["hex"]), key=KEY, stream_id=f"{index:08x}")
        assert last.status == case["expected_capture_response_code"], case["name"]
    assert len(tenant.events()) == sum(len(v["expanded_event_json"]) for v in vectors)
    control.close()

    code, out, err = served.interrupt()
    assert code == 0, err
    assert "stopped" in out.splitlines()[-1]
    assert KEY not in out and KEY not in err
    capture_lines = [line for line in out.splitlines() if " POST /capture" in line]
    assert len(capture_lines) == sum(len(v["frames"]) for v in vectors)
    stored_line = next(line for line in capture_lines if "single id=7" in line)
    assert " 204 " in stored_line and tenant.alias in stored_line and "50 events decoded" in stored_line
    assert any(" 422 " in line and "bytes value while binary properties are off" in line for line in capture_lines)

    text = transcript.read_text()
    assert KEY not in text
    entries = [json.loads(line) for line in text.splitlines()]
    captures = [e for e in entries if e["kind"] == "capture"]
    assert [e["status"] for e in captures][:1] and all(e["tenant"] == tenant.alias for e in captures)
    assert {"t", "path", "headers", "body_hex", "status", "reason", "fault", "wall"} <= set(captures[0])


def test_serve_shows_unknown_keys_by_alias_only(serve):
    served = serve()
    assert post(served.port, b"x", key=KEY).status == 401
    code, out, _ = served.interrupt()
    assert code == 0
    [line] = [line for line in out.splitlines() if "/capture" in line and "listening" not in line]
    assert " 401 " in line and "unknown project key" in line and KEY not in line
    assert re.search(r" k-[0-9a-f]{8} ", line)


def test_serve_refuses_a_lan_bind_without_token():
    env = {k: v for k, v in os.environ.items() if k != "HONCH_HIL_CONTROL_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "harness.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert "without a control token" in result.stderr


def test_serve_on_the_lan_takes_the_token_from_the_environment(serve):
    served = serve("--host", "0.0.0.0", env={"HONCH_HIL_CONTROL_TOKEN": TOKEN})
    assert ControlClient(served.url, TOKEN).health()["status"] == "ok"
    code, out, err = served.interrupt()
    assert code == 0
    assert TOKEN not in out and TOKEN not in err and TOKEN not in served.banner
    assert "token required" in served.banner


def test_serve_reports_a_busy_port(serve):
    served = serve()
    result = subprocess.run([sys.executable, "-m", "harness.cli", "serve", "--port", str(served.port)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {served.port}" in result.stderr


def test_serve_rejects_a_bad_ttl():
    result = subprocess.run([sys.executable, "-m", "harness.cli", "serve", "--partial-ttl", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "must be more than 0 seconds" in result.stderr


def test_serve_stops_cleanly_on_sigterm(serve):
    served = serve()
    served.process.send_signal(signal.SIGTERM)
    out, err = served.process.communicate(timeout=30)
    assert served.process.returncode == 0, err
    assert out.splitlines()[-1] == "honch-hil capture server stopped"
