"""Bytes on the wire per event: wire v2 against the same events as JSON.

One host client (``honch.Honch`` over ``_honch_core``) sends a batch of 50
``track("sample", {"count": i})`` events, one second apart on a fake clock, in one
message to an in-process capture server. Measured:

* wire: the request body the server received (the whole frame), divided by 50;
* JSON: the events the server expanded from it (``expanded_event_json`` shape:
  event, distinct_id, timestamp and properties with the promoted context), as
  compact ``json.dumps``, divided by 50.

Prints both and the ratio JSON / wire. Deterministic: the clock, the ids and the
values are fixed, so the figures only change when the encoding does.

Usage: ``build/venv/bin/python bench/wire_bytes.py``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import honch  # noqa: E402
from harness import protocol  # noqa: E402
from harness.capture import CaptureServer, ControlClient  # noqa: E402
from harness.wire import parse_frame  # noqa: E402

EVENTS = protocol.MAX_BATCH_SIZE  # 50: one full batch
EVENT_SPACING_MS = 1000
EPOCH_MS = 1_700_000_000_000


class SteppingClock:
    """The ``platform`` host hook: a clock the benchmark moves, fixed random bytes."""

    def __init__(self):
        self.now = 1000

    def monotonic_ms(self):
        return self.now

    def wall_ms(self):
        return EPOCH_MS + self.now

    def random_bytes(self, n):
        return bytes((0x5A + i) % 256 for i in range(n))


def measure() -> dict:
    clock = SteppingClock()
    with CaptureServer() as server:
        control = ControlClient(server.url)
        tenant = control.tenant("bench-wire-bytes")
        tenant.reset()
        client = honch.Honch._with_port_hooks(
            {"platform": clock},
            api_key=tenant.key, device_id="bench-device-0001", device_model="bench-model",
            firmware_version="1.0.0", event_buffer=bytearray(32768), endpoint_url=control.endpoint,
            batch_size=EVENTS, flush_event_threshold=EVENTS + 1, flush_min_interval_ms=protocol.SPACING_DISABLED,
        )
        try:
            client.reset()  # leave only the benchmark's events in the queue
            for i in range(EVENTS):
                client.track("sample", {"count": i})
                clock.now += EVENT_SPACING_MS
            client.flush()
        finally:
            client.shutdown()
        requests = [r for r in tenant.requests() if r["path"].endswith(protocol.CAPTURE_PATH)]
        first = requests[0]
        body = bytes.fromhex(first["body_hex"])
        events = [{k: v for k, v in e.items() if k != "_meta"} for e in tenant.events()][:EVENTS]
        tenant.delete()
        control.close()
    if first["status"] != 204 or len(events) != EVENTS or parse_frame(body).kind != "single":
        raise SystemExit(f"unexpected upload: status {first['status']}, {len(events)} events stored")
    json_bytes = len(json.dumps(events, separators=(",", ":")).encode("utf-8"))
    return {"wire": len(body), "json": json_bytes}


def main() -> int:
    figures = measure()
    wire_per_event = figures["wire"] / EVENTS
    json_per_event = figures["json"] / EVENTS
    print(f"wire_bytes: {EVENTS}-event batch of track('sample', {{'count': i}}), events {EVENT_SPACING_MS} ms apart")
    print(f"  wire v2 request body : {figures['wire']:6d} B  = {wire_per_event:7.2f} B/event")
    print(f"  same events as JSON  : {figures['json']:6d} B  = {json_per_event:7.2f} B/event")
    print(f"  ratio JSON / wire    : {json_per_event / wire_per_event:6.1f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
