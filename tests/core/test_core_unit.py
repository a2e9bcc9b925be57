"""The core's C unit tests (core/tests), built with -fsanitize=address,undefined.

Both builds run: the default frame limit F = 4096 and F = 40 (so that every message
travels as several frames). Each C test is reported as its own pytest test, and every
request body the C tests made is decoded strictly with harness.wire afterwards.
"""

import os
import re
import subprocess

import pytest

from harness import protocol
from harness.wire import decode_message, parse_frame, validate_message

from core_support import BUILD, CORE, make

C_TESTS = re.findall(r"^T\((\w+)\)", (CORE / "tests" / "tests.def").read_text(), flags=re.M)
BUILDS = {"F4096": ("test_core", protocol.SDK_LIMITS.frame), "F40": ("test_core_f40", 40)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Build both test binaries once and run each once; results per build."""
    make(str(BUILD / "test_core"), str(BUILD / "test_core_f40"))
    results = {}
    for build, (binary, _) in BUILDS.items():
        dump = tmp_path_factory.mktemp("dump") / "bodies.txt"
        env = dict(os.environ, HONCH_TEST_DUMP=str(dump), ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")
        proc = subprocess.run([str(BUILD / binary)], capture_output=True, text=True, env=env, timeout=600)
        status = dict(reversed(line.split(None, 1)) for line in proc.stdout.splitlines()
                      if line.startswith(("ok ", "FAIL ")))
        results[build] = (proc, {k: v.strip() for k, v in status.items()}, dump)
    return results


@pytest.mark.parametrize("build", BUILDS)
def test_the_binary_ran_every_test_cleanly(runs, build):
    proc, status, _ = runs[build]
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert sorted(status) == sorted(C_TESTS), "tests.def and the binary disagree"
    assert "ERROR: AddressSanitizer" not in proc.stderr
    assert "runtime error" not in proc.stderr  # UBSan


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("name", C_TESTS)
def test_c(runs, build, name):
    proc, status, _ = runs[build]
    assert name in status, f"{name} did not run:\n{proc.stderr[-3000:]}"
    failures = [line for line in proc.stderr.splitlines() if line.startswith(f"FAIL {name} ")
                or (line.startswith("FAIL ") and f"({name}" in line)]
    assert status[name] == "ok", "\n".join(failures) or proc.stderr[-3000:]


@pytest.mark.parametrize("build", BUILDS)
def test_every_request_body_passes_the_strict_decoder(runs, build):
    """C4 for everything the core sent in its unit tests: frames within F, messages that
    the strict decoder accepts within the SDK limits, context ids 1-7 and 9 (8 in a session)."""
    _, _, dump = runs[build]
    max_frame = BUILDS[build][1]
    lines = dump.read_text().splitlines()
    assert len(lines) > 200, "the C tests made too few requests to be a meaningful sample"
    messages = 0
    partial = {}
    for line in lines:
        if line == "--":
            partial.clear()
            continue
        test, stream_id, body_hex = line.split()
        body = bytes.fromhex(body_hex)
        assert len(body) <= max_frame, f"{test}: frame of {len(body)} bytes"
        assert re.fullmatch(r"[0-9a-f]{8}", stream_id), test
        frame = parse_frame(body, protocol.SDK_LIMITS)
        if frame.kind in ("single", "init"):
            partial[frame.message_id] = bytearray()
        if frame.message_id not in partial:
            continue  # a continuation whose init frame predates the recorded window
        data = partial[frame.message_id]
        if frame.offset != len(data):
            continue  # a repeat after a retry restarted the message
        data += frame.payload
        if frame.kind in ("single", "final"):
            message = bytes(partial.pop(frame.message_id))
            msg = decode_message(message, protocol.SDK_LIMITS)
            validate_message(msg, binary_properties=True)
            ids = [cid for cid, _ in msg.context]
            assert ids[:7] == [1, 2, 3, 4, 5, 6, 7] and ids[-1] == 9 and set(ids) <= set(range(1, 10)), (test, ids)
            assert len(msg.events) <= protocol.SDK_LIMITS.events
            messages += 1
    assert messages > 150, messages
