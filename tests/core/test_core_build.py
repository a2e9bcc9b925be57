"""Builds of the C core: warning-free for the host and for every CPU architecture of the
emulated boards (Cortex-M3 Thumb-2, Cortex-M0 Thumb-1, Cortex-A9 ARM with
-mno-unaligned-access, RV32IMC), no heap, no static RAM, and header constants equal to
harness/protocol.py."""

import re
import subprocess

import pytest

from harness import protocol

from core_support import BUILD, CORE, SOURCES, make

HEAP = {"malloc", "calloc", "realloc", "free", "aligned_alloc", "posix_memalign", "strdup", "strndup"}
#: the only outside symbols the core may use: string/memory functions and compiler helpers
#: (the ARM EABI's __aeabi_*, Thumb-1 switch tables, libgcc's 64-bit integer routines on RV32).
ALLOWED = {"memcpy", "memmove", "memset", "memcmp", "memchr", "strlen"}
COMPILER_HELPER = re.compile(r"__aeabi_\w+|__gnu_thumb1_case_\w+|__(ashl|ashr|lshr|mul|div|mod|udiv|umod)di3")
#: `make -C core <arch>` target -> binutils prefix (core/Makefile has the compiler flags)
PREFIX = {"host": "", "arm": "arm-none-eabi-", "m0": "arm-none-eabi-", "a9": "arm-none-eabi-",
          "rv32": "riscv64-unknown-elf-"}
CROSS = [arch for arch in PREFIX if arch != "host"]


def build_objects(arch: str) -> list:
    """Objects built by `make -C core <arch>` (-std=c99 -Wall -Wextra -Werror -pedantic;
    cross builds -Os and -Wcast-align=strict). A warning fails the build, so this is the
    warning-free check."""
    make(arch)
    objs = [BUILD / arch / (src.stem + ".o") for src in SOURCES]
    assert all(o.is_file() for o in objs)
    return objs


@pytest.fixture(scope="module", params=list(PREFIX))
def objects(request):
    return request.param, build_objects(request.param)


#: what readelf -h -A must show of each cross build (and must not: atomics, floats on RV32IMC)
ARCH_ATTRIBUTES = {
    "arm": (("Tag_CPU_name: \"7-M\"", "Tag_THUMB_ISA_use: Thumb-2"), ()),
    "m0": (("Tag_CPU_name: \"6S-M\"", "Tag_THUMB_ISA_use: Thumb-1"), ("Tag_CPU_unaligned_access",)),
    "a9": (("Tag_CPU_name: \"7-A\"", "Tag_ARM_ISA_use: Yes"), ("Tag_CPU_unaligned_access",)),
    "rv32": (("Class:                             ELF32", "Tag_RISCV_arch: \"rv32i", "_m2p", "_c2p"),
             ("_a2p", "_f2p", "_d2p")),
}


@pytest.mark.parametrize("arch", CROSS)
def test_every_cross_build_is_for_its_architecture(arch):
    """The cross objects really are Thumb-2, Thumb-1, ARM-state (no unaligned access) and RV32IMC code."""
    present, absent = ARCH_ATTRIBUTES[arch]
    for obj in build_objects(arch):
        shown = subprocess.run([PREFIX[arch] + "readelf", "-h", "-A", str(obj)], capture_output=True, text=True,
                               check=True).stdout
        missing = [p for p in present if p not in shown] + [a for a in absent if a in shown]
        assert not missing, f"{obj.name} ({arch}): {missing} in\n{shown}"


def undefined_symbols(tool, obj):
    out = subprocess.run([tool, "-u", str(obj)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def test_no_object_references_the_heap_and_only_memory_functions_are_used(objects):
    kind, objs = objects
    nm = PREFIX[kind] + "nm"
    internal = {sym for obj in objs for sym in defined_symbols(nm, obj)}
    for obj in objs:
        used = undefined_symbols(nm, obj) - internal
        assert not used & HEAP, f"{obj.name} references {sorted(used & HEAP)}"
        outside = {s for s in used if s not in ALLOWED and not COMPILER_HELPER.fullmatch(s)}
        assert not outside, f"{obj.name} uses {sorted(outside)}"


def defined_symbols(tool, obj):
    out = subprocess.run([tool, "--defined-only", str(obj)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@pytest.mark.parametrize("arch", CROSS)
def test_the_core_has_no_static_ram(arch):
    objs = build_objects(arch)
    out = subprocess.run([PREFIX[arch] + "size", "-A", *map(str, objs)], capture_output=True, text=True,
                         check=True).stdout
    # .sdata/.sbss: RISC-V's small-data sections
    ram = sum(int(size) for name, size, *_ in (line.split() for line in out.splitlines() if line.startswith(".")
                                              and len(line.split()) >= 2)
              if name.startswith((".data", ".bss", ".sdata", ".sbss")))
    assert ram == 0  # target: at most 512 bytes; the core keeps all state in caller memory


def header_defines():
    text = (CORE / "include" / "honch" / "honch.h").read_text()
    found = {}
    for name, value in re.findall(r"^#define (HONCH_\w+) (.+?)\s*(?:/\*.*)?$", text, flags=re.M):
        value = value.strip()
        if re.fullmatch(r"\d+u?", value):
            found[name] = int(value.rstrip("u"))
        elif re.fullmatch(r"0x[0-9A-Fa-f]+u?", value):
            found[name] = int(value.rstrip("u"), 16)
        elif re.fullmatch(r"\d+ull", value):
            found[name] = int(value[:-3])
        elif re.fullmatch(r'"[^"]*"', value):
            found[name] = value[1:-1]
        elif value in found:  # an alias, e.g. HONCH_SPACING_DISABLED
            found[name] = found[value]
    return found


def test_header_constants_match_the_protocol_facts():
    h = header_defines()
    for value, (name, _, _) in protocol.STATUSES.items():
        assert h[f"HONCH_STATUS_{name}"] == value
    for key, value in protocol.CONFIG_DEFAULTS.items():
        assert h[f"HONCH_DEFAULT_{key.upper()}"] == value, key
    limits = protocol.SDK_LIMITS
    assert (h["HONCH_MAX_FRAME_BYTES"], h["HONCH_MAX_MESSAGE_BYTES"], h["HONCH_MAX_EVENTS_PER_MESSAGE"],
            h["HONCH_MAX_STRINGS"], h["HONCH_MAX_STRING_BYTES"], h["HONCH_MAX_ALL_STRING_BYTES"],
            h["HONCH_MAX_PROPERTIES"]) == (limits.frame, limits.message, limits.events, limits.strings,
                                           limits.string_bytes, limits.all_string_bytes, limits.properties)
    same = {"MAX_BATCH_SIZE", "MAX_NAME_BYTES", "MAX_DISTINCT_ID_BYTES", "MAX_DEVICE_ID_BYTES",
            "MAX_CONFIG_STRING_BYTES", "MAX_TRAITS", "MAX_NESTING", "U32_MAX", "SPACING_DISABLED",
            "MICROPYTHON_MAX_TRANSPORT_TIMEOUT_MS", "VALID_WALL_CLOCK_MS", "RETRY_AFTER_UNKNOWN_WALL_CLOCK_MS",
            "ERROR_SLOTS", "ERROR_COMPONENT_CUT_BYTES", "ERROR_MESSAGE_CUT_BYTES", "CRASH_BACKTRACE_MAX_BYTES",
            "CRASH_MESSAGE_MAX_BYTES", "CRASH_EXCEPTION_CAUSE_MAX_BYTES", "MIN_MAX_FRAME", "WIRE_VERSION",
            "FRAME_SINGLE", "FRAME_INIT", "FRAME_MIDDLE", "FRAME_FINAL", "CAPTURE_PATH", "CONTENT_TYPE",
            "HEADER_PROJECT_KEY", "HEADER_STREAM_ID", "DEFAULT_ENDPOINT_URL", "DEFAULT_ENVIRONMENT",
            "SDK_PLATFORM_HOST", "SDK_PLATFORM_MICROPYTHON", "MESSAGE_KIND_EVENT_BATCH",
            "FLAG_CONTEXT_PROMOTES_PROPERTIES", "HEADER_VALUE_MIN_BYTE", "HEADER_VALUE_MAX_BYTE"}
    for name in sorted(same):
        assert h[f"HONCH_{name}"] == getattr(protocol, name), name


MISALIGNED_LOAD = """
#include <stdint.h>
#include <stdio.h>
#include <string.h>
static uint32_t word_at(const uint8_t *p) { return *(const uint32_t *)(const void *)p; }
int main(void) {
    static uint32_t storage[4];
    uint8_t *bytes = (uint8_t *)storage;
    memset(bytes, 7, sizeof storage);
    printf("%u\\n", (unsigned)word_at(bytes + 1));
    return 0;
}
"""


def test_the_unit_tests_sanitizers_catch_a_misaligned_load(tmp_path):
    """The core's unit tests run with the flags of `make -C core san-flags`; those flags
    must turn the access that faults on Cortex-M0 and -mno-unaligned-access into an
    abort on the build machine (where it would pass silently)."""
    flags = subprocess.run(["make", "-s", "-C", str(CORE), "san-flags"], capture_output=True, text=True,
                           check=True).stdout.split()
    assert "-fsanitize=address,undefined,alignment" in flags
    source, binary = tmp_path / "misaligned.c", tmp_path / "misaligned"
    source.write_text(MISALIGNED_LOAD)
    subprocess.run(["cc", *flags, str(source), "-o", str(binary)], check=True)
    proc = subprocess.run([str(binary)], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "misaligned address" in proc.stderr
