"""Fuzzing the server over real sockets with mutated and random input.

10 000 frame requests: valid messages (upstream vectors and generated ones),
some of them corrupted before framing (so that the CRC is right and only strict
decoding can refuse them), chunked at random frame sizes and sent as frame
sequences, most of them mutated (bit flips, byte edits, insertions, deletions,
truncations, splices, dropped, repeated or reordered frames). Then 2 000 mutated whole requests and 500
random byte strings. The server runs in its own process so that the load is
real; clients run 16 sequential workers, each in its own stream-id namespace.

What must hold:

* every answer is 202, 204 or a 4xx — never a 5xx, never silence;
* 202 only for init/middle frames, 204 only for single/final frames;
* an unmutated sequence on a fresh message id is answered 202… then 204;
* a single frame is answered 204 exactly when an independent check accepts it
  (the test's own W4.3 CRC over the payload, then strict decode + validation
  + byte-identical re-encoding);
* a mutated final frame is never answered 204, and a final frame is answered
  204 only when its (possibly corrupted) message passes the independent check;
* the stored events are exactly, in order per stream, the expansion of the
  messages whose last frame was answered 204;
* the server is healthy afterwards and still accepts a valid request.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys

import pytest

from capture_helpers import load_vectors, request_bytes
from harness import wire
from harness.capture import ControlClient
from harness.wire import F32, F64, Event, Int, Map, Message, UInt

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("HONCH_HIL_FUZZ_SEED", "20240601"))
FRAME_REQUESTS = 10_000
HEAD_REQUESTS = 2_000
GARBAGE_REQUESTS = 500
WORKERS = 16
KEY = "fuzz-key"
INIT, MIDDLE, SINGLE, FINAL = 0x42, 0x62, 0x02, 0x22


# -- the independent check -------------------------------------------------------------

def reference_crc16(data: bytes) -> int:
    """W4.3 CRC-16/CCITT-FALSE, written from the spec for this test."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def reference_uvarint(data: bytes, pos: int) -> tuple[int, int] | None:
    value = shift = 0
    for i in range(10):
        if pos + i >= len(data):
            return None
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if i and byte == 0:
                return None  # not minimal
            return value, pos + i + 1
    return None


def single_frame_events(body: bytes) -> list[dict] | None:
    """The events a single frame must store, or None when it must be refused."""
    if not body or body[0] != SINGLE:
        return None
    field = reference_uvarint(body, 1)
    if field is None or field[0] > 0xFFFFFFFF:
        return None
    payload, crc = body[field[1]:-2], body[-2:]
    if len(body) - field[1] < 3 or reference_crc16(payload) != int.from_bytes(crc, "little"):
        return None
    return message_events(payload)


def message_events(payload: bytes) -> list[dict] | None:
    """The events a complete message must store, or None when it must be refused."""
    try:
        message = wire.decode_message(payload)
        wire.validate_message(message)
    except wire.WireError:
        return None
    assert wire.encode_message(message) == payload, "accepted payload is not canonical"
    return wire.expand_events(message)


# -- corpus and mutations --------------------------------------------------------------------

def corpus(rng: random.Random) -> list[bytes]:
    messages = []
    for case in load_vectors():
        if case["expected_capture_response_code"] == 204:
            messages.append(wire.reassemble(bytes.fromhex(f["hex"]) for f in case["frames"]))
    context = [(1, "user-1"), (2, "device-1"), (3, "model-x"), (4, "1.0.0"), (5, "posix"), (6, "0.1.0"),
               (7, "production"), (9, UInt(1))]

    def value(depth: int):
        kind = rng.randrange(9 if depth < 3 else 6)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind == 1:
            return UInt(rng.randrange(1 << rng.choice((7, 14, 32, 64))))
        if kind == 2:
            return Int(-rng.randrange(1, 1 << 40))
        if kind == 3:
            return F64(rng.uniform(-1e6, 1e6))
        if kind == 4:
            return F32(36.5)
        if kind == 5:
            return rng.choice(["auto", "hdr", "", "naïve ✓", "x" * rng.randrange(1, 80)])
        if kind in (6, 7):
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return Map([(f"m{i}", value(depth + 1)) for i in range(rng.randrange(3))])

    for _ in range(30):
        events = [Event(rng.choice(["boot", "sample", "tick", "$error"]), rng.randrange(-5000, 5000),
                        [(f"k{i}", value(0)) for i in range(rng.randrange(6))])
                  for _ in range(rng.randrange(1, 6))]
        messages.append(wire.encode_message(Message(1_700_000_000_000 + rng.randrange(10 ** 6), context, events)))
    for message in messages:
        wire.validate_message(wire.decode_message(message))  # the corpus itself is valid
    return messages


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(8)
        pos = rng.randrange(len(data)) if data else 0
        if op == 0 and data:
            data[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and data:
            data[pos] = rng.randrange(256)
        elif op == 2:
            data[pos:pos] = bytes([rng.randrange(256)])
        elif op == 3 and data:
            del data[pos]
        elif op == 4:
            del data[rng.randrange(len(data) + 1):]
        elif op == 5:
            data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
        elif op == 6 and data:
            data[0] = rng.choice((SINGLE, INIT, MIDDLE, FINAL, 0x06, 0x03, 0xC2))
        elif op == 7 and data:
            end = min(len(data), pos + rng.randrange(1, 6))
            data[pos:pos] = data[pos:end]
    return bytes(data)


def plan_sequence(rng: random.Random, messages: list[bytes], serial: int):
    """(frames with a 'mutated' flag, message, fresh) for one message delivery attempt."""
    message = rng.choice(messages)
    fresh = rng.random() < 0.3
    if not fresh and rng.random() < 0.4:
        # a corrupt message with a correct CRC: only strict decoding can refuse it
        message = mutate_bytes(message, rng) or message
    message_id = 1000 + serial if fresh else rng.randrange(3)
    max_frame = rng.choice((4096, 4096, rng.randrange(8, 40), max(8, len(message) // rng.randrange(2, 8))))
    chunks = wire.chunk(message, message_id, max_frame)
    if len(chunks) > 12:  # keep sequences short; the budget goes to variety
        chunks = wire.chunk(message, message_id, 4096)
    frames = [(frame, False) for frame in chunks]
    if not fresh:
        for _ in range(rng.randrange(1, 3)):
            op = rng.randrange(6)
            i = rng.randrange(len(frames))
            if op <= 2:
                mutated = mutate_bytes(frames[i][0], rng)
                frames[i] = (mutated, mutated != frames[i][0])
            elif op == 3 and len(frames) > 1:
                del frames[i]
            elif op == 4:
                frames.insert(i, frames[i])
            else:
                j = rng.randrange(len(frames))
                frames[i], frames[j] = frames[j], frames[i]
    return frames, message, fresh


# -- the server and the clients ---------------------------------------------------------------

@pytest.fixture
def served():
    process = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--port", "0", "--quiet",
                                "--read-timeout", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()
        port = int(re.search(r"port (\d+)", banner).group(1))
        yield port
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        assert "internal error" not in err, err


async def send(port: int, data: bytes, shut_write: bool = False) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        if shut_write:
            writer.write_eof()
        try:
            answer = await reader.read()
        except ConnectionResetError:
            answer = b""
    finally:
        writer.close()
    if not answer:
        return 0
    return int(answer.split(b" ", 2)[1])


async def frame_worker(port: int, worker: int, messages: list[bytes], budget: int, problems: list, expected: dict):
    rng = random.Random(SEED * 1000 + worker)
    sent = serial = 0
    while sent < budget:
        serial += 1
        stream_id = f"w{worker:02d}s{rng.randrange(3)}xx"
        frames, message, fresh = plan_sequence(rng, messages, serial)
        statuses = []
        for body, mutated in frames[: budget - sent]:
            status = await send(port, request_bytes(body, key=KEY, stream_id=stream_id, port=port))
            sent += 1
            statuses.append(status)
            where = f"worker {worker} sequence {serial} frame {body.hex()[:80]}: {status}"
            if not (status in (202, 204) or 400 <= status < 500):
                problems.append(f"not 202/204/4xx: {where}")
            header = body[0] if body else None
            if status == 202 and header not in (INIT, MIDDLE):
                problems.append(f"202 for a frame that cannot continue: {where}")
            if status == 204 and header not in (SINGLE, FINAL):
                problems.append(f"204 for a frame that cannot complete: {where}")
            if header == SINGLE:
                events = single_frame_events(body)
                if (status == 204) != (events is not None):
                    problems.append(f"single frame judged {status}, independent check says "
                                    f"{'valid' if events is not None else 'invalid'}: {where}")
                if status == 204 and events is not None:
                    expected.setdefault(stream_id, []).extend(events)
            elif status == 204:
                events = None if mutated else message_events(message)
                if events is None:
                    problems.append(f"{'mutated final frame' if mutated else 'invalid message'} accepted: {where}")
                else:
                    expected.setdefault(stream_id, []).extend(events)
        if fresh and len(statuses) == len(frames):
            if statuses != [202] * (len(frames) - 1) + [204]:
                problems.append(f"valid sequence on a fresh id answered {statuses} (worker {worker}, {serial})")


async def head_worker(port: int, worker: int, count: int, problems: list):
    rng = random.Random(SEED * 7 + worker)
    refused = bytes.fromhex(next(v for v in load_vectors() if v["name"] == "crc-failure")["frames"][0]["hex"])
    base = request_bytes(refused, key=KEY, port=port)
    for _ in range(count):
        data = mutate_bytes(base, rng)
        if rng.random() < 0.3:
            cut = rng.randrange(len(data) + 1)
            data = data[:cut] + rng.choice((b"\r\n", b"\n", b"\r", b":", b" ", b"\r\n\r\n", b"\x00")) + data[cut:]
        status = await send(port, data, shut_write=True)
        if not (400 <= status < 500 or (status == 0 and not data)):  # nothing sent, nothing to answer
            problems.append(f"mutated request answered {status}: {data[:120]!r}")


async def garbage_worker(port: int, worker: int, count: int, problems: list):
    rng = random.Random(SEED * 13 + worker)
    for _ in range(count):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        status = await send(port, data, shut_write=True)
        if not 400 <= status < 500:
            problems.append(f"random bytes answered {status}: {data[:60]!r}")


def test_fuzzed_requests_never_break_the_server(served):
    port = served
    control = ControlClient(f"http://127.0.0.1:{port}")
    tenant = control.create_tenant(KEY)
    messages = corpus(random.Random(SEED))
    problems: list[str] = []
    expected: dict[str, list[dict]] = {}

    async def run():
        per = FRAME_REQUESTS // WORKERS
        await asyncio.gather(*(frame_worker(port, w, messages, per, problems, expected) for w in range(WORKERS)))
        await asyncio.gather(*(head_worker(port, w, HEAD_REQUESTS // WORKERS, problems) for w in range(WORKERS)))
        await asyncio.gather(*(garbage_worker(port, w, GARBAGE_REQUESTS // WORKERS, problems)
                               for w in range(WORKERS)))

    asyncio.run(run())
    assert not problems, f"{len(problems)} problems (seed {SEED}), first ones:\n" + "\n".join(problems[:20])

    stored: dict[str, list[dict]] = {}
    for event in tenant.events():
        stored.setdefault(event.pop("_meta")["stream_id"], []).append(event)
    assert stored == expected
    assert sum(map(len, expected.values())) > 100  # the fuzz also delivered plenty of valid messages

    health = control.health()
    assert (health["status"], health["internal_errors"]) == ("ok", 0)
    valid = next(v for v in load_vectors() if v["name"] == "single-required-context")
    assert asyncio.run(send(port, request_bytes(bytes.fromhex(valid["frames"][0]["hex"]), key=KEY, port=port))) == 204
    control.close()
