"""Describe the public API of the ``honch`` package first on ``sys.path`` as JSON.

Run as ``python api_description.py [DIR]``: DIR (a directory holding ``honch/``) is
put first on the path. The description lists, per public module, every public
name with its kind and, for callables, its signature; for classes their bases and
public methods; for values their repr. ``tests/sdk/test_published_api.py``
compares ours with the published wheel's.
"""

import importlib
import inspect
import json
import sys
import types

MODULES = ("honch", "honch.client", "honch.config", "honch.validation", "honch.errors")


def _signature(obj):
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return None


def _class(cls):
    skip = set(dir(BaseException)) if issubclass(cls, BaseException) else set(dir(object))
    methods = {}
    for name in dir(cls):
        if name.startswith("_") and name != "__init__":
            continue
        if name in skip and name != "__init__":
            continue
        attr = getattr(cls, name)
        if callable(attr):
            methods[name] = _signature(attr) if name != "__init__" or "__init__" in cls.__dict__ else "inherited"
    return {"kind": "class", "bases": [b.__name__ for b in cls.__bases__], "methods": methods}


def describe(module):
    out = {}
    for name in sorted(vars(module)):
        if name.startswith("_") and name not in ("__version__", "__all__"):
            continue
        obj = getattr(module, name)
        if isinstance(obj, types.ModuleType):
            continue
        if inspect.isclass(obj):
            out[name] = _class(obj)
        elif callable(obj):
            out[name] = {"kind": "function", "signature": _signature(obj)}
        else:
            out[name] = {"kind": "value", "repr": repr(obj)}
    return out


def main():
    if len(sys.argv) > 1:
        sys.path.insert(0, sys.argv[1])
    result = {}
    for name in MODULES:
        module = importlib.import_module(name)
        result[name] = describe(module)
    honch = importlib.import_module("honch")
    result["file"] = honch.__file__
    client = honch.Honch(api_key="k", device_id="d", device_model="m", firmware_version="1",
                         event_buffer=bytearray(4096), endpoint_url="http://127.0.0.1:9")
    result["config_attributes"] = sorted(n for n in vars(client.config) if not n.startswith("_"))
    result["client_attributes"] = sorted(n for n in vars(client) if not n.startswith("_"))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
