"""Python wrappers (``honch`` packages) a board can run in front of its ``_honch_core``.

A wrapper is named in ``boards.toml`` (``wrapper = ...``) as

* ``"frozen"``: whatever the firmware has (the default for built firmware);
* ``"project"``: this checkout's ``honch/``;
* ``"honch-micropython==X.Y.Z"``: a published release from PyPI, pinned here by
  sha256, fetched with pip into ``build/wrappers/`` and verified before use;
* a path to a directory that holds a ``honch/`` package.

``wrapper_dir(spec)`` gives the directory to put first on the board's module path.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from harness import REPO_ROOT

PUBLISHED_PACKAGE = "honch-micropython"
#: Published wheels the harness knows, by version: their sha256 (PyPI).
PUBLISHED_WHEELS = {
    "0.3.1": "eeb339f0c8556282a6ae8d0a28c05b0e4b71193d3ca0964f01aeb0ae5eb0911a",
    "0.3.0": "95bc36727b693af8dba9f7679de30348c94d301eb5a918801e43824f2010a187",
}
WRAPPERS_ROOT = REPO_ROOT / "build" / "wrappers"
FROZEN = "frozen"
PROJECT = "project"


class WrapperError(Exception):
    """A wrapper cannot be found, fetched or verified; the message says which and why."""


def published_version(spec: str) -> str | None:
    """``"0.3.1"`` for ``"honch-micropython==0.3.1"``, None for any other spec."""
    prefix = PUBLISHED_PACKAGE + "=="
    return spec[len(prefix):] if spec.startswith(prefix) else None


def check_spec(spec: str) -> str | None:
    """None when ``spec`` names a wrapper this harness can provide, else what is wrong."""
    if spec in (FROZEN, PROJECT):
        return None
    version = published_version(spec)
    if version is not None:
        if version not in PUBLISHED_WHEELS:
            return (f"{spec}: no pinned sha256 for {PUBLISHED_PACKAGE} {version} "
                    f"(known: {', '.join(sorted(PUBLISHED_WHEELS))}; add it to harness/sdk/wrappers.py)")
        return None
    if spec.startswith(PUBLISHED_PACKAGE):
        return f"{spec}: pin a published wrapper as {PUBLISHED_PACKAGE}==X.Y.Z"
    return None  # a path: checked when it is used


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fetch_wheel(version: str, into: Path) -> Path:
    """Download the pinned wheel with pip (hash-checked by pip and again here)."""
    into.mkdir(parents=True, exist_ok=True)
    expected = PUBLISHED_WHEELS[version]
    wheel = into / f"honch_micropython-{version}-py3-none-any.whl"
    if wheel.is_file() and _sha256(wheel) == expected:
        return wheel
    requirements = into / f"requirements-{version}.txt"
    requirements.write_text(f"{PUBLISHED_PACKAGE}=={version} --hash=sha256:{expected}\n")
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                             "--only-binary", ":all:", "--require-hashes", "-r", str(requirements),
                             "-d", str(into)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise WrapperError(f"pip could not fetch {PUBLISHED_PACKAGE}=={version} (sha256 {expected[:12]}…):\n"
                           + result.stdout.strip()[-2000:])
    if not wheel.is_file() or _sha256(wheel) != expected:
        raise WrapperError(f"{wheel} does not have the pinned sha256 {expected}")
    return wheel


def published_dir(version: str) -> Path:
    """``build/wrappers/honch-micropython-<version>/`` holding the release's ``honch/``."""
    if version not in PUBLISHED_WHEELS:
        raise WrapperError(check_spec(f"{PUBLISHED_PACKAGE}=={version}"))
    target = WRAPPERS_ROOT / f"{PUBLISHED_PACKAGE}-{version}"
    marker = target / ".sha256"
    if marker.is_file() and marker.read_text().strip() == PUBLISHED_WHEELS[version]:
        return target
    wheel = _fetch_wheel(version, WRAPPERS_ROOT / "wheels")
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.namelist() if m.startswith("honch/") and m.endswith(".py")]
        if not members:
            raise WrapperError(f"{wheel} holds no honch/ package")
        for member in members:
            archive.extract(member, staging)
    (staging / ".sha256").write_text(PUBLISHED_WHEELS[version] + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def wrapper_dir(spec: str, base: Path | None = None) -> Path | None:
    """The directory whose ``honch/`` the board imports first; None for ``frozen``."""
    problem = check_spec(spec)
    if problem:
        raise WrapperError(problem)
    if spec == FROZEN:
        return None
    if spec == PROJECT:
        return REPO_ROOT
    version = published_version(spec)
    if version is not None:
        return published_dir(version)
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = (base or REPO_ROOT) / path
    if not (path / "honch" / "__init__.py").is_file():
        raise WrapperError(f"wrapper {spec}: {path} has no honch/__init__.py")
    return path
