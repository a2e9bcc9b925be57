"""Helpers of the host SDK tests: configuration for the capture tenant, a fake clock,
decoding what the tenant received. Fixtures are in conftest.py."""

import os

from harness import protocol
from harness.wire import decode_frames, parse_frame

#: a valid wall clock (contract 5) for fake-clock tests: 2023-11-14T22:13:20Z
FAKE_EPOCH_MS = 1_700_000_000_000


class FakePlatform:
    """The ``platform`` host hook: a monotonic clock the test moves by hand and a
    wall clock that follows it from ``FAKE_EPOCH_MS`` (or reads 0 = unknown)."""

    def __init__(self, now=1000, wall_valid=True):
        self.now = now
        self.wall_valid = wall_valid

    def monotonic_ms(self):
        return self.now

    def wall_ms(self):
        return FAKE_EPOCH_MS + self.now if self.wall_valid else 0

    def random_bytes(self, n):
        return os.urandom(n)

    def advance(self, ms):
        self.now += ms


def base_config(capture, **overrides):
    config = {
        "api_key": capture.key,
        "device_id": "dev-host-1",
        "device_model": "host-test",
        "firmware_version": "1.0.0",
        "event_buffer": bytearray(16384),
        "endpoint_url": capture.endpoint,
        # Uploads happen only when a test asks for them: no spacing window, no
        # automatic threshold or interval flush.
        "flush_min_interval_ms": protocol.SPACING_DISABLED,
        "flush_event_threshold": 1000,
        "flush_interval_seconds": 3600,
        "transport_timeout_ms": 5000,
    }
    config.update(overrides)
    return config


def capture_requests(capture):
    """Recorded /capture requests only (the log also holds nothing else today, but be exact)."""
    return [r for r in capture.requests() if r["path"].endswith(protocol.CAPTURE_PATH)]


def request_bodies(capture):
    return [bytes.fromhex(r["body_hex"]) for r in capture_requests(capture)]


def sent_messages(capture):
    """Decode every complete message the tenant received (frames grouped by message id, in order)."""
    messages = []
    pending = []
    for body in request_bodies(capture):
        frame = parse_frame(body)
        if frame.kind in ("single", "init"):
            pending = [body]
        else:
            pending.append(body)
        if frame.kind in ("single", "final"):
            messages.append(decode_frames(pending))
            pending = []
    return messages


def event_names(capture):
    return [e["event"] for e in capture.events()]
