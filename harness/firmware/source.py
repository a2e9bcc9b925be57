"""Where the MicroPython source tree comes from.

Either a checkout the user names (``--micropython DIR`` or ``MICROPY_DIR``), or
Debian's source package ``micropython`` from trixie, fetched with ``apt-get source
--download-only`` through a private sources list and private apt state under
``build/`` (the machine's apt configuration is never read for sources nor
written), unpacked and patched with its ``debian/patches/series``.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from harness.firmware.errors import FirmwareError, require_tool

DEBIAN_SUITE = "trixie"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
DEBIAN_SOURCE_PACKAGE = "micropython"
#: The upstream part of the Debian version we build against; another upstream
#: release would need its patches and our board config re-checked.
DEBIAN_UPSTREAM_VERSION = "1.25.0+ds"
#: Written into the unpacked tree once it is complete and patched.
READY_MARKER = ".honch-hil-source"
#: Directories of a user's checkout whose contents decide what a build produces.
_CHECKOUT_INPUT_DIRS = ("py", "extmod", "shared", "drivers", "mpy-cross", "ports/unix", "ports/qemu", "tools")


class MicroPythonSource:
    """An unpacked MicroPython tree and a string that identifies its contents."""

    def __init__(self, path: Path, identity: str):
        self.path = path
        self.identity = identity

    def __repr__(self):
        return "MicroPythonSource(%r, %r)" % (str(self.path), self.identity)


def locate_source(firmware_root: Path, micropython_dir: str | os.PathLike | None = None,
                  log=None) -> MicroPythonSource:
    """The tree to build from: ``micropython_dir``, else ``$MICROPY_DIR``, else Debian's."""
    chosen = micropython_dir or os.environ.get("MICROPY_DIR")
    if chosen:
        return checkout_source(Path(chosen))
    return debian_source(firmware_root / "micropython", log=log)


def checkout_source(path: Path) -> MicroPythonSource:
    """A user's MicroPython checkout, identified by the state of the files a build reads."""
    path = path.expanduser().resolve()
    for required in ("py/mkenv.mk", "ports/unix/Makefile", "ports/qemu/Makefile", "mpy-cross/Makefile"):
        if not (path / required).is_file():
            raise FirmwareError(
                "%s is not a MicroPython source tree (no %s); pass the top of a checkout "
                "with --micropython DIR or MICROPY_DIR" % (path, required))
    digest = hashlib.sha256()
    for top in _CHECKOUT_INPUT_DIRS:
        for dirpath, dirnames, filenames in os.walk(path / top):
            # Build outputs inside the checkout (mpy-cross/build, ports/*/build-*) are not inputs.
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("build"))
            for name in sorted(filenames):
                file = Path(dirpath) / name
                stat = file.stat()
                digest.update(("%s %d %d\n" % (file.relative_to(path), stat.st_size, stat.st_mtime_ns)).encode())
    return MicroPythonSource(path, "checkout %s %s" % (path, digest.hexdigest()[:16]))


def _apt_options(apt_dir: Path) -> list[str]:
    return [
        "-o", "Dir::Etc::SourceList=%s" % (apt_dir / "sources.list"),
        "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", "Dir::State=%s" % (apt_dir / "state"),
        "-o", "Dir::State::Lists=%s" % (apt_dir / "lists"),
        "-o", "Dir::Cache=%s" % (apt_dir / "cache"),
        # The download directory belongs to root; apt's _apt user could not write it.
        "-o", "APT::Sandbox::User=root",
        "-q",
    ]


def _run(cmd: list[str], cwd: Path, what: str, log=None) -> str:
    if log:
        log("$ " + " ".join(cmd))
    result = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise FirmwareError("%s failed (exit %d): %s\n%s" % (what, result.returncode, " ".join(cmd),
                                                            result.stdout[-3000:]))
    return result.stdout


def download_debian_source(download_dir: Path, log=None) -> Path:
    """Fetch the ``.dsc`` and its tarballs into ``download_dir``; return the ``.dsc``."""
    existing = sorted(download_dir.glob("%s_%s-*.dsc" % (DEBIAN_SOURCE_PACKAGE, DEBIAN_UPSTREAM_VERSION)))
    if existing and _dsc_files_present(existing[-1]):
        return existing[-1]
    require_tool("apt-get", "apt")
    if not DEBIAN_KEYRING.is_file():
        raise FirmwareError("%s is missing: install the Debian package debian-archive-keyring" % DEBIAN_KEYRING)
    apt_dir = download_dir / "apt"
    for sub in ("lists/partial", "cache/archives/partial", "state"):
        (apt_dir / sub).mkdir(parents=True, exist_ok=True)
    (apt_dir / "sources.list").write_text(
        "deb-src [signed-by=%s] %s %s main\n" % (DEBIAN_KEYRING, DEBIAN_MIRROR, DEBIAN_SUITE))
    options = _apt_options(apt_dir)
    _run(["apt-get", *options, "update"], download_dir, "apt-get update (private state in %s)" % apt_dir, log)
    _run(["apt-get", *options, "source", "--download-only", DEBIAN_SOURCE_PACKAGE], download_dir,
         "apt-get source --download-only %s" % DEBIAN_SOURCE_PACKAGE, log)
    found = sorted(download_dir.glob("%s_*.dsc" % DEBIAN_SOURCE_PACKAGE))
    if not found:
        raise FirmwareError("apt-get source produced no %s .dsc in %s" % (DEBIAN_SOURCE_PACKAGE, download_dir))
    dsc = found[-1]
    version = dsc.name[len(DEBIAN_SOURCE_PACKAGE) + 1:-len(".dsc")]
    if not version.startswith(DEBIAN_UPSTREAM_VERSION + "-"):
        raise FirmwareError(
            "Debian %s now ships %s %s, but this harness is made for %s; pass a MicroPython "
            "v1.25.0 checkout with --micropython DIR" % (DEBIAN_SUITE, DEBIAN_SOURCE_PACKAGE, version,
                                                          DEBIAN_UPSTREAM_VERSION))
    if not _dsc_files_present(dsc):
        raise FirmwareError("apt-get source left %s incomplete: files listed in it are missing" % dsc)
    return dsc


def _dsc_files(dsc: Path) -> list[tuple[str, str]]:
    """``[(sha256, file name), ...]`` from the ``Checksums-Sha256`` field of a ``.dsc``."""
    files = []
    in_field = False
    for line in dsc.read_text(errors="replace").splitlines():
        if line.startswith("Checksums-Sha256:"):
            in_field = True
            continue
        if in_field:
            if not line.startswith(" "):
                break
            parts = line.split()
            if len(parts) == 3:
                files.append((parts[0], parts[2]))
    return files


def _dsc_files_present(dsc: Path) -> bool:
    files = _dsc_files(dsc)
    return bool(files) and all((dsc.parent / name).is_file() for _, name in files)


def _verify_checksums(dsc: Path) -> None:
    for expected, name in _dsc_files(dsc):
        digest = hashlib.sha256()
        with open(dsc.parent / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            raise FirmwareError("%s does not match the sha256 in %s; delete %s and build again"
                                % (name, dsc.name, dsc.parent))


def _extract(tarball: Path, dest: Path) -> None:
    with lzma.open(tarball) as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
        tar.extractall(dest, filter="tar")


def unpack_debian_source(dsc: Path, tree: Path, log=None) -> None:
    """Unpack orig + debian tarballs of ``dsc`` into ``tree`` and apply the quilt series."""
    require_tool("patch", "patch")
    _verify_checksums(dsc)
    files = [name for _, name in _dsc_files(dsc)]
    orig = [n for n in files if ".orig.tar." in n]
    debian = [n for n in files if ".debian.tar." in n]
    if len(orig) != 1 or len(debian) != 1:
        raise FirmwareError("%s does not list one orig and one debian tarball: %s" % (dsc, files))
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=tree.parent))
    try:
        _extract(dsc.parent / orig[0], staging)
        tops = [p for p in staging.iterdir()]
        if len(tops) != 1 or not tops[0].is_dir():
            raise FirmwareError("%s does not unpack to a single directory" % orig[0])
        top = tops[0]
        _extract(dsc.parent / debian[0], top)  # creates top/debian, as dpkg-source does
        series = top / "debian" / "patches" / "series"
        for line in series.read_text().splitlines():
            name = line.split("#", 1)[0].strip()
            if not name:
                continue
            patch_args = name.split()[1:] or ["-p1"]
            _run(["patch", "--batch", "--forward", "--no-backup-if-mismatch", *patch_args,
                  "-i", str(top / "debian" / "patches" / name.split()[0])],
                 top, "applying debian/patches/%s" % name.split()[0], log)
        (top / READY_MARKER).write_text(dsc.name + "\n")
        if tree.exists():
            shutil.rmtree(tree)
        top.rename(tree)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def debian_source(root: Path, log=None) -> MicroPythonSource:
    """Debian's patched MicroPython under ``root/tree``, downloading and unpacking it if needed."""
    tree = root / "tree"
    marker = tree / READY_MARKER
    if marker.is_file():
        dsc_name = marker.read_text().strip()
        return MicroPythonSource(tree, "debian " + dsc_name)
    downloads = root / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    dsc = download_debian_source(downloads, log=log)
    unpack_debian_source(dsc, tree, log=log)
    return MicroPythonSource(tree, "debian " + dsc.name)


def debian_version_of(source: MicroPythonSource) -> str | None:
    match = re.match(r"debian %s_(.+)\.dsc$" % DEBIAN_SOURCE_PACKAGE, source.identity)
    return match.group(1) if match else None
