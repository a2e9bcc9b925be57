"""Argument checks of the public API (contract 2.2/2.3), the published wrapper's names.

The C core is the final gate and applies every rule of the contract itself (byte
lengths, reserved keys, nesting, int ranges); these helpers give early,
well-attributed errors to code that wants them. Lengths are UTF-8 byte counts, as
the contract says. MicroPython-compatible.
"""

from .errors import InvalidArgumentError

MAX_EVENT_NAME = 128
MAX_DISTINCT_ID = 256
MAX_NESTING = 8


def _blank(value):
    return value.strip(" \t\r\n") == ""


def require_text(value, label, max_len=None):
    """A non-blank str of at most ``max_len`` UTF-8 bytes, else InvalidArgumentError."""
    if not isinstance(value, str) or _blank(value) \
            or (max_len is not None and len(value.encode("utf-8")) > max_len):
        raise InvalidArgumentError("invalid " + label)


def require_event_name(event):
    require_text(event, "event name", MAX_EVENT_NAME)


def require_distinct_id(distinct_id):
    require_text(distinct_id, "distinct_id", MAX_DISTINCT_ID)


def require_properties(properties):
    """``{}`` for None, else a copy of the dict after checking its values."""
    if properties is None:
        return {}
    if not isinstance(properties, dict):
        raise InvalidArgumentError("properties must be a dict")
    _validate_typed_value(properties, 0)
    return dict(properties)


def require_value(value):
    _validate_typed_value(value, 1)
    return value


def _validate_typed_value(value, depth):
    if value is None or isinstance(value, (bool, int, float, str, bytes, bytearray)):
        return
    if isinstance(value, (list, tuple, dict)):
        if depth > MAX_NESTING:  # the properties dict itself is depth 0
            raise InvalidArgumentError("more than %d nested containers" % MAX_NESTING)
        if isinstance(value, dict):
            for key in value:
                if not isinstance(key, str):
                    raise InvalidArgumentError("property keys must be strings")
                _validate_typed_value(value[key], depth + 1)
        else:
            for item in value:
                _validate_typed_value(item, depth + 1)
        return
    raise InvalidArgumentError("unsupported property value")
