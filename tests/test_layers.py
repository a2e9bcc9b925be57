"""The harness's layers import downwards only: the codec is pure, the capture server is
I/O around the codec, boards know nothing of capture servers, reports or runs. A module
imported in a fresh interpreter loads no package of a layer above it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness import REPO_ROOT

#: module -> the harness packages it may load (besides ``harness`` itself)
ALLOWED = {
    "harness.wire": {"harness.protocol", "harness.wire"},
    "harness.capture": {"harness.protocol", "harness.wire", "harness.capture", "harness.secret_registry"},
    "harness.boards.driver": {"harness.boards", "harness.agent", "harness.artifacts", "harness.protocol",
                              "harness.sdk"},
    "harness.agent.client": {"harness.boards", "harness.agent", "harness.artifacts", "harness.protocol"},
}


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_a_layer_loads_nothing_above_it(module):
    code = (f"import json, sys, {module}; "
            "print(json.dumps(sorted({'.'.join(m.split('.')[:2]) for m in sys.modules "
            "if m.startswith(('harness.', 'fixtures'))})))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout))
    assert loaded <= ALLOWED[module], f"{module} loads {sorted(loaded - ALLOWED[module])}"
