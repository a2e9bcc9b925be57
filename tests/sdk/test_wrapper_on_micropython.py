"""The wrapper's MicroPython-only rules, run on a MicroPython unix firmware that has only
``_honch_core`` (the ``honch`` under test on MICROPYPATH): what CPython cannot show.

The ``honch`` under test is the one this interpreter imports (the checkout's, or a
mutant's when the mutation tool puts one first), so these judge the same package as
the CPython tests beside them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

from harness import protocol
from harness.firmware import ensure_firmware

#: runs on MicroPython: the platform the package reports and the config view of
#: transport_timeout_ms (contract 4: the MicroPython port clamps it to at most 10000)
_PROBE = """
import json
from honch import config
print("@@file " + config.__file__)
out = {"platform": config.SDK_PLATFORM, "timeouts": []}
base = {"api_key": "k", "device_id": "d", "device_model": "m", "firmware_version": "1",
        "event_buffer": bytearray(64)}
for given in GIVEN:
    kwargs = dict(base)
    kwargs["transport_timeout_ms"] = given
    out["timeouts"].append(config.HonchConfig(**kwargs).transport_timeout_ms)
print("@@" + json.dumps(out))
"""


def _wrapper_dir() -> Path:
    return Path(importlib.util.find_spec("honch").origin).parent.parent


@pytest.fixture(scope="module")
def micropython():
    return ensure_firmware("unix-core-only")


def _probe(micropython: Path, given: list) -> dict:
    script = _PROBE.replace("GIVEN", json.dumps(given).replace("null", "None"))
    wrapper = _wrapper_dir()
    env = dict(os.environ, MICROPYPATH=str(wrapper))
    # cwd too: MicroPython's sys.path starts with '', which must not find another honch/
    out = subprocess.run([str(micropython), "-c", script], capture_output=True, text=True, env=env, timeout=60,
                         cwd=str(wrapper))
    assert out.returncode == 0, out.stdout + out.stderr
    (where,) = [ln for ln in out.stdout.splitlines() if ln.startswith("@@file ")]
    assert Path(wrapper, where[len("@@file "):]).resolve() == Path(wrapper, "honch", "config.py").resolve(), where
    (line,) = [ln for ln in out.stdout.splitlines() if ln.startswith("@@{")]
    return json.loads(line[2:])


def test_the_wrapper_knows_it_runs_on_micropython(micropython):
    assert _probe(micropython, [])["platform"] == protocol.SDK_PLATFORM_MICROPYTHON


def test_the_config_view_clamps_the_transport_timeout_on_micropython(micropython):
    limit = protocol.MICROPYTHON_MAX_TRANSPORT_TIMEOUT_MS
    given = [None, 0, 1, limit - 1, limit, limit + 1, 2 * limit, protocol.U32_MAX]
    default = protocol.CONFIG_DEFAULTS["transport_timeout_ms"]
    expected = [min(g or default, limit) for g in given]
    assert _probe(micropython, given)["timeouts"] == expected
