"""harness.firmware: the MicroPython source (Debian package or checkout), toolchain
errors, stamps and the CLI."""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from harness.cli import main as cli_main
from harness.firmware import build, source
from harness.firmware.errors import FirmwareError


# --- Debian source package ------------------------------------------------------------

def _tar_xz(path: Path, files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = (modes or {}).get(name, 0o644)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(lzma.compress(raw.getvalue()))


PATCH = """--- a/py/mkenv.mk
+++ b/py/mkenv.mk
@@ -1,2 +1,2 @@
 # make environment
-PATCHED = no
+PATCHED = yes
"""


def _fake_source_package(where: Path, corrupt: bool = False) -> Path:
    """A .dsc with an orig and a debian tarball, shaped like Debian's micropython."""
    version = source.DEBIAN_UPSTREAM_VERSION
    orig = where / f"micropython_{version}.orig.tar.xz"
    debian = where / f"micropython_{version}-1.debian.tar.xz"
    _tar_xz(orig, {"micropython-1.25.0/py/mkenv.mk": "# make environment\nPATCHED = no\n",
                   "micropython-1.25.0/ports/unix/Makefile": "all:\n"})
    _tar_xz(debian, {"debian/patches/series": "# applied in order\n0001-mark.patch\n",
                     "debian/patches/0001-mark.patch": PATCH,
                     "debian/config/makedebversionhdr": "#!/bin/sh\n"},
            modes={"debian/config/makedebversionhdr": 0o755})
    lines = []
    for f in (orig, debian):
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        if corrupt and f is debian:
            digest = "0" * 64
        lines.append(f" {digest} {f.stat().st_size} {f.name}")
    dsc = where / f"micropython_{version}-1.dsc"
    dsc.write_text("Format: 3.0 (quilt)\nSource: micropython\nChecksums-Sha256:\n" + "\n".join(lines)
                   + "\nFiles:\n x 1 y\n")
    return dsc


def test_debian_source_is_unpacked_and_patched_in_series_order(tmp_path):
    dsc = _fake_source_package(tmp_path)
    tree = tmp_path / "tree"
    source.unpack_debian_source(dsc, tree)
    assert (tree / "py/mkenv.mk").read_text() == "# make environment\nPATCHED = yes\n"
    assert (tree / "ports/unix/Makefile").is_file()
    assert os.access(tree / "debian/config/makedebversionhdr", os.X_OK)  # run by Debian's py.mk patch
    assert (tree / source.READY_MARKER).read_text().strip() == dsc.name
    assert not list(tmp_path.glob(".unpack-*")), "the staging directory is removed"


def test_a_tarball_that_does_not_match_the_dsc_is_refused(tmp_path):
    dsc = _fake_source_package(tmp_path, corrupt=True)
    with pytest.raises(FirmwareError, match="does not match the sha256"):
        source.unpack_debian_source(dsc, tmp_path / "tree")
    assert not (tmp_path / "tree").exists()


def test_apt_runs_with_private_state_only(tmp_path, monkeypatch):
    """apt-get gets a sources list, lists, cache and state under build/, and reads no
    sources.list.d: the machine's apt configuration is neither used nor changed."""
    calls = []

    def fake_run(cmd, cwd, what, log=None):
        calls.append(cmd)
        if "source" in cmd:
            _fake_source_package(cwd)
        return ""

    monkeypatch.setattr(source, "_run", fake_run)
    dsc = source.download_debian_source(tmp_path)
    assert dsc.name == f"micropython_{source.DEBIAN_UPSTREAM_VERSION}-1.dsc"
    assert [c[-1] for c in calls] == ["update", "micropython"]
    apt_dir = tmp_path / "apt"
    for cmd in calls:
        options = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-o"]
        assert "Dir::Etc::SourceParts=/dev/null" in options
        for option in options:
            if option.startswith("Dir::") and option != "Dir::Etc::SourceParts=/dev/null":
                assert option.split("=", 1)[1].startswith(str(apt_dir)), option
    assert (apt_dir / "sources.list").read_text() == (
        f"deb-src [signed-by={source.DEBIAN_KEYRING}] {source.DEBIAN_MIRROR} {source.DEBIAN_SUITE} main\n")
    calls.clear()
    assert source.download_debian_source(tmp_path) == dsc
    assert calls == [], "a complete download is reused without apt"


def test_another_upstream_version_is_refused(tmp_path, monkeypatch):
    def fake_run(cmd, cwd, what, log=None):
        if "source" in cmd:
            (cwd / "micropython_1.26.0+ds-1.dsc").write_text("Checksums-Sha256:\n")
        return ""

    monkeypatch.setattr(source, "_run", fake_run)
    with pytest.raises(FirmwareError, match=r"now ships micropython 1\.26\.0\+ds-1.*--micropython DIR"):
        source.download_debian_source(tmp_path)


def test_a_checkout_must_be_a_micropython_tree(tmp_path):
    with pytest.raises(FirmwareError, match="is not a MicroPython source tree .no py/mkenv.mk."):
        source.checkout_source(tmp_path)


def test_a_checkout_is_identified_by_its_files(tmp_path):
    for name in ("py/mkenv.mk", "ports/unix/Makefile", "ports/qemu/Makefile", "mpy-cross/Makefile"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    first = source.checkout_source(tmp_path).identity
    (tmp_path / "mpy-cross/build").mkdir()
    (tmp_path / "mpy-cross/build/mpy-cross").write_text("built\n")
    assert source.checkout_source(tmp_path).identity == first, "build outputs are not inputs"
    (tmp_path / "py/mkenv.mk").write_text("changed, longer\n")
    assert source.checkout_source(tmp_path).identity != first


# --- toolchain ----------------------------------------------------------------------------

@pytest.mark.parametrize("target, package", [("qemu", "gcc-arm-none-eabi"), ("qemu-microbit", "gcc-arm-none-eabi"),
                                             ("qemu-rv32", "gcc-riscv64-unknown-elf"), ("unix", "build-essential")])
def test_a_missing_compiler_names_the_debian_package(target, package, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "python3", "pkg-config"):  # everything but the compiler
        real = subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip()
        (bin_dir / tool).symlink_to(real)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(FirmwareError, match=f"install the Debian package {package}"):
        build.check_toolchain(build.target(target))


@pytest.mark.parametrize("target, package", [("qemu-sabrelite", "libnewlib-arm-none-eabi"),
                                             ("qemu-rv32", "picolibc-riscv64-unknown-elf")])
def test_a_missing_c_library_names_the_debian_package(target, package, tmp_path, monkeypatch):
    """A cross compiler without its C library answers -print-file-name with the bare name."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "python3"):
        real = subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip()
        (bin_dir / tool).symlink_to(real)
    compiler = bin_dir / build.target(target).compiler
    compiler.write_text("#!/bin/sh\nfor a; do case $a in -print-file-name=*) echo ${a#*=}; exit 0;; esac; done\n"
                        "echo 'gcc (fake) 12'\n")
    compiler.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(FirmwareError, match=f"no C library for the {target} firmware: install the Debian package {package}"):
        build.check_toolchain(build.target(target))


def test_unknown_target_lists_the_known_ones():
    with pytest.raises(FirmwareError, match="unknown firmware 'esp32': choose one of unix, unix-core-only, "
                                            "unix-published-0.3.1, qemu, qemu-microbit, qemu-sabrelite, qemu-rv32, "
                                            "qemu-no-usermod"):
        build.target("esp32")


def test_every_emulated_machine_boots_a_firmware_built_for_its_board():
    from harness.boards.qemu import MACHINES

    assert {m.firmware for m in MACHINES.values()} == set(build.QEMU_BOARDS)
    for m in MACHINES.values():
        t = build.target(m.firmware)
        assert t.port == "qemu" and t.with_usermod and (t.board_dir / "mpconfigboard.mk").is_file()
        assert build.target(m.firmware + build.NO_USERMOD).board == t.board


# --- stamps -------------------------------------------------------------------------------

def test_sources_digest_follows_content_not_caches(tmp_path, monkeypatch):
    (tmp_path / "honch").mkdir()
    (tmp_path / "honch" / "__init__.py").write_text("x = 1\n")
    monkeypatch.setattr(build, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(build, "PROJECT_INPUTS", ("honch",))
    target = build.target("unix")
    first = build.sources_digest(target)
    (tmp_path / "honch" / "__pycache__").mkdir()
    (tmp_path / "honch" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert build.sources_digest(target) == first
    (tmp_path / "honch" / "__init__.py").write_text("x = 2\n")
    second = build.sources_digest(target)
    assert second != first
    (tmp_path / "honch" / "extra.py").write_text("")
    assert build.sources_digest(target) != second


def test_an_up_to_date_firmware_is_returned_without_running_make(unix_firmware, monkeypatch):
    def no_build(*args, **kwargs):
        raise AssertionError("an up-to-date firmware was rebuilt")

    monkeypatch.setattr(build, "_build", no_build)  # raising before it touches anything
    assert build.ensure_firmware("unix", log=lambda m: None) == unix_firmware


@pytest.fixture
def firmware_root_copy(unix_firmware, tmp_path, monkeypatch):
    """A private FIRMWARE_ROOT holding an up-to-date unix firmware, with _build
    recorded instead of run: stamp decisions without touching build/firmware."""
    artifact = build.target("unix").artifact_path
    source_tree = source.locate_source(build.FIRMWARE_ROOT)
    monkeypatch.setattr(build, "FIRMWARE_ROOT", tmp_path)
    monkeypatch.setattr(build, "locate_source", lambda root, micropython_dir=None, log=None: source_tree)
    copy = build.target("unix")
    copy.out_dir.mkdir(parents=True)
    copy.artifact_path.write_bytes(artifact.read_bytes())
    stamp = build.stamp_for(copy, source_tree, build.make_variables(copy, source_tree), build.check_toolchain(copy))
    copy.stamp_path.write_text(json.dumps(stamp))
    copy.obj_key_path.write_text(json.dumps(stamp["clean"]))
    builds = []
    monkeypatch.setattr(build, "_build", lambda t, src, variables, stamp, clean: builds.append(clean))
    return builds


def test_a_fresh_stamp_is_a_cache_hit(firmware_root_copy):
    assert build.ensure_firmware("unix", log=lambda m: None) == build.target("unix").artifact_path
    assert firmware_root_copy == []


def test_changed_sources_rebuild_incrementally(firmware_root_copy, monkeypatch):
    monkeypatch.setattr(build, "sources_digest", lambda t: "a project source changed")
    build.ensure_firmware("unix", log=lambda m: None)
    assert firmware_root_copy == [False]
    build.ensure_firmware("unix", log=lambda m: None)
    assert firmware_root_copy == [False], "the new stamp makes the next call a cache hit"


def test_changed_make_variables_rebuild_from_scratch(firmware_root_copy, monkeypatch):
    real = build.make_variables
    monkeypatch.setattr(build, "make_variables", lambda t, src: real(t, src) + ["MICROPY_PY_FFI=0"])
    build.ensure_firmware("unix", log=lambda m: None)
    assert firmware_root_copy == [True]


def test_force_rebuilds_from_scratch(firmware_root_copy):
    build.ensure_firmware("unix", force=True, log=lambda m: None)
    assert firmware_root_copy == [True]


# --- CLI --------------------------------------------------------------------------------------

def test_cli_build_and_path(unix_firmware, capsys):
    assert cli_main(["firmware", "build", "unix"]) == 0
    assert capsys.readouterr().out == f"unix: {unix_firmware}\n"
    assert cli_main(["firmware", "path", "unix"]) == 0
    assert capsys.readouterr().out == f"{unix_firmware}\n"


def test_cli_refuses_unknown_ports(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["firmware", "build", "esp32"])
    assert exc.value.code == 2
    assert "invalid choice: 'esp32'" in capsys.readouterr().err
