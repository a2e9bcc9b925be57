"""Per-test coverage inside the host board's agent (harness/mutation/coverage.py).

Copied next to the ``--coverage`` build of ``_honch_core``, which is first on
``PYTHONPATH`` of the coverage run, so every Python process of the run imports it;
only the agent acts. A thread follows the test the pytest side announces in
``$HONCH_MUTATION_PROBE/current`` ("<seq> <nodeid>"): when it changes, the core's
gcov counters are written and moved to the finished test's directory and reset,
coverage.py switches its dynamic context to the new test, and ``ack`` gets the seq.
The board driver stops the agent with SIGTERM; that becomes a normal exit so
coverage.py saves its data.
"""
import atexit
import hashlib
import os
import signal
import sys
import threading
import time

PROBE = os.environ.get("HONCH_MUTATION_PROBE")


def test_dir_name(nodeid):
    return hashlib.sha1(nodeid.encode()).hexdigest()[:16]


def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            seq, _, nodeid = f.read().partition(" ")
            return int(seq), nodeid
    except (OSError, ValueError):
        return 0, ""


class Probe:
    def __init__(self, probe_dir):
        self.dir = probe_dir
        self.live = os.environ["GCOV_PREFIX"]
        self.flushes = 0
        self.lock = threading.Lock()
        self.seq, self.nodeid = _read(os.path.join(probe_dir, "current"))
        import coverage

        # coverage.py's own .pth hook may have started it already (then this returns None)
        self.cov = coverage.process_startup() or coverage.Coverage.current()
        if self.cov is not None:
            self.cov.switch_context(self.nodeid)

    def gcov_flush(self):
        mod = sys.modules.get("_honch_core")
        if mod is None:
            return
        import ctypes

        ctypes.CDLL(mod.__file__).honch_mutation_gcov_flush()

    def flush(self):
        """Attribute everything counted since the last switch to ``self.nodeid``."""
        with self.lock:
            self.gcov_flush()
            if not self.nodeid:
                return
            self.flushes += 1
            target = os.path.join(self.dir, "tests", test_dir_name(self.nodeid), "%d-%d" % (os.getpid(), self.flushes))
            for base, _, files in os.walk(self.live):
                for name in files:
                    if name.endswith(".gcda"):
                        dest = os.path.join(target, os.path.relpath(base, self.live))
                        os.makedirs(dest, exist_ok=True)
                        os.replace(os.path.join(base, name), os.path.join(dest, name))

    def follow(self):
        while True:
            time.sleep(0.005)
            seq, nodeid = _read(os.path.join(self.dir, "current"))
            if seq == self.seq:
                continue
            self.flush()
            self.seq, self.nodeid = seq, nodeid
            if self.cov is not None:
                self.cov.switch_context(nodeid)
            tmp = os.path.join(self.dir, "ack.%d" % os.getpid())
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(str(seq))
            os.replace(tmp, os.path.join(self.dir, "ack"))


if PROBE and sys.argv and sys.argv[0].endswith("honch_agent.py"):
    _probe = Probe(PROBE)
    with open(os.path.join(PROBE, "agents", str(os.getpid())), "w") as _f:
        _f.write("")
    atexit.register(lambda: os.path.exists(os.path.join(PROBE, "agents", str(os.getpid())))
                    and os.remove(os.path.join(PROBE, "agents", str(os.getpid()))))
    atexit.register(_probe.flush)
    threading.Thread(target=_probe.follow, daemon=True, name="honch-mutation-probe").start()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
