"""Shared helpers for the wire codec tests (a named module, not conftest: tests/capture has its own conftest)."""

import json

import pytest

from harness import REPO_ROOT
from harness.wire import Reassembler, judge_frame

UPSTREAM_DIR = REPO_ROOT / "conformance" / "vectors" / "upstream" / "wire-v2"
GENERATED_DIR = REPO_ROOT / "conformance" / "vectors" / "generated"


def load_vectors(directory):
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]


def frame_bytes(vector):
    return [bytes.fromhex(frame["hex"]) for frame in vector["frames"]]


def replay(vector, binary_properties=None):
    """Send a vector's frames through one fresh receiver; returns the verdict of the last one."""
    if binary_properties is None:
        binary_properties = bool(vector.get("tenant_options", {}).get("binary_properties"))
    reassembler = Reassembler()
    verdict = None
    for body in frame_bytes(vector):
        verdict = judge_frame(reassembler, body, stream_id="1a2b3c4d", namespace="tenant",
                              binary_properties=binary_properties)
    return verdict


def vector_params(directory):
    return [pytest.param(v, id=v["name"]) for v in load_vectors(directory)]
