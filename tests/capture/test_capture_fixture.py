"""The plugin's ``capture`` fixture, exercised by running inner pytest sessions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from harness.capture import CaptureServer, ControlClient

INNER_TESTS = textwrap.dedent('''
    import json, os, socket, pathlib
    from harness import protocol as P

    VALID = bytes.fromhex("{valid}")
    OUT = pathlib.Path({out!r})

    def send(capture, body):
        host, port = capture.endpoint.split("//")[1].split(":")
        head = (f"POST {{P.CAPTURE_PATH}} HTTP/1.1\\r\\nHost: {{host}}:{{port}}\\r\\n"
                f"Content-Type: {{P.CONTENT_TYPE}}\\r\\nContent-Length: {{len(body)}}\\r\\n"
                f"{{P.HEADER_PROJECT_KEY}}: {{capture.key}}\\r\\nConnection: close\\r\\n\\r\\n")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(head.encode() + body)
            return int(sock.recv(100).split()[1])

    def record(capture, name):
        with open(OUT / f"{{name}}.json", "w") as f:
            json.dump({{"key": capture.key, "base": capture.client.base_url,
                       "worker": os.environ.get("PYTEST_XDIST_WORKER", "main")}}, f)

    def test_a(capture):
        assert send(capture, VALID) == 204
        assert len(capture.wait_for_events(1)) == 1
        record(capture, "a")

    def test_b(capture, capture_control):
        assert capture.events() == []          # a fresh tenant, nothing from test_a
        capture.add_faults({{"status": 503, "persistent": True}})
        assert send(capture, VALID) == 503
        record(capture, "b")

    def test_c(capture):
        assert send(capture, VALID) == 204     # test_b's persistent fault stayed with its tenant
        record(capture, "c")

    def test_d(capture, capture_control):
        record(capture, "d")
''')


def inner_env(extra: dict | None) -> dict:
    """The environment of an inner session: not an xdist worker, even when the outer one is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    env.pop("PYTEST_CURRENT_TEST", None)
    return {**env, **(extra or {})}


def run_inner(tmp_path, *args, env=None):
    from capture_helpers import vector

    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(INNER_TESTS.format(valid=vector("single-required-context")["frames"][0]["hex"], out=str(out)))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(test_file), "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         "--artifacts", str(tmp_path / "artifacts"), *args],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=inner_env(env))
    records = {path.stem: json.loads(path.read_text()) for path in out.glob("*.json")}
    return result, records


def test_each_test_gets_its_own_tenant(tmp_path):
    result, records = run_inner(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len({r["key"] for r in records.values()}) == 4
    transcript = (tmp_path / "artifacts" / "capture-main.jsonl").read_text()
    assert records["a"]["key"] not in transcript
    assert '"status":204' in transcript


def test_works_under_xdist_with_a_server_per_worker(tmp_path):
    result, records = run_inner(tmp_path, "-n", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(records) == 4
    servers_by_worker = {}
    for entry in records.values():
        servers_by_worker.setdefault(entry["worker"], set()).add(entry["base"])
    assert all(len(bases) == 1 for bases in servers_by_worker.values())
    assert len({next(iter(b)) for b in servers_by_worker.values()}) == len(servers_by_worker)


def test_shared_server_via_capture_url_and_tenants_are_deleted(tmp_path):
    with CaptureServer(control_token="shared-token") as shared, ControlClient(shared.url, "shared-token") as client:
        result, records = run_inner(tmp_path, "--capture-url", shared.url, env={"HONCH_HIL_CONTROL_TOKEN": "shared-token"})
        assert result.returncode == 0, result.stdout + result.stderr
        assert {r["base"] for r in records.values()} == {shared.url}
        assert client.health()["tenants"] == 0  # every test's tenant was deleted afterwards


def test_unreachable_capture_url_stops_the_session_with_a_clear_message(tmp_path):
    result, _ = run_inner(tmp_path, "--capture-url", "http://127.0.0.1:9")
    assert result.returncode != 0
    assert "--capture-url http://127.0.0.1:9" in result.stdout + result.stderr
