"""Cortex-M3 footprint of the C core: .text/.data/.bss per object file and in total,
and the size of the client state the caller allocates (honch_client_t).

Compiles core/src/*.c with arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -Os
-ffunction-sections -fdata-sections (`make -C core arm`, the flags of the warning-free
build) and reads the sections with arm-none-eabi-size -A. Read-only data counts as
.text (it lives in flash). Targets: .text <= 24 KiB, static RAM (.data + .bss) <= 512 B.
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
BUILD = ROOT / "build" / "core" / "arm"
TEXT_TARGET = 24 * 1024
RAM_TARGET = 512


def sections(obj: Path) -> dict:
    out = subprocess.run(["arm-none-eabi-size", "-A", str(obj)], check=True, capture_output=True, text=True).stdout
    sizes = {"text": 0, "data": 0, "bss": 0}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[0].startswith(".") or not parts[1].isdigit():
            continue
        name, size = parts[0], int(parts[1])
        if name.startswith((".text", ".rodata")):
            sizes["text"] += size
        elif name.startswith(".data"):
            sizes["data"] += size
        elif name.startswith(".bss"):
            sizes["bss"] += size
    return sizes


def client_size(target: str) -> int:
    """sizeof(honch_client_t) for the target, read from a probe object's symbol size."""
    version = (ROOT / "core" / "VERSION").read_text().strip()
    with tempfile.TemporaryDirectory() as tmp:
        src, obj = Path(tmp) / "probe.c", Path(tmp) / "probe.o"
        src.write_text('#include "honch/honch.h"\nunsigned char honch_client_probe[sizeof(honch_client_t)];\n')
        cc = ["arm-none-eabi-gcc", "-mcpu=cortex-m3", "-mthumb"] if target == "arm" else ["cc"]
        nm = "arm-none-eabi-nm" if target == "arm" else "nm"
        subprocess.run([*cc, "-c", f"-DHONCH_SDK_VERSION=\"{version}\"", f"-I{CORE / 'include'}", str(src),
                        "-o", str(obj)], check=True)
        out = subprocess.run([nm, "-S", str(obj)], check=True, capture_output=True, text=True).stdout
        return int(re.search(r"^\S+ (\S+) [BbCc] honch_client_probe$", out, flags=re.M).group(1), 16)


def main() -> int:
    subprocess.run(["make", "-s", "-C", str(CORE), "arm"], check=True)
    total = {"text": 0, "data": 0, "bss": 0}
    print(f"{'object (Cortex-M3, -Os)':<28}{'.text':>8}{'.data':>8}{'.bss':>8}")
    for src in sorted((CORE / "src").glob("*.c")):
        s = sections(BUILD / (src.stem + ".o"))
        for k in total:
            total[k] += s[k]
        print(f"{src.stem + '.o':<28}{s['text']:>8}{s['data']:>8}{s['bss']:>8}")
    print(f"{'total':<28}{total['text']:>8}{total['data']:>8}{total['bss']:>8}")
    ram = total["data"] + total["bss"]
    print(f"core .text {total['text']} B ({total['text'] / 1024:.1f} KiB; target <= 24 KiB: "
          f"{'met' if total['text'] <= TEXT_TARGET else 'MISSED'}), static RAM {ram} B "
          f"(target <= {RAM_TARGET} B: {'met' if ram <= RAM_TARGET else 'MISSED'})")
    print(f"sizeof(honch_client_t): {client_size('arm')} B on Cortex-M3, {client_size('host')} B on the host "
          f"(caller memory; {SDK_LIMITS.message} B of it keep the pending encoded message)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
