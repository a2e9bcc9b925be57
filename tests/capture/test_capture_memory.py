"""Memory bounds that hold: what the caps count is what is held, the server-wide budget
evicts the oldest data across tenants, idle partials expire, deleting frees, and the
process's RSS stays within the figure docs/capture.md gives."""

from __future__ import annotations

import time

from capture_helpers import FakeClock, exchange, post, request_bytes, vector
from harness import wire
from harness.capture import CaptureServer, ControlClient

CONTEXT = [(i, f"v{i}") for i in range(1, 8)]
VALID = bytes.fromhex(vector("single-required-context")["frames"][0]["hex"])
MANY = 20_000
BIG_LIMITS = {"events": MANY, "frame": 1 << 22, "message": 1 << 22}
#: docs/capture.md "Memory bounds": RSS stays below start + 1.25 x --max-memory + 24 MiB
RSS_FACTOR, RSS_SLACK = 1.25, 24 << 20


def many_events(message_id: int, n: int = MANY) -> bytes:
    events = [wire.Event("tick", i, [("n", i)]) for i in range(n)]
    return wire.encode_frame("single", message_id, wire.encode_message(wire.Message(1_700_000_000_000, CONTEXT, events)))


def init_frame(message_id: int, payload: bytes, total: int = 1 << 20) -> bytes:
    return wire.encode_frame("init", message_id, payload, total_length=total)


def memory(control) -> dict:
    return control.health()["memory"]


def test_budget_evicts_the_oldest_data_across_tenants():
    # 20 000 events hold ~8.5 MB: four such requests do not fit in 24 MiB
    with CaptureServer(max_memory=24 << 20) as server, ControlClient(server.url) as control:
        old = control.create_tenant("old-tenant", limits=BIG_LIMITS)
        new = control.create_tenant("new-tenant", limits=BIG_LIMITS)
        big = many_events(1)
        assert post(server.port, big, key="old-tenant").status == 204
        for stream in range(3):
            assert post(server.port, big, key="new-tenant", stream_id=f"{stream:08x}").status == 204
        used = memory(control)
        assert used["used"] <= used["max"] and used["evicted"] > 0
        # the old tenant's data went first; the newest request of the new one is whole
        assert old.info()["events"] == 0
        assert 0 < new._call("GET", "/events?limit=1")["dropped"] < MANY
        assert new.events()[-1]["properties"]["n"] == MANY - 1


def test_request_log_counts_heads_and_bodies(server, control):
    tenant = control.create_tenant("test-key")
    before = memory(control)["used"]
    for _ in range(10):
        exchange(server.port, request_bytes(b"x" * 60_000, port=server.port))
    grown = memory(control)["used"] - before
    assert 10 * 60_000 < grown < 10 * 62_000   # bodies once, not as hex, plus the heads
    tenant.delete()
    assert memory(control)["used"] == 0


def test_partials_count_their_frames_and_expire_on_an_idle_tenant():
    clock = FakeClock()
    with CaptureServer(clock=clock, partial_ttl=60) as server, ControlClient(server.url) as control:
        tenant = control.create_tenant("test-key")
        assert post(server.port, init_frame(1, b"a" * 1000, 100_000)).status == 202
        with_init = tenant.info()["memory"]["partials"]
        assert 1000 < with_init < 1500   # the payload once, not the init frame as well
        for offset in range(1000, 1200):
            assert post(server.port, wire.encode_frame("middle", 1, b"b", offset=offset)).status == 202
        per_frame = (tenant.info()["memory"]["partials"] - with_init) / 200
        assert per_frame > 100           # a 1-byte frame's bookkeeping is counted, not 1 byte
        clock.advance(61)                # no request from now on: only the periodic sweep can free it
        deadline = time.monotonic() + 10
        while tenant.info()["memory"]["partials"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tenant.info()["memory"]["partials"] == 0
        assert post(server.port, wire.encode_frame("middle", 1, b"b", offset=1200)).status == 409


def test_deleting_a_tenant_frees_its_memory(server, control):
    tenant = control.create_tenant("test-key", limits=BIG_LIMITS)
    assert post(server.port, many_events(1)).status == 204
    assert post(server.port, init_frame(2, b"a" * 50_000)).status == 202
    assert memory(control)["used"] > MANY * 300
    tenant.delete()
    assert memory(control)["used"] == 0


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_rss_stays_within_the_documented_bound_when_every_bound_is_exceeded(serve):
    max_memory = 32 << 20
    served = serve("--quiet", "--open", "--max-memory", "32M")
    control = ControlClient(served.url)
    assert post(served.port, VALID, key="warm-up").status == 204
    start = rss_bytes(served.process.pid)
    limit = start + RSS_FACTOR * max_memory + RSS_SLACK
    peaks = {}
    # stored events: 200 000 over several tenants, 2.5x the bound
    for n in range(10):
        key = f"events-{n % 3}"
        if n < 3:
            control.create_tenant(key, limits=BIG_LIMITS)
        assert post(served.port, many_events(n + 1), key=key).status == 204
    peaks["events"] = rss_bytes(served.process.pid)
    # request logs: 60 KB bodies, 1.5x the bound
    for n in range(800):
        exchange(served.port, request_bytes(b"x" * 60_000, key=f"log-{n % 7}", port=served.port))
    peaks["request logs"] = rss_bytes(served.process.pid)
    # partials: large init frames, and 1-byte middle frames
    for n in range(700):
        assert post(served.port, init_frame(n + 1, b"p" * 60_000), key=f"partial-{n % 5}").status == 202
    for offset in range(1, 2000):
        assert post(served.port, wire.encode_frame("middle", 1, b"m", offset=60_000 + offset - 1),
                    key="partial-0").status in (202, 409)
    peaks["partials"] = rss_bytes(served.process.pid)
    used = memory(control)
    control.close()
    print(f"RSS start {start >> 20} MiB, bound {int(limit) >> 20} MiB, peaks " +
          ", ".join(f"{what} {rss >> 20} MiB" for what, rss in peaks.items()))
    assert used["used"] <= used["max"] and used["evicted"] > 0
    over = {what: rss for what, rss in peaks.items() if rss > limit}
    assert not over, (f"RSS above start {start >> 20} MiB + {RSS_FACTOR} x {max_memory >> 20} MiB + "
                      f"{RSS_SLACK >> 20} MiB = {int(limit) >> 20} MiB: " +
                      ", ".join(f"{what} {rss >> 20} MiB" for what, rss in over.items()))
