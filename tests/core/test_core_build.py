"""Builds of the C core: warning-free for the host and for Cortex-M3, no heap, no static RAM,
and header constants equal to harness/protocol.py."""

import re
import subprocess

import pytest

from harness import protocol

from core_support import BUILD, CORE, SOURCES, make

HEAP = {"malloc", "calloc", "realloc", "free", "aligned_alloc", "posix_memalign", "strdup", "strndup"}
#: the only outside symbols the core may use: string/memory functions and compiler helpers.
ALLOWED = {"memcpy", "memmove", "memset", "memcmp", "memchr", "strlen"}
TOOLS = {"host": "nm", "arm": "arm-none-eabi-nm"}


@pytest.fixture(scope="module", params=["host", "arm"])
def objects(request):
    """Objects built by `make -C core host|arm` (-std=c99 -Wall -Wextra -Werror -pedantic;
    arm: -mcpu=cortex-m3 -mthumb -Os). A warning fails the build, so this fixture is the
    warning-free check."""
    make(request.param)
    objs = [BUILD / request.param / (src.stem + ".o") for src in SOURCES]
    assert all(o.is_file() for o in objs)
    return request.param, objs


def undefined_symbols(tool, obj):
    out = subprocess.run([tool, "-u", str(obj)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def test_no_object_references_the_heap_and_only_memory_functions_are_used(objects):
    kind, objs = objects
    internal = {sym for obj in objs for sym in defined_symbols(TOOLS[kind], obj)}
    for obj in objs:
        used = undefined_symbols(TOOLS[kind], obj) - internal
        assert not used & HEAP, f"{obj.name} references {sorted(used & HEAP)}"
        outside = {s for s in used if s not in ALLOWED and not s.startswith("__aeabi_")}
        assert not outside, f"{obj.name} uses {sorted(outside)}"


def defined_symbols(tool, obj):
    out = subprocess.run([tool, "--defined-only", str(obj)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def test_the_core_has_no_static_ram_on_cortex_m3():
    make("arm")
    out = subprocess.run(["arm-none-eabi-size", "-A", *[str(BUILD / "arm" / (s.stem + ".o")) for s in SOURCES]],
                         capture_output=True, text=True, check=True).stdout
    ram = sum(int(size) for name, size, *_ in (line.split() for line in out.splitlines() if line.startswith(".")
                                              and len(line.split()) >= 2)
              if name.startswith((".data", ".bss")))
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
