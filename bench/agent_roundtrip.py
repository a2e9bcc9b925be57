"""Round trip of agent calls on every emulated board, against mpremote's raw REPL.

For each board: a no-op (``ping``) and ``track()`` through the agent, median and p95
in milliseconds. On boards with a raw REPL (QEMU, serial) the same operations also
run as mpremote raw-REPL ``exec`` calls (raw-paste mode, a ``SerialTransport`` on the
same open pty): same board, same run, in BLOCKS alternating blocks (the agent leaves
with its ``exit`` op, the raw REPL takes over, the agent is started again; short
blocks, so that bursts of load from other jobs fall on both paths alike), and the
ratio agent / raw REPL is printed; target <= 1.0 for both (issue 14, item 5).
``track()`` runs against an SDK client whose endpoint is never contacted (a large
flush threshold and interval), so it measures the link, the protocol and the SDK's
enqueue only.

``--profile`` adds where the agent's time goes on each raw-REPL board: the
host-side CPU per call (cProfile of the calls: JSON, the value codec, the byte
log, pyserial), the device-side cost of each step of a request (timed on the board
with the frozen agent: parsing the request line, the escape check, value decoding
(which the agent skips when the line holds no escape), the op, encoding and
emitting the reply, and handle() as a whole), and the bytes each exchange puts on
the wire.

    build/venv/bin/python bench/agent_roundtrip.py [--board NAME ...] [-n CALLS] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.agent.client import AgentClient, request  # noqa: E402
from harness.agent.codec import EventBuffer  # noqa: E402
from harness.boards.driver import START_AGENT, BoardDriver  # noqa: E402
from harness.boards.inventory import load_boards  # noqa: E402

EMULATED = ("host", "unix", "qemu")
RAW_REPL_KINDS = ("qemu", "serial")
TARGET_MEDIAN_MS = 15.0
TARGET_RATIO = 1.0
BLOCKS = 20
ECHO_BYTES = 200
PROPS = {"count": 1, "name": "sensor-1", "ok": True}
CONFIG = {"api_key": "bench-key", "device_id": "bench", "device_model": "bench", "firmware_version": "1.0.0",
          "endpoint_url": "http://127.0.0.1:9", "flush_event_threshold": 100000,
          "flush_interval_seconds": 3600, "max_queued_events": 50}
#: the raw REPL's equivalents: the same client and the same track() call
EVENT_BUFFER = 8192
RAW_SETUP = "import honch\nc = honch.Honch(event_buffer=bytearray(%d), **%r)\n" % (EVENT_BUFFER, CONFIG)
#: the raw REPL's client goes before the agent comes back (the GC heap holds one of them)
RAW_TEARDOWN = "del c\nimport gc\ngc.collect()"
RAW_NOOP = "pass"
RAW_TRACK = "c.track('sample', %r)" % (PROPS,)


def timed(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


# --- switching one board between the agent and the raw REPL ------------------------------

def init_agent_client(driver: BoardDriver) -> None:
    driver.call("init", dict(CONFIG, event_buffer=EventBuffer(EVENT_BUFFER)))
    for _ in range(10):  # warm up (imports, caches)
        driver.call("ping")


def leave_agent(driver: BoardDriver):
    """End the agent (its exit op); return mpremote's transport in the raw REPL with a client."""
    driver.call("exit")
    transport = driver.link.mpremote()
    # mpremote's own pty mode: blocking reads, not in_waiting polls with 10 ms sleeps
    # (what SerialTransport(pty) does; the fastest raw REPL mpremote offers)
    transport.is_pty = True
    transport.enter_raw_repl(soft_reset=False)  # also swallows the end of the agent's exec
    transport.exec(RAW_SETUP)
    for _ in range(10):
        transport.exec(RAW_NOOP)
    return transport


def resume_agent(driver: BoardDriver, transport) -> None:
    transport.exec(RAW_TEARDOWN)
    transport.exec_raw_no_follow(START_AGENT)
    driver.agent = AgentClient(driver.link, driver.name, driver.spec.op_timeout, driver.tether)
    driver.agent.wait_ready(driver.spec.start_timeout)
    init_agent_client(driver)


def measure_agent(driver: BoardDriver, n: int) -> dict[str, list[float]]:
    return {"no-op": timed(lambda: driver.call("ping"), n),
            "track()": timed(lambda: driver.call("track", "sample", PROPS), n)}


def measure_raw(transport, n: int) -> dict[str, list[float]]:
    return {"no-op": timed(lambda: transport.exec(RAW_NOOP), n),
            "track()": timed(lambda: transport.exec(RAW_TRACK), n)}


def bench_board(spec, n: int, artifacts: Path, profile: bool) -> tuple[dict, dict, dict | None]:
    """Samples per (path, call): path "agent" or "raw REPL"; plus the profile if asked."""
    driver = BoardDriver(spec, artifacts)
    driver.log_to("bench")
    samples: dict = {}
    profiled = None
    raw = spec.kind in RAW_REPL_KINDS
    try:
        driver.start()
        init_agent_client(driver)
        per_block = max(1, n // BLOCKS) if raw else n
        for _ in range(BLOCKS if raw else 1):
            for call, values in measure_agent(driver, per_block).items():
                samples.setdefault(("agent", call), []).extend(values)
            if raw:
                transport = leave_agent(driver)
                for call, values in measure_raw(transport, per_block).items():
                    samples.setdefault(("raw REPL", call), []).extend(values)
                resume_agent(driver, transport)
        if profile and raw:
            profiled = profile_board(driver, per_block)
        return samples, {"per_block": per_block, "blocks": BLOCKS if raw else 1}, profiled
    finally:
        driver.stop()


# --- profile ------------------------------------------------------------------------------

#: Runs on the board with the frozen agent: each step of a request, timed with ticks_us.
DEVICE_PROFILE = r"""
import io, json, time, honch_agent
agent = honch_agent.Agent(stdout=io.BytesIO())
agent._stream = honch_agent._STREAM_REPLIES  # a native stream: replies as on the console
agent.handle([1, "init", [dict(%(config)r, event_buffer=bytearray(%(buffer)d))], None], False)
lines = {"no-op": %(ping)r, "track()": %(track)r}
K = %(k)d
def per_call(fn):
    t = time.ticks_us()
    for _ in range(K):
        fn()
    return time.ticks_diff(time.ticks_us(), t) / K
out = {}
for call, line in lines.items():
    line = line.rstrip(b"\n")
    msg = agent.request(line)
    args = msg[2] or []
    kwargs = msg[3] or {}
    method = getattr(agent, "op_" + msg[1], None) or getattr(agent.client, msg[1])
    result = method(*args, **kwargs)
    reply = [None] if result is None else [None, honch_agent.encode_value(result)]  # an id-less request's
    text = honch_agent.PREFIX + honch_agent._dumps(reply) + "\n"
    out[call] = {
        "parse_request": per_call(lambda: agent.request(line)),
        "escape_check": per_call(lambda: honch_agent._has_escape(line)),
        "decode_value": per_call(lambda: (agent.decode_value(args), agent.decode_value(kwargs))),
        "op": per_call(lambda: method(*args, **kwargs)),
        "encode_reply": per_call(lambda: agent.emit(
            [None] if result is None else [None, honch_agent.encode_value(result)])),
        "handle_whole": per_call(lambda: agent.handle(agent.request(line), honch_agent._has_escape(line))),
        "reply_bytes": len(text),
        "escapes": honch_agent._has_escape(line),
    }
out["raw REPL: compile+exec 'pass'"] = per_call(lambda: exec(compile("pass", "<stdin>", "exec")))
out["raw REPL: compile+exec track"] = per_call(lambda: exec(compile(%(raw_track)r, "<stdin>", "exec"),
                                                             {"c": agent.client}))
print("@@PROFILE@@ " + json.dumps(out))
"""


def host_cpu_ms(fn, n: int) -> float:
    """CPU time of this process per call (the rest of the wall time is waiting for the board)."""
    began = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - began) * 1000 / n


def host_profile(fn, n: int) -> list[tuple[str, float]]:
    """cProfile of n calls: (function, ms per call of own time), the top entries."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        fn()
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, _, name), (_, _, tottime, _, _) in stats.stats.items():
        where = f"{Path(filename).parent.name}/{Path(filename).name}:{name}" if filename != "~" else name
        rows.append((where, tottime * 1000 / n))
    rows.sort(key=lambda r: -r[1])
    return rows[:8]


def count_bytes(driver: BoardDriver, fn) -> tuple[int, int]:
    """Bytes host->board and board->host while fn runs (the link's byte log sees all)."""
    counts = [0, 0]
    log = driver.link.log
    tx, rx = log.tx, log.rx
    log.tx = lambda data: (counts.__setitem__(0, counts[0] + len(data)), tx(data))[1]
    log.rx = lambda data: (counts.__setitem__(1, counts[1] + len(data)), rx(data))[1]
    try:
        fn()
    finally:
        log.tx, log.rx = tx, rx
    return counts[0], counts[1]


def profile_board(driver: BoardDriver, n: int) -> dict:
    ping = lambda: driver.call("ping")  # noqa: E731
    track = lambda: driver.call("track", "sample", PROPS)  # noqa: E731
    # The cost of a byte on the link: echo carries its payload both ways.
    short = summary(timed(lambda: driver.call("echo", ""), n))[0]
    long = summary(timed(lambda: driver.call("echo", "x" * ECHO_BYTES), n))[0]
    wall = {"agent no-op": summary(timed(ping, n))[0], "us per byte": (long - short) * 1000 / (2 * ECHO_BYTES)}
    wall["host CPU agent no-op"] = host_cpu_ms(ping, n)
    wall["host CPU agent track()"] = host_cpu_ms(track, n)
    profile = {"host agent no-op": host_profile(ping, n), "host agent track()": host_profile(track, n),
               "bytes agent no-op": count_bytes(driver, ping), "bytes agent track()": count_bytes(driver, track)}
    transport = leave_agent(driver)
    raw_noop = lambda: transport.exec(RAW_NOOP)  # noqa: E731
    raw_track = lambda: transport.exec(RAW_TRACK)  # noqa: E731
    wall["host CPU raw no-op"] = host_cpu_ms(raw_noop, n)
    wall["host CPU raw track()"] = host_cpu_ms(raw_track, n)
    profile["host raw no-op"] = host_profile(raw_noop, n)
    profile["bytes raw no-op"] = count_bytes(driver, raw_noop)
    profile["bytes raw track()"] = count_bytes(driver, raw_track)
    requests = {"ping": request(None, "ping"), "track": request(None, "track", ("sample", PROPS))}
    code = DEVICE_PROFILE % {"config": CONFIG, "ping": requests["ping"], "track": requests["track"], "k": 50,
                             "raw_track": RAW_TRACK, "buffer": EVENT_BUFFER}
    out, err = (part.decode() for part in transport.exec_raw(code, timeout=120))
    if err:
        raise RuntimeError(f"the device-side profile failed on {driver.name}:\n{err}")
    line = next(x for x in out.splitlines() if x.startswith("@@PROFILE@@ "))
    profile["device"] = json.loads(line[len("@@PROFILE@@ "):])
    profile["wall"] = wall
    resume_agent(driver, transport)
    return profile


def print_profile(name: str, profile: dict) -> None:
    print(f"\nprofile of {name}:")
    for key in ("host agent no-op", "host agent track()", "host raw no-op"):
        top = ", ".join(f"{where} {ms:.3f}" for where, ms in profile[key][:6])
        print(f"  {key:<20} host CPU ms/call by function (own time): {top}")
    for key in ("bytes agent no-op", "bytes agent track()", "bytes raw no-op", "bytes raw track()"):
        sent, received = profile[key]
        print(f"  {key:<20} {sent:>6} B host->board, {received:>6} B board->host per call")
    device = profile["device"]
    for call in ("no-op", "track()"):
        d = device[call]
        skipped = "" if d["escapes"] else " (skipped: no escape in the line)"
        print(f"  device {call:<8} us/call: parse request {d['parse_request']:.0f}, "
              f"escape check {d['escape_check']:.0f}, decode_value {d['decode_value']:.0f}{skipped}, "
              f"op {d['op']:.0f}, encode+emit reply {d['encode_reply']:.0f}; "
              f"handle() whole {d['handle_whole']:.0f} (reply {d['reply_bytes']} B + the console's \\r)")
    print("  host CPU ms/call: " + ", ".join(f"{k[9:]} {v:.3f}" for k, v in profile["wall"].items()
                                               if k.startswith("host CPU")))
    print(f"  link: {profile['wall']['us per byte']:.1f} us per byte (echo of {ECHO_BYTES} characters each way)")
    print(f"  device raw-REPL equivalents us/call: compile+exec 'pass' {device[next(k for k in device if 'pass' in k)]:.0f}, "
          f"compile+exec track {device[next(k for k in device if 'exec track' in k)]:.0f}")


# --- main -------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", action="append", default=[], help="board name (default: emulated boards)")
    parser.add_argument("-n", type=int, default=300, help="calls per measurement (default 300)")
    parser.add_argument("--profile", action="store_true", help="also profile where the agent's time goes")
    args = parser.parse_args(argv)
    boards = load_boards()
    names = args.board or [n for n, s in boards.items() if s.kind in EMULATED and s.enabled]
    print(f"{'board':<15} {'path':<9} {'call':<8} {'median ms':>10} {'p95 ms':>8}")
    verdicts, profiles = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            try:
                samples, _, profiled = bench_board(boards[name], args.n, Path(tmp), args.profile)
            except Exception as exc:  # report the board, go on with the others
                print(f"{name:<15} unavailable: {str(exc).splitlines()[0]}")
                continue
            medians = {}
            for (path, call), values in samples.items():
                median, p95 = summary(values)
                medians[path, call] = median
                print(f"{name:<15} {path:<9} {call:<8} {median:>10.2f} {p95:>8.2f}", flush=True)
            if boards[name].kind == "qemu":
                no_op = medians["agent", "no-op"]
                verdicts.append(f"{name}: agent no-op median {no_op:.2f} ms "
                                f"({'meets' if no_op <= TARGET_MEDIAN_MS else 'misses'} the {TARGET_MEDIAN_MS:g} ms target)")
            for call in ("no-op", "track()"):
                if ("raw REPL", call) in medians:
                    ratio = medians["agent", call] / medians["raw REPL", call]
                    verdicts.append(f"{name}: agent/raw-REPL {call} = {ratio:.2f}x "
                                    f"(target <= {TARGET_RATIO:g}: {'met' if ratio <= TARGET_RATIO else 'MISSED'})")
            if profiled:
                profiles.append((name, profiled))
    for verdict in verdicts:
        print(verdict)
    for name, profiled in profiles:
        print_profile(name, profiled)
    return 0


if __name__ == "__main__":
    sys.exit(main())
