"""Property tests of the host SDK: any accepted Python value reaches the capture server
as the same JSON (contract 2.3, W9), and the crash texts obey their budgets (11.4)."""

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import honch
from harness import protocol
from honch import _crash
from host_sdk_support import base_config

# Keys: non-blank, no NUL, not reserved, and not one of the reserved-id property names
# (those only take strings, which a generic strategy would break).
RESERVED_NAMES = set(protocol.RESERVED_KEYS) | {name for name, _ in protocol.RESERVED_PROPERTIES.values()}
keys = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=8) \
    .filter(lambda k: k.strip(" \t\r\n") and k not in RESERVED_NAMES)
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-2**63, max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(keys, inner, max_size=4)),
    max_leaves=16,
)


def as_json(value):
    """What the capture server stores for ``value`` (W9): tuples become lists."""
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    return value


@pytest.fixture
def shared_client(capture_control):
    tenant = capture_control.tenant(f"hil-{uuid.uuid4().hex}")
    tenant.reset()
    client = honch.Honch(**base_config(tenant))
    client.reset()
    yield client, tenant
    client.shutdown()
    tenant.delete()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(properties=st.dictionaries(keys, values, max_size=6))
def test_any_accepted_value_arrives_unchanged(shared_client, properties):
    client, tenant = shared_client
    client.track("prop", properties)
    client.flush()
    stored = tenant.events()[-1]["properties"]
    custom = {k: v for k, v in stored.items() if k not in protocol.PROMOTED_NAMES}
    assert custom == as_json(properties)


@given(text=st.text(), max_bytes=st.integers(min_value=0, max_value=200))
def test_cut_utf8_is_the_longest_fitting_prefix(text, max_bytes):
    cut = _crash.cut_utf8(text, max_bytes)
    assert text.startswith(cut)
    assert len(cut.encode("utf-8")) <= max_bytes
    if cut != text:
        assert len(text[:len(cut) + 1].encode("utf-8")) > max_bytes


frames = st.lists(st.tuples(st.text(min_size=1, max_size=40).filter(lambda f: "/" not in f and "\\" not in f),
                            st.one_of(st.none(), st.integers(min_value=1, max_value=99999)),
                            st.text(min_size=1, max_size=40)), max_size=12)


@given(frames=frames)
def test_backtrace_holds_the_most_leading_frames_that_fit(frames):
    formatted = ["%s:%s in %s" % (f, "?" if line is None else line, fn) for f, line, fn in reversed(frames)]
    text = _crash.format_backtrace(frames)
    budget = protocol.CRASH_BACKTRACE_MAX_BYTES
    if not formatted or len(formatted[0].encode()) > budget:
        assert text is None
        return
    assert len(text.encode()) <= budget
    kept = next(k for k in range(len(formatted), 0, -1)
                if len(protocol.CRASH_BACKTRACE_SEPARATOR.join(formatted[:k]).encode()) <= budget)
    assert text == protocol.CRASH_BACKTRACE_SEPARATOR.join(formatted[:kept])
