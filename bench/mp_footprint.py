"""Footprint of the SDK on every emulated board (MicroPython's qemu port: Cortex-M3,
Cortex-M0, Cortex-A9, RV32IMC; harness/boards/qemu.py).

Prints, per board:
* GC heap taken by ``import honch`` and by ``honch.Honch(...)`` with an 8 KiB
  event_buffer (beyond the buffer), measured with gc.collect() + gc.mem_free();
* GC heap retained per ``track()`` over many calls, and what ``track()`` allocates
  transiently (micropython.mem_total(), the firmware has MICROPY_MEM_STATS), through
  the wrapper and through ``_honch_core`` directly;
* code (``.text`` and read-only data) added by the user C module: the board's
  firmware against the same firmware built without USER_C_MODULES (target
  ``<target>-no-usermod``, built here on demand).

Targets (issue 4): import + init <= 6 KiB, 0 bytes retained per track, module + core
.text <= 32 KiB. Run: ``build/venv/bin/python bench/mp_footprint.py [--machine NAME ...]``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from harness.boards.qemu import MACHINES, booted_raw_repl
from harness.firmware import ensure_firmware
from harness.firmware.build import NO_USERMOD, target

TRACKS = 500
EVENT_BUFFER = 8192
TARGET_IMPORT_INIT = 6 * 1024
TARGET_TEXT = 32 * 1024
MARKER = "@@FOOTPRINT@@ "

# Globals are created before each measurement: adding a key to the REPL's globals
# dict can grow it, which would be counted against the SDK.
DEVICE_SNIPPET = """
import gc, json, micropython
honch = c = buf = core_track = props = None
f0 = f1 = f2 = f3 = 0
gc.collect(); f0 = gc.mem_free()
import honch
gc.collect(); f1 = gc.mem_free()
buf = bytearray(%(buffer)d)
gc.collect(); f2 = gc.mem_free()
c = honch.Honch(api_key="phc_bench", device_id="bench-1", device_model=%(machine)r, firmware_version="1.0.0",
                event_buffer=buf, endpoint_url="http://capture.invalid", flush_min_interval_ms=0xFFFFFFFF)
gc.collect(); f3 = gc.mem_free()
props = {"temperature": 21.5, "unit": "C", "ok": True, "count": 7, "tags": ["a", "b"]}
core_track = c._core.track

def retained(n):
    gc.collect()
    start = gc.mem_free()
    for _ in range(n):
        c.track("reading", props)
    gc.collect()
    return start - gc.mem_free()

def allocated(track, n):
    start = micropython.mem_total()
    for _ in range(n):
        track("reading", props)
    return micropython.mem_total() - start

retained(20)
allocated(c.track, 5)
allocated(core_track, 5)
print(%(marker)r + json.dumps({
    "heap_free_at_boot": f0, "import": f0 - f1, "buffer": f1 - f2, "init": f2 - f3,
    "retained": retained(%(tracks)d), "wrapper_alloc": allocated(c.track, %(tracks)d),
    "core_alloc": allocated(core_track, %(tracks)d), "stats": c.queue_stats()}))
"""


def run_on_board(firmware: Path, machine: str) -> dict:
    with booted_raw_repl(firmware, machine) as transport:
        code = DEVICE_SNIPPET % {"buffer": EVENT_BUFFER, "tracks": TRACKS, "marker": MARKER, "machine": machine}
        out, err = (part.decode() for part in transport.exec_raw(code, timeout=120))
    if err:
        raise SystemExit(f"the measurement failed on {machine}:\n" + err)
    line = next(line for line in out.splitlines() if line.startswith(MARKER))
    return json.loads(line[len(MARKER):])


def code_size(size_tool: str, elf: Path) -> int:
    """Code and read-only data of a linked image (``size -A``: .text, .rodata, .srodata)."""
    out = subprocess.run([size_tool, "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    total = 0
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit() and parts[0].startswith((".text", ".rodata", ".srodata")):
            total += int(parts[1])
    return total


def object_text(size_tool: str, obj_dir: Path, pattern: str) -> int:
    """Sum of text (code + read-only data) of the objects matching pattern, before linking."""
    objects = sorted(str(p) for p in obj_dir.rglob("*.o") if re.search(pattern, str(p)))
    if not objects:
        return 0
    out = subprocess.run([size_tool, "-t", *objects], capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[-1].split()[0])


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(machine, figures: dict, name: str) -> None:
    t = target(machine.firmware)
    size_tool = t.toolchain.tool("size")
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    without_module = ensure_firmware(machine.firmware + NO_USERMOD, log=log)
    text_with = code_size(size_tool, t.artifact_path)
    text_without = code_size(size_tool, without_module)
    core_objects = object_text(size_tool, t.obj_dir, r"/core/src/[^/]+\.o$")
    module_objects = object_text(size_tool, t.obj_dir, r"/honch/(modhonch_core|honch_mp_port)\.o$")
    import_init = figures["import"] + figures["init"]
    per_track_retained = figures["retained"] / TRACKS

    print("\n%s: %s (qemu %s), %d B GC heap free at boot"
          % (name, machine.cpu, machine.qemu_machine, figures["heap_free_at_boot"]))
    print("  import honch                       %6d B GC heap" % figures["import"])
    print("  Honch(...) with %d B event_buffer  %6d B GC heap beyond the buffer" % (EVENT_BUFFER, figures["init"]))
    print("  import + init                      %6d B    target <= %d B: %s"
          % (import_init, TARGET_IMPORT_INIT, verdict(import_init <= TARGET_IMPORT_INIT)))
    print("  retained per track()               %6.1f B    (%d tracks, %d B in total) target 0: %s"
          % (per_track_retained, TRACKS, figures["retained"], verdict(figures["retained"] <= 0)))
    print("  allocated per track(), transient   %6.1f B    through honch.Honch.track (garbage, collected)"
          % (figures["wrapper_alloc"] / TRACKS))
    print("  allocated per track(), transient   %6.1f B    through _honch_core.Client.track"
          % (figures["core_alloc"] / TRACKS))
    print("  code with the user module          %6d B" % text_with)
    print("  code without USER_C_MODULES        %6d B" % text_without)
    print("  code added (module + core)         %6d B    target <= %d B: %s"
          % (text_with - text_without, TARGET_TEXT, verdict(text_with - text_without <= TARGET_TEXT)))
    print("    of which core objects            %6d B    (before linking)" % core_objects)
    print("    of which _honch_core + adapters  %6d B    (before linking)" % module_objects)
    print("  queue after the run: %d events queued, %d dropped at capacity"
          % (figures["stats"]["queued_events"], figures["stats"]["capacity_dropped_events"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machine", action="append", choices=sorted(MACHINES), default=[],
                        help="an emulated board (default: all)")
    args = parser.parse_args(argv)
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    for name in args.machine or list(MACHINES):
        machine = MACHINES[name]
        figures = run_on_board(ensure_firmware(machine.firmware, log=log), name)
        report(machine, figures, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
