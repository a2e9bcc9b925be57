"""Mutant: crash backtraces list the outermost frame first (C34)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mutantlib  # noqa: E402
from honch import _crash  # noqa: E402


def outermost_first(frames):
    """The wrapper's format_backtrace without its reversed(): the classic mistake."""
    text, used = None, 0
    for filename, lineno, func in frames:
        frame = "%s:%s in %s" % (_crash._basename(filename), lineno or "?", func)
        size = len(frame.encode("utf-8")) + (len(_crash.BACKTRACE_SEPARATOR) if text is not None else 0)
        if used + size > _crash.BACKTRACE_MAX_BYTES:
            break
        text = frame if text is None else text + _crash.BACKTRACE_SEPARATOR + frame
        used += size
    return text


_crash.format_backtrace = outermost_first
mutantlib.activate("crash_outermost_first")
