"""Test ids without the board (and without pytest-repeat's step), so that a failure seen
on one board can be run again exactly, on that board or on another one."""

from __future__ import annotations


def _split_params(nodeid: str) -> tuple[str, str | None]:
    """``path::name[params]`` -> (``path::name``, ``params``); params may hold ``::`` and ``[``."""
    path, sep, rest = nodeid.partition("::")
    if not nodeid.endswith("]") or "[" not in rest:
        return nodeid, None
    at = len(path) + len(sep) + rest.index("[")
    return nodeid[:at], nodeid[at + 1:-1]


def _drop(tokens: list[str], sub: list[str]) -> list[str]:
    for i in range(len(tokens) - len(sub) + 1):
        if tokens[i:i + len(sub)] == sub:
            return tokens[:i] + tokens[i + len(sub):]
    return tokens


def test_id(nodeid: str, board: str | None, repeat_step: str | None = None) -> str:
    """``conformance/test_x.py::test_y[vec-qemu-an385-2-5]`` -> ``conformance/test_x.py::test_y[vec]``
    (board ``qemu-an385``, repeat step ``2-5``)."""
    base, params = _split_params(nodeid)
    if params is None:
        return nodeid
    tokens = params.split("-")
    if repeat_step:
        tokens = _drop(tokens, repeat_step.split("-"))
    if board:
        tokens = _drop(tokens, board.split("-"))
    return f"{base}[{'-'.join(tokens)}]" if tokens else base

