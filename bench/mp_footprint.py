"""Footprint of the SDK on the emulated Cortex-M3 (MicroPython, qemu mps2-an385).

Prints:
* GC heap taken by ``import honch`` and by ``honch.Honch(...)`` with an 8 KiB
  event_buffer (beyond the buffer), measured with gc.collect() + gc.mem_free();
* GC heap retained per ``track()`` over many calls, and what ``track()`` allocates
  transiently (micropython.mem_total(), the firmware has MICROPY_MEM_STATS), through
  the wrapper and through ``_honch_core`` directly;
* ``.text`` added by the user C module: the qemu firmware against the same firmware
  built without USER_C_MODULES (target ``qemu-no-usermod``, built here on demand).

Targets (issue 4): import + init <= 6 KiB, 0 bytes retained per track, module + core
.text <= 32 KiB. Run: ``build/venv/bin/python bench/mp_footprint.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from harness.boards.qemu import booted_raw_repl
from harness.firmware import ensure_firmware
from harness.firmware.build import target

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
c = honch.Honch(api_key="phc_bench", device_id="bench-1", device_model="mps2-an385", firmware_version="1.0.0",
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


def run_on_board(firmware: Path) -> dict:
    with booted_raw_repl(firmware) as transport:
        code = DEVICE_SNIPPET % {"buffer": EVENT_BUFFER, "tracks": TRACKS, "marker": MARKER}
        out, err = (part.decode() for part in transport.exec_raw(code, timeout=120))
    if err:
        raise SystemExit("the measurement failed on the board:\n" + err)
    line = next(line for line in out.splitlines() if line.startswith(MARKER))
    return json.loads(line[len(MARKER):])


def section_sizes(elf: Path) -> dict:
    out = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def object_text(obj_dir: Path, pattern: str) -> int:
    """Sum of .text (code + rodata in this port's objects) of the objects matching pattern, before linking."""
    objects = sorted(str(p) for p in obj_dir.rglob("*.o") if re.search(pattern, str(p)))
    if not objects:
        return 0
    out = subprocess.run(["arm-none-eabi-size", "-t", *objects], capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[-1].split()[0])


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> int:
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    with_module = ensure_firmware("qemu", log=log)
    without_module = ensure_firmware("qemu-no-usermod", log=log)
    figures = run_on_board(with_module)

    text_with = section_sizes(with_module)[".text"]
    text_without = section_sizes(without_module)[".text"]
    obj_dir = target("qemu").obj_dir
    core_objects = object_text(obj_dir, r"/core/src/[^/]+\.o$")
    module_objects = object_text(obj_dir, r"/honch/(modhonch_core|honch_mp_port)\.o$")
    import_init = figures["import"] + figures["init"]
    per_track_retained = figures["retained"] / TRACKS

    print("MicroPython footprint on the emulated Cortex-M3 (qemu mps2-an385, %d B GC heap free at boot)"
          % figures["heap_free_at_boot"])
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
    print("  .text with the user module         %6d B" % text_with)
    print("  .text without USER_C_MODULES       %6d B" % text_without)
    print("  .text added (module + core)        %6d B    target <= %d B: %s"
          % (text_with - text_without, TARGET_TEXT, verdict(text_with - text_without <= TARGET_TEXT)))
    print("    of which core objects            %6d B    (before linking)" % core_objects)
    print("    of which _honch_core + adapters  %6d B    (before linking)" % module_objects)
    print("  queue after the run: %d events queued, %d dropped at capacity"
          % (figures["stats"]["queued_events"], figures["stats"]["capacity_dropped_events"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
