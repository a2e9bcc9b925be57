"""Footprint of the C core on every CPU architecture of the emulated boards: .text
(code + read-only data, which live in flash) per object file and in total, static
RAM (.data + .bss), the largest stack frame of any core function (GCC's
-fstack-usage; MicroPython's qemu port allows 10 KiB of stack in all), and the size
of the client state the caller allocates (honch_client_t).

Compiles core/src/*.c with the flags of the warning-free cross builds (`make -C core
cross`: -Os -ffunction-sections -fdata-sections; arm = Cortex-M3 Thumb-2, m0 =
Cortex-M0 Thumb-1, a9 = Cortex-A9 ARM with -mno-unaligned-access, rv32 = RV32IMC)
and reads the sections with <prefix>size -A. Targets: .text <= 24 KiB, static RAM
(.data + .bss) <= 512 B, on every architecture.
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from harness.protocol import SDK_LIMITS  # noqa: E402

CORE = ROOT / "core"
BUILD = ROOT / "build" / "core"
TEXT_TARGET = 24 * 1024
RAM_TARGET = 512
#: `make -C core <arch>` -> (what it is, binutils prefix, compiler flags of the probe)
ARCHS = {
    "arm": ("Cortex-M3 Thumb-2", "arm-none-eabi-", ["-mcpu=cortex-m3", "-mthumb"]),
    "m0": ("Cortex-M0 Thumb-1", "arm-none-eabi-", ["-mcpu=cortex-m0", "-mthumb"]),
    "a9": ("Cortex-A9 ARM", "arm-none-eabi-", ["-mcpu=cortex-a9", "-marm", "-mno-unaligned-access"]),
    "rv32": ("RV32IMC", "riscv64-unknown-elf-", ["-march=rv32imc", "-mabi=ilp32", "--specs=picolibc.specs"]),
}


def sections(prefix: str, obj: Path) -> dict:
    out = subprocess.run([prefix + "size", "-A", str(obj)], check=True, capture_output=True, text=True).stdout
    sizes = {"text": 0, "data": 0, "bss": 0}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[0].startswith(".") or not parts[1].isdigit():
            continue
        name, size = parts[0], int(parts[1])
        if name.startswith((".text", ".rodata", ".srodata")):
            sizes["text"] += size
        elif name.startswith((".data", ".sdata")):
            sizes["data"] += size
        elif name.startswith((".bss", ".sbss")):
            sizes["bss"] += size
    return sizes


def largest_frame(arch: str) -> tuple[int, str]:
    """The largest stack frame of a core function (bytes, function) from the .su files."""
    frames = []
    for su in (BUILD / arch).glob("*.su"):
        for line in su.read_text().splitlines():
            where, size, _ = line.split("\t")
            frames.append((int(size), where.rsplit(":", 1)[-1]))
    return max(frames)


def client_size(prefix: str, flags: list[str]) -> int:
    """sizeof(honch_client_t) for the target, read from a probe object's symbol size."""
    version = (ROOT / "core" / "VERSION").read_text().strip()
    with tempfile.TemporaryDirectory() as tmp:
        src, obj = Path(tmp) / "probe.c", Path(tmp) / "probe.o"
        src.write_text('#include "honch/honch.h"\nunsigned char honch_client_probe[sizeof(honch_client_t)];\n')
        subprocess.run([prefix + ("gcc" if prefix else "cc"), *flags, "-fno-common", "-c",
                        f"-DHONCH_SDK_VERSION=\"{version}\"", f"-I{CORE / 'include'}", str(src), "-o", str(obj)],
                       check=True)
        out = subprocess.run([prefix + "nm", "-S", str(obj)], check=True, capture_output=True, text=True).stdout
        return int(re.search(r"^\S+ (\S+) [BbCc] honch_client_probe$", out, flags=re.M).group(1), 16)


def main() -> int:
    subprocess.run(["make", "-s", "-C", str(CORE), "cross"], check=True)
    sources = sorted((CORE / "src").glob("*.c"))
    per_arch = {arch: {src.stem: sections(ARCHS[arch][1], BUILD / arch / (src.stem + ".o")) for src in sources}
                for arch in ARCHS}
    print(f"{'.text by object (-Os)':<24}" + "".join(f"{arch:>8}" for arch in ARCHS))
    for src in sources:
        print(f"{src.stem + '.o':<24}" + "".join(f"{per_arch[arch][src.stem]['text']:>8}" for arch in ARCHS))
    print()
    for arch, (what, prefix, flags) in ARCHS.items():
        text = sum(s["text"] for s in per_arch[arch].values())
        ram = sum(s["data"] + s["bss"] for s in per_arch[arch].values())
        frame, function = largest_frame(arch)
        print(f"{arch:<5} {what:<18} core .text {text:6d} B ({text / 1024:.1f} KiB; target <= 24 KiB: "
              f"{'met' if text <= TEXT_TARGET else 'MISSED'}), static RAM {ram} B (target <= {RAM_TARGET} B: "
              f"{'met' if ram <= RAM_TARGET else 'MISSED'}), largest stack frame {frame} B ({function}), "
              f"sizeof(honch_client_t) {client_size(prefix, flags)} B")
    print(f"host  sizeof(honch_client_t) {client_size('', [])} B "
          f"(caller memory; {SDK_LIMITS.message} B of it keep the pending encoded message)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
