"""Mutant: the transport drops the X-Honch-Stream-Id header (C2)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mutantlib  # noqa: E402


def without_stream_id(post_chunk, url, body, headers, timeout_ms):
    kept = {k: v for k, v in mutantlib.header_pairs(headers) if k.lower() != "x-honch-stream-id"}
    return post_chunk(url, body, kept, timeout_ms)


mutantlib.wrap_post_chunk(without_stream_id)
mutantlib.activate("no_stream_id")
