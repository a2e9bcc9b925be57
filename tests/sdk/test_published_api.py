"""Our ``honch`` is a drop-in for the published wrapper: every public name of the pinned
honch-micropython 0.3.1 wheel exists here with the same kind and signature."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness import REPO_ROOT, SDK_VERSION
from harness.sdk.wrappers import published_dir

DESCRIBE = Path(__file__).with_name("api_description.py")
PUBLISHED = "0.3.1"
#: values that name a release or the platform the package runs on, not an API
VERSION_VALUES = {("honch", "__version__"), ("honch.config", "SDK_VERSION"), ("honch.config", "SDK_PLATFORM")}


def _describe(wrapper_dir: Path | None) -> dict:
    """The API of the ``honch`` in ``wrapper_dir``, or (None) of the one this interpreter
    imports: the checkout's, or a mutant's when the mutation tool puts one first."""
    args = [str(wrapper_dir)] if wrapper_dir else []
    out = subprocess.run([sys.executable, str(DESCRIBE), *args], capture_output=True, text=True,
                         check=True, cwd=str(wrapper_dir or REPO_ROOT))
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def apis():
    published = _describe(published_dir(PUBLISHED))
    ours = _describe(None)
    assert published["file"].startswith(str(published_dir(PUBLISHED))), published["file"]
    assert ours["file"] == importlib.util.find_spec("honch").origin, ours["file"]
    return published, ours


def _differences(published: dict, ours: dict) -> list[str]:
    problems = []
    for module, names in published.items():
        if not isinstance(names, dict):
            continue
        mine = ours.get(module, {})
        for name, theirs in names.items():
            where = f"{module}.{name}"
            if name not in mine:
                problems.append(f"{where}: missing")
                continue
            got = mine[name]
            if got["kind"] != theirs["kind"]:
                problems.append(f"{where}: a {got['kind']} here, a {theirs['kind']} in the wheel")
            elif theirs["kind"] == "function" and got["signature"] != theirs["signature"]:
                problems.append(f"{where}{got['signature']}: the wheel has {name}{theirs['signature']}")
            elif theirs["kind"] == "value" and (module, name) not in VERSION_VALUES and got["repr"] != theirs["repr"]:
                problems.append(f"{where} = {got['repr']}: the wheel has {theirs['repr']}")
            elif theirs["kind"] == "class":
                if got["bases"] != theirs["bases"]:
                    problems.append(f"{where} bases {got['bases']}: the wheel has {theirs['bases']}")
                for method, signature in theirs["methods"].items():
                    if method not in got["methods"]:
                        problems.append(f"{where}.{method}: missing")
                    elif got["methods"][method] != signature:
                        problems.append(f"{where}.{method}{got['methods'][method]}: the wheel has {signature}")
    return problems


def test_every_published_name_and_signature_is_ours(apis):
    published, ours = apis
    assert _differences(published, ours) == []


def test_client_and_config_attributes_are_ours(apis):
    published, ours = apis
    assert set(published["config_attributes"]) <= set(ours["config_attributes"])
    assert set(published["client_attributes"]) <= set(ours["client_attributes"])


def test_the_comparison_sees_a_changed_signature(apis):
    """The check bites: a keyword renamed the way this project once had it is found."""
    published, ours = apis
    changed = json.loads(json.dumps(ours))
    changed["honch.client"]["Honch"]["methods"]["track"] = "(self, name, properties=None)"
    changed["honch.config"].pop("HonchConfig")
    problems = _differences(published, changed)
    assert any("Honch.track" in p for p in problems) and any("HonchConfig: missing" in p for p in problems)


def test_versions_are_the_sdks_not_the_harness(apis):
    _, ours = apis
    assert ours["honch"]["__version__"]["repr"] == repr(SDK_VERSION)
    assert ours["honch.config"]["SDK_VERSION"]["repr"] == repr(SDK_VERSION)
    import _honch_core
    assert _honch_core.SDK_VERSION == _honch_core.__version__ == SDK_VERSION
