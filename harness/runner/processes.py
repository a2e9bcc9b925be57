"""Every process a run starts, found and ended: board processes (QEMU, firmware, agents,
exporters) live in sessions of their own, so the run's process group does not reach them.

``become_subreaper`` makes orphans of the run (a board process whose worker died)
children of the run instead of init, so ``descendants`` still finds them.
``Interruption`` turns SIGINT/SIGTERM into a stop of the pytest a command runs (or a
``KeyboardInterrupt`` before it runs), for ``honch-hil run`` and ``honch-hil boards``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time

PR_SET_CHILD_SUBREAPER = 36
#: seconds pytest gets to tear down after an interruption before everything is killed
#: (its session teardown alone takes ~1.5 s on the host board; boards, locks and labgrid
#: places are released there); a second signal kills at once
STOP_GRACE = 10.0


def become_subreaper() -> bool:
    """Linux: orphaned descendants are re-parented to this process (False elsewhere)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _process_table():
    """(pid, state, parent pid) of every process /proc shows."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        yield int(entry), fields[0], int(fields[1])


def _parents() -> dict[int, int]:
    """pid -> parent pid of every live (non-zombie) process."""
    return {pid: parent for pid, state, parent in _process_table() if state != "Z"}


def descendants(pid: int) -> list[int]:
    """Live descendants of ``pid`` (children first)."""
    parents = _parents()
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop(0)
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def alive(pid: int) -> bool:
    return pid in _parents()


def kill_all(pids, sig=signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _zombie_children() -> list[int]:
    """This process's children that have exited and wait to be collected."""
    me = os.getpid()
    return [pid for pid, state, parent in _process_table() if state == "Z" and parent == me]


def reap(spare=()) -> None:
    """Collect exited orphans re-parented to us (no zombies left behind), one by one: never
    ``spare`` (children whose exit status is someone else's, e.g. a ``Popen``'s, which
    would read 0 if it were collected here)."""
    spare = set(spare)
    for pid in _zombie_children():
        if pid in spare:
            continue
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def end_descendants(grace: float = 0.5, keep=(), spare=()) -> list[int]:
    """SIGTERM every remaining descendant of this process but ``keep`` (those it had
    before the run), SIGKILL what is left after ``grace``; returns the pids that had to be ended.
    Neither ``keep`` nor ``spare`` is collected (their exit status stays with their owner)."""
    keep = set(keep)
    spare = keep | set(spare)
    left = [p for p in descendants(os.getpid()) if p not in keep]
    if not left:
        reap(spare)
        return []
    kill_all(left, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in left):
        reap(spare)
        time.sleep(0.02)
    kill_all([p for p in left if alive(p)], signal.SIGKILL)
    reap(spare)
    return left


class Interruption:
    """SIGINT/SIGTERM while the run lasts: before pytest starts they raise
    KeyboardInterrupt; while it runs they stop it (``forward``), a second one at once."""

    def __init__(self):
        self.signal: str | None = None
        self.proc = None  # the subprocess.Popen of the pytest being run, once started
        self.deadline: float | None = None
        self._previous = {}

    def __enter__(self):
        if threading_main():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        first = self.signal is None
        self.signal = self.signal or signal.Signals(signum).name
        if self.proc is None:
            raise KeyboardInterrupt(self.signal)
        if first:
            signal_group(self.proc, signal.SIGTERM)  # the plugin turns it into KeyboardInterrupt everywhere
            self.deadline = time.monotonic() + STOP_GRACE
        else:
            self.deadline = time.monotonic()

    def overdue(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


def threading_main() -> bool:
    return threading.current_thread() is threading.main_thread()


def signal_group(proc, sig) -> None:
    """``sig`` to the process group ``proc`` leads (a pytest started with a session of its own)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
