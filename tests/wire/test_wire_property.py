"""Property tests: random valid messages survive encode → chunk → frames → Reassembler → decode →
validate unchanged; random and mutated bytes only ever raise WireError."""

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from harness.protocol import PROMOTED_NAMES, RESERVED_PROPERTIES, RESERVED_PROPERTY_ID_BY_NAME, U32_MAX
from harness.wire import (
    F32, F64, Bytes, Event, Int, Map, Message, Reassembler, Reserved, UInt, WireError, chunk, decode_message,
    encode_message, expand_events, parse_frame, uvarint_size, validate_message,
)

U64_MAX = 2 ** 64 - 1
FORBIDDEN_CUSTOM_KEYS = set(RESERVED_PROPERTY_ID_BY_NAME) | set(PROMOTED_NAMES)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10)
nonempty_text = text.filter(bool)
custom_keys = nonempty_text.filter(lambda k: k not in FORBIDDEN_CUSTOM_KEYS)


def scalars(strings):
    return st.one_of(
        st.none(), st.booleans(), strings,
        st.integers(0, U64_MAX).map(UInt), st.integers(-(2 ** 63), 2 ** 63 - 1).map(Int),
        st.floats(width=32, allow_nan=False, allow_infinity=False).map(F32),
        st.floats(allow_nan=False, allow_infinity=False).map(F64),
        st.binary(max_size=8).map(Bytes),
    )


def reserved_pairs():
    ints = st.one_of(st.integers(0, 100).map(UInt), st.integers(-100, 100).map(Int))
    return st.sampled_from(sorted(RESERVED_PROPERTIES)).flatmap(
        lambda rid: st.tuples(st.just(Reserved(rid)), ints if RESERVED_PROPERTIES[rid][1] == "int" else nonempty_text))


def pairs(values, max_size):
    return st.lists(st.one_of(st.tuples(custom_keys, values), reserved_pairs()), max_size=max_size,
                    unique_by=lambda pair: pair[0])


def containers_depth(v) -> int:
    if isinstance(v, list):
        return 1 + max((containers_depth(x) for x in v), default=0)
    if isinstance(v, Map):
        return 1 + max((containers_depth(x) for _, x in v.pairs), default=0)
    return 0


def values(strings):
    tree = st.recursive(scalars(strings),
                        lambda children: st.lists(children, max_size=4) | pairs(children, 4).map(Map),
                        max_leaves=12)
    return tree.filter(lambda v: containers_depth(v) <= 8)


@st.composite
def messages(draw):
    required = [(cid, draw(nonempty_text)) for cid in range(1, 8)]
    optional = []
    if draw(st.booleans()):
        optional.append((8, draw(nonempty_text)))
    if draw(st.booleans()):
        optional.append((9, UInt(draw(st.integers(0, 3)))))
    if draw(st.booleans()):
        optional.append((10, UInt(draw(st.integers(0, U64_MAX)))))
    extension_ids = draw(st.lists(st.integers(128, 2 ** 40), max_size=2, unique=True))
    # the empty string is not allowed anywhere in the context (W7.2)
    extensions = [(cid, draw(values(nonempty_text))) for cid in extension_ids]
    events = draw(st.lists(st.builds(Event, nonempty_text, st.integers(-10 ** 6, 10 ** 6), pairs(values(text), 6)),
                           min_size=1, max_size=5))
    base = draw(st.integers(10 ** 6, 2 ** 62))
    return Message(base, required + optional + extensions, events)


@PROPERTY
@given(message=messages(), max_frame=st.one_of(st.integers(6, 80), st.integers(6, 4096)),
       message_id=st.one_of(st.integers(0, 300), st.integers(0, U32_MAX)), repeat=st.integers(0, 1000))
def test_round_trip_through_frames_and_reassembly(message, max_frame, message_id, repeat):
    validate_message(message, binary_properties=True)  # the strategy only makes valid messages
    data = encode_message(message)
    try:
        bodies = chunk(data, message_id, max_frame)
    except WireError as exc:
        # only a frame limit too small for the fields can refuse (final_cap < 1 somewhere)
        assert exc.status == 413
        assert max_frame < 4 + uvarint_size(message_id) + uvarint_size(len(data))
        event("frame limit too small for this message")
        return
    event("one frame" if len(bodies) == 1 else "several frames")
    assert all(len(body) <= max_frame for body in bodies)
    reassembler = Reassembler()
    key = ("project", "stream", 0, message_id)
    complete = None
    for i, body in enumerate(bodies):
        frame = parse_frame(body)
        assert frame.message_id == message_id
        progress = reassembler.accept(key, frame)
        if i < len(bodies) - 1:
            assert progress.message is None and progress.total == len(data)
            if i == repeat % len(bodies):  # an identical repeat changes nothing
                again = reassembler.accept(key, frame)
                assert again.repeat and again.received == progress.received
        else:
            complete = progress.message
    assert complete == data and len(reassembler) == 0
    decoded = decode_message(complete)
    validate_message(decoded, binary_properties=True)
    assert decoded == message
    assert encode_message(decoded) == data
    assert expand_events(decoded) == expand_events(message)


@PROPERTY
@given(data=st.binary(max_size=300))
def test_random_bytes_only_raise_wire_errors(data):
    for decode in (decode_message, parse_frame):
        try:
            decode(data)
        except WireError as exc:
            assert exc.status in (400, 413) and exc.reason


@settings(PROPERTY, max_examples=100)
@given(message=messages(), position=st.integers(0, 10 ** 6), byte=st.integers(0, 255),
       cut=st.integers(0, 10 ** 6), binary=st.booleans())
def test_mutated_messages_are_judged_never_crash(message, position, byte, cut, binary):
    data = bytearray(encode_message(message))
    data[position % len(data)] = byte
    for candidate in (bytes(data), bytes(data[:cut % len(data)])):
        try:
            decoded = decode_message(candidate)
            validate_message(decoded, binary_properties=binary)
        except WireError as exc:
            assert exc.status in (400, 413, 422) and exc.reason
        else:
            # whatever is accepted is canonical: it re-encodes to the same bytes and expands
            assert encode_message(decoded) == candidate
            expand_events(decoded)
