"""Construction on the host (contract 2.1, 4; C8, C11, C15)."""

import sys

import pytest

import honch
from honch.config import HonchConfig
from harness import protocol
from host_sdk_support import base_config, capture_requests, event_names, sent_messages

INVALID = protocol.STATUS["INVALID_ARGUMENT"]


def test_numeric_option_names_are_the_contracts():
    from honch import config
    assert dict(config.NUMERIC_DEFAULTS) == dict(protocol.CONFIG_DEFAULTS)
    assert config.HOST_HOOK_KEYS == protocol.HOST_ONLY_CONFIG_KEYS


def test_construction_queues_only_device_boot_and_sends_nothing(capture, make_client):
    client = make_client(capture)
    assert client.queue_stats()["queued_events"] == 1
    assert capture_requests(capture) == []
    client.flush()
    [boot] = capture.events()
    assert boot["event"] == "$device_boot"
    assert boot["distinct_id"] == "dev-host-1"
    props = boot["properties"]
    assert props["reset_reason"] == "unknown"
    assert props["$device_id"] == "dev-host-1"
    assert props["$device_model"] == "host-test"
    assert props["$firmware_version"] == "1.0.0"
    assert props["$sdk_platform"] == protocol.SDK_PLATFORM_HOST
    assert props["$sdk_version"] == honch.SDK_VERSION
    assert props["$environment"] == protocol.DEFAULT_ENVIRONMENT


def _expect_invalid(capture, **overrides):
    config = base_config(capture, **overrides)
    config = {k: v for k, v in config.items() if v is not _MISSING}
    with pytest.raises(honch.InvalidArgumentError) as caught:
        honch.Honch(**config)
    assert caught.value.status == INVALID
    return caught.value


_MISSING = object()


@pytest.mark.parametrize("key", ["api_key", "device_id", "device_model", "firmware_version", "event_buffer"])
def test_missing_required_key(capture, key):
    exc = _expect_invalid(capture, **{key: _MISSING})
    assert key in exc.detail


@pytest.mark.parametrize("key", ["api_key", "device_id", "device_model", "firmware_version"])
@pytest.mark.parametrize("value", ["", "  \t\r\n", None, 5, b"bytes"])
def test_blank_or_mistyped_required_string(capture, key, value):
    _expect_invalid(capture, **{key: value})


@pytest.mark.parametrize("overrides", [
    {"api_key": "has space"},
    {"api_key": "caf\u00e9"},
    {"device_id": "d" * (protocol.MAX_DEVICE_ID_BYTES + 1)},
    {"device_model": "m" * (protocol.MAX_CONFIG_STRING_BYTES + 1)},
    {"firmware_version": "v" * (protocol.MAX_CONFIG_STRING_BYTES + 1)},
    {"environment": " "},
    {"environment": 3},
    {"endpoint_url": "ftp://example.com"},
    {"endpoint_url": "http://"},
    {"endpoint_url": "http://host:0"},
    {"endpoint_url": "http://host:65536"},
    {"endpoint_url": "http://user@host"},
    {"endpoint_url": "http://host/path?q=1"},
    {"endpoint_url": "http://host/path#frag"},
], ids=repr)
def test_content_rules(capture, overrides):
    _expect_invalid(capture, **overrides)


@pytest.mark.parametrize("buffer", [bytes(64), memoryview(bytes(64)), bytearray(0), "text", 64],
                         ids=["bytes", "readonly-memoryview", "empty", "str", "int"])
def test_event_buffer_must_be_writable_and_non_empty(capture, buffer):
    _expect_invalid(capture, event_buffer=buffer)


def test_writable_memoryview_is_accepted(capture, make_client):
    backing = bytearray(8192)
    client = make_client(capture, event_buffer=memoryview(backing))
    assert client.queue_stats()["buffer_bytes"] == len(backing)


@pytest.mark.parametrize("key", sorted(protocol.CONFIG_DEFAULTS))
@pytest.mark.parametrize("value", [True, 1.0, "5", -1, protocol.U32_MAX + 1])
def test_numeric_option_rules(capture, key, value):
    exc = _expect_invalid(capture, **{key: value})
    assert key in exc.detail


@pytest.mark.parametrize("key", protocol.HOST_ONLY_CONFIG_KEYS)
def test_host_hooks_are_refused_from_users(capture, key):
    exc = _expect_invalid(capture, **{key: lambda: None})
    assert key in exc.detail


@pytest.mark.parametrize("key", ["state_path", "crash_report", "reset_reason", "Api_Key", "flush_interval"])
def test_unknown_keys_are_refused(capture, key):
    exc = _expect_invalid(capture, **{key: "x"})
    assert key in exc.detail


@pytest.mark.parametrize("overrides, detail", [
    ({"api_key": _MISSING}, "missing required config: api_key"),  # the wheel's message, word for word
    ({"event_buffer": None}, "missing required config: event_buffer"),
    ({"device_id": 7}, "device_id must be a str, not int"),
    ({"environment": b"x"}, "environment must be a str or None, not bytes"),
    ({"batch_size": True}, "batch_size must be an int or None, not bool"),
    ({"flush_retry_max_ms": 2.0}, "flush_retry_max_ms must be an int or None, not float"),
    ({"max_event_bytes": -1}, "max_event_bytes must be within 0..0xFFFFFFFF, got -1"),
    ({"transport_timeout_ms": protocol.U32_MAX + 1}, "transport_timeout_ms must be within 0..0xFFFFFFFF, got 4294967296"),
    ({"state_path": "/tmp/x"}, "unknown configuration key 'state_path'"),
    ({"battery_callback": print}, "battery_callback is a host hook of the C core, not a configuration key"),
    ({"connectivity_callback": 1}, "connectivity_callback must be callable or None"),
])
def test_a_config_error_says_exactly_what_was_wrong(capture, overrides, detail):
    """The detail of a refused configuration (the user's only clue) names the key, the
    rule and the value's type or value; a missing key reads as the wheel's message."""
    assert _expect_invalid(capture, **overrides).detail == detail


def test_connectivity_callback_must_be_callable(capture):
    _expect_invalid(capture, connectivity_callback=True)


def test_none_and_zero_select_defaults(capture, make_client):
    options = {key: None for key in protocol.CONFIG_DEFAULTS}
    options.update(endpoint_url=capture.endpoint, environment=None)
    client = make_client(capture, **options)
    assert client.queue_stats()["queued_events"] == 1
    client = make_client(capture, **{key: 0 for key in protocol.CONFIG_DEFAULTS})
    assert client.queue_stats()["queued_events"] == 1


def test_u32_max_is_accepted_for_every_option_but_the_battery_threshold(capture, make_client):
    for key in protocol.CONFIG_DEFAULTS:
        if key == "battery_low_threshold":
            continue
        make_client(capture, **{key: protocol.U32_MAX})
    _expect_invalid(capture, battery_low_threshold=101)
    make_client(capture, battery_low_threshold=100)


def test_batch_size_above_50_is_clamped(capture, make_client):
    client = make_client(capture, batch_size=51, flush_max_batches=5)
    for i in range(60):
        client.track("sample", {"count": i})
    client.flush()
    sizes = [len(m.events) for m in sent_messages(capture)]
    assert sizes == [protocol.MAX_BATCH_SIZE, 11]
    assert [e["properties"].get("count") for e in capture.events()[1:]] == list(range(60))


def _effective(key, given, others=None):
    """What contract 4 makes of ``given`` for ``key`` (absent, None and 0: the default;
    then the clamps), on CPython; ``others`` are the other options given."""
    value = given or protocol.CONFIG_DEFAULTS[key]
    if key == "batch_size":
        value = min(value, protocol.MAX_BATCH_SIZE)
    if key == "flush_retry_max_ms":
        value = max(value, (others or {}).get("flush_retry_initial_ms") or
                    protocol.CONFIG_DEFAULTS["flush_retry_initial_ms"])
    return value


_VIEW_VALUES = (None, 0, 1, 49, 50, 51, 999, 1000, 1001, protocol.U32_MAX - 1, protocol.U32_MAX)


@pytest.mark.parametrize("key", sorted(protocol.CONFIG_DEFAULTS))
def test_config_view_holds_the_effective_value_of_each_option(capture, key):
    """Honch.config (the published wrapper's attribute) shows each option as the client
    uses it: defaults and clamps applied, every other option at its default."""
    for given in _VIEW_VALUES:
        if key == "battery_low_threshold" and given and given > 100:
            continue
        config = HonchConfig(**base_config(capture, **{key: given}))
        assert getattr(config, key) == _effective(key, given, base_config(capture)), (key, given)
        for other in protocol.CONFIG_DEFAULTS:
            if other != key:
                expected = _effective(other, base_config(capture).get(other),
                                      base_config(capture, **{key: given}))
                assert getattr(config, other) == expected, (key, given, other)


@pytest.mark.parametrize("initial, maximum", [(1000, 999), (1000, 1000), (1000, 1001), (5000, 0), (0, 999),
                                              (protocol.U32_MAX, 1), (None, None), (2, 1)])
def test_config_view_raises_the_backoff_ceiling_to_the_first_delay(capture, initial, maximum):
    config = HonchConfig(**base_config(capture, flush_retry_initial_ms=initial, flush_retry_max_ms=maximum))
    first = initial or protocol.CONFIG_DEFAULTS["flush_retry_initial_ms"]
    assert config.flush_retry_initial_ms == first
    assert config.flush_retry_max_ms == max(maximum or protocol.CONFIG_DEFAULTS["flush_retry_max_ms"], first)


@pytest.mark.parametrize("given, shown", [(None, None), ("", None), ("staging", "staging"),
                                          (" x ", " x ")])
def test_config_view_of_the_strings_and_their_defaults(capture, given, shown):
    endpoint = HonchConfig(**base_config(capture, endpoint_url=given))
    assert endpoint.endpoint_url == (shown or protocol.DEFAULT_ENDPOINT_URL)
    environment = HonchConfig(**base_config(capture, environment=given))
    assert environment.environment == (shown or protocol.DEFAULT_ENVIRONMENT)
    required = base_config(capture)
    for key in ("api_key", "device_id", "device_model", "firmware_version", "event_buffer"):
        assert getattr(endpoint, key) == required[key], key


def test_client_config_is_the_view_of_its_options(capture, make_client):
    client = make_client(capture, batch_size=51, flush_retry_initial_ms=7000, flush_retry_max_ms=10)
    assert isinstance(client.config, HonchConfig)
    assert (client.config.batch_size, client.config.flush_retry_initial_ms, client.config.flush_retry_max_ms) == \
        (protocol.MAX_BATCH_SIZE, 7000, 7000)
    assert client.config.connectivity_callback is None
    assert client.config.battery_callback is None and client.config.auto_properties_callback is None


def test_buffer_too_small_for_boot_raises_storage_error(capture):
    with pytest.raises(honch.StorageError) as caught:
        honch.Honch(**base_config(capture, event_buffer=bytearray(8)))
    assert caught.value.status == protocol.STATUS["QUEUE_FULL"]


def test_construction_never_touches_the_network(capture, make_client):
    make_client(capture, endpoint_url="http://127.0.0.1:9/never")
    assert capture_requests(capture) == []
    assert event_names(capture) == []


