"""Contract 3 on the host: module constants, exception classes, status mapping (C37)."""

from pathlib import Path

import pytest

import _honch_core
import honch
from harness import protocol
from honch import errors

ROOT = Path(__file__).resolve().parents[2]


def test_module_identity():
    assert _honch_core.SDK_VERSION == (ROOT / "core" / "VERSION").read_text().strip()
    assert honch.SDK_VERSION == _honch_core.SDK_VERSION
    assert _honch_core.PLATFORM == protocol.SDK_PLATFORM_HOST


def test_error_constants_cover_every_status():
    constants = {name[len("ERROR_"):]: getattr(_honch_core, name)
                 for name in dir(_honch_core) if name.startswith("ERROR_")}
    assert constants == protocol.STATUS


def test_wrapper_status_texts_match_the_contract():
    for value, (_, text, _) in protocol.STATUSES.items():
        assert errors.status_text(value) == text
    assert errors.status_text(len(protocol.STATUSES)) == "unknown"
    assert errors.status_text(-1) == "unknown"


def test_exception_hierarchy_is_the_contracts():
    for name, parent in protocol.EXCEPTION_PARENTS.items():
        cls = getattr(honch, name)
        expected_parent = Exception if parent == "Exception" else getattr(honch, parent)
        assert cls.__bases__ == (expected_parent,), name
        assert name in honch.__all__


@pytest.mark.parametrize("status", sorted(protocol.STATUSES)[1:] + [99])
def test_each_status_maps_to_its_class_with_status_and_text(status):
    name, text, class_name = protocol.STATUSES.get(status, ("?", "unknown", "HonchError"))
    exc = errors.error_for_status(status, "what went wrong")
    assert type(exc) is getattr(honch, class_name)
    assert exc.status == status
    assert str(exc) == text
    assert exc.detail == "what went wrong"
    assert "what went wrong" in getattr(exc, "__notes__", [])


def test_core_error_carries_status_and_detail():
    with pytest.raises(_honch_core.Error) as caught:
        _honch_core.Client({})
    # What the published wrapper maps by: .status, else the message text.
    assert caught.value.status == protocol.STATUS["INVALID_ARGUMENT"]
    assert str(caught.value) == "invalid argument"
    assert "api_key" in caught.value.detail


def test_core_errors_surface_as_contract_exceptions(capture, make_client):
    client = make_client(capture)
    with pytest.raises(honch.InvalidArgumentError) as caught:
        client.track("")
    assert caught.value.status == 1
    assert str(caught.value) == "invalid argument"
    with pytest.raises(honch.InvalidArgumentError) as caught:
        client.track("sample", {"sensor": object()})
    assert caught.value.detail == "unsupported value type: object"  # the core's detail, passed through
    client.shutdown()
    with pytest.raises(honch.NotInitializedError) as caught:
        client.track("after")
    assert caught.value.status == protocol.STATUS["NOT_INITIALIZED"]
    assert str(caught.value) == "not initialized"
    for call in (client.tick, client.flush, client.reset, lambda: client.run(print)):
        with pytest.raises(honch.NotInitializedError) as caught:
            call()
        assert caught.value.detail == "the client was shut down"


def test_compression_unavailable_exists_for_compatibility():
    assert issubclass(honch.CompressionUnavailableError, honch.HonchError)
    assert honch.CompressionUnavailableError().status == protocol.STATUS["NOT_SUPPORTED"]


def test_a_port_core_whose_errors_carry_only_a_status(capture, monkeypatch):
    """The published interface of ``_honch_core.Error`` is ``.status``: a port's core
    that has no ``detail`` still surfaces as the contract's exception, detail None."""
    import types

    from host_sdk_support import base_config

    class Error(Exception):
        def __init__(self, status):
            super().__init__(errors.status_text(status))
            self.status = status

    def client(config):
        raise Error(protocol.STATUS["QUEUE_FULL"])

    port_core = types.SimpleNamespace(Error=Error, Client=client)
    monkeypatch.setattr(honch.client, "_honch_core", port_core)
    with pytest.raises(honch.StorageError) as caught:
        honch.Honch(**base_config(capture))
    assert (caught.value.status, str(caught.value), caught.value.detail) == \
        (protocol.STATUS["QUEUE_FULL"], "queue full", None)
