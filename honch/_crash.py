"""``$crash`` properties from a Python exception (contract 11.4).

MicroPython-compatible: frames come from ``sys.print_exception`` there and from
``exc.__traceback__`` on CPython; both list the outermost frame first.
"""

import sys

# Byte limits of contract 11.4; tests/host/test_host_crash.py checks them against
# harness.protocol (CRASH_MESSAGE_MAX_BYTES, CRASH_BACKTRACE_MAX_BYTES, ...).
MESSAGE_MAX_BYTES = 160
BACKTRACE_MAX_BYTES = 192
BACKTRACE_SEPARATOR = " <- "


def cut_utf8(text, max_bytes):
    """The longest prefix of ``text`` of at most ``max_bytes`` UTF-8 bytes ending on a character boundary."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    end = max_bytes
    while end > 0 and (data[end] & 0xC0) == 0x80:  # a continuation byte: not a boundary
        end -= 1
    return data[:end].decode("utf-8")


def _basename(path):
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[cut + 1:] if cut >= 0 else path


def _frames_cpython(exc):
    tb = getattr(exc, "__traceback__", None)
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append((code.co_filename, tb.tb_lineno, code.co_name))
        tb = tb.tb_next
    return frames


def _frames_micropython(exc):
    import io
    buf = io.StringIO()
    sys.print_exception(exc, buf)
    frames = []
    for line in buf.getvalue().split("\n"):
        line = line.strip()
        # '  File "app.py", line 12, in read_sensor'
        if not line.startswith('File "'):
            continue
        close = line.find('"', 6)
        if close < 0:
            continue
        filename = line[6:close]
        lineno = None
        func = "?"
        for part in line[close + 1:].split(","):
            part = part.strip()
            if part.startswith("line "):
                try:
                    lineno = int(part[5:])
                except ValueError:
                    lineno = None
            elif part.startswith("in "):
                func = part[3:]
        frames.append((filename, lineno, func))
    return frames


def exception_frames(exc):
    """``[(file, line or None, function), ...]`` outermost first."""
    if hasattr(exc, "__traceback__"):
        return _frames_cpython(exc)
    if hasattr(sys, "print_exception"):
        return _frames_micropython(exc)
    return []


def format_backtrace(frames):
    """Innermost-first ``file:line in func`` joined by `` <- ``, the most leading frames
    within the byte budget; None when not even the crash site fits."""
    text = None
    used = 0
    for filename, lineno, func in reversed(frames):
        if not lineno:  # MicroPython reports 0 when line numbers are compiled out
            lineno = "?"
        frame = "%s:%s in %s" % (_basename(filename), lineno, func)
        size = len(frame.encode("utf-8"))
        if text is not None:
            size += len(BACKTRACE_SEPARATOR)
        if used + size > BACKTRACE_MAX_BYTES:
            break
        text = frame if text is None else text + BACKTRACE_SEPARATOR + frame
        used += size
    return text


def crash_properties(exc, skip_outer_frames=0):
    """The properties handed to ``_honch_core.Client.report_crash`` for ``exc``.

    ``skip_outer_frames`` drops the wrapper's own frames (``run()``) from the top.
    """
    props = {"source": "exception", "severity": "fatal", "exception_cause": type(exc).__name__}
    try:
        message = cut_utf8(str(exc), MESSAGE_MAX_BYTES)
    except Exception:  # a broken __str__ must not stop the report
        message = ""
    if message:
        props["message"] = message
    frames = exception_frames(exc)[skip_outer_frames:]
    backtrace = format_backtrace(frames)
    if backtrace is not None:
        props["backtrace"] = backtrace
    return props
