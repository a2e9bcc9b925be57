"""The one error type of the codec."""

from __future__ import annotations


class WireError(Exception):
    """A rejection: ``status`` is the HTTP status a receiver answers (400, 409, 413,
    415 or 422) and ``reason`` says precisely what was wrong and where.

    Reasons never contain project keys or reassembly keys; they may quote short
    pieces of the message itself (string indexes, byte offsets, key names).
    """

    def __init__(self, status: int, reason: str):
        super().__init__(status, reason)
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.status}: {self.reason}"
