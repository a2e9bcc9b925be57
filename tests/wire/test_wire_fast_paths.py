"""The codec's fast paths against its strict reference: whatever the fast decoder (and the
fast validity check) accepts, the strict ``_Reader`` (and ``validate_message``) accepts too,
with the same result; everything else is left to the strict code, so every rejection and
its reason come from it."""

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.wire import WireError, encode_message, validate_message
from harness.wire import message as M

from test_wire_property import PROPERTY, messages


def strict(data: bytes):
    reader = M._Reader(data)
    try:
        msg = reader.message()
    except WireError as exc:
        return ("error", exc.status, exc.reason)
    return ("ok", msg, reader.stats.string_lengths, reader.stats.max_properties)


def fast(data: bytes):
    decoded = M._decode_fast(data)
    if decoded is None:
        return None
    msg, stats = decoded
    return ("ok", msg, stats.string_lengths, stats.max_properties)


def strict_validation(msg, binary):
    try:
        validate_message(msg, binary)
    except WireError as exc:
        return (exc.status, exc.reason)
    return None


def check(data: bytes) -> None:
    expected = strict(data)
    got = fast(data)
    if got is not None:
        assert got == expected
        msg = got[1]
        for binary in (False, True):
            if M._looks_valid(msg, binary):
                assert strict_validation(msg, binary) is None


@PROPERTY
@given(message=messages())
def test_fast_decoder_takes_valid_messages_unchanged(message):
    data = encode_message(message)
    assert fast(data) == strict(data)
    assert M._looks_valid(fast(data)[1], True)


@PROPERTY
@given(data=st.binary(max_size=300))
def test_fast_decoder_on_random_bytes(data):
    check(data)


@settings(PROPERTY, max_examples=400)
@given(message=messages(), edits=st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)), max_size=3),
       cut=st.integers(0, 10 ** 6), extra=st.binary(max_size=3))
def test_fast_decoder_on_mutated_messages(message, edits, cut, extra):
    data = bytearray(encode_message(message))
    for position, byte in edits:
        data[position % len(data)] = byte
    for candidate in (bytes(data), bytes(data[:cut % len(data)]), bytes(data) + extra):
        check(candidate)
