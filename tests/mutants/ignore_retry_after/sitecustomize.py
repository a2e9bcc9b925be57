"""Mutant: the transport never reports Retry-After, so the core never honours it (C24)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mutantlib  # noqa: E402


def without_retry_after(post_chunk, url, body, headers, timeout_ms):
    status, _retry_after = post_chunk(url, body, headers, timeout_ms)
    return status, None


mutantlib.wrap_post_chunk(without_retry_after)
mutantlib.activate("ignore_retry_after")
