"""Mutant: a request that got no answer (connection closed, reset, timed out) counts as
delivered, so events the server never stored are consumed (C25; the soak's no-loss check)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mutantlib  # noqa: E402


def optimistic_on_failure(post_chunk, url, body, headers, timeout_ms):
    try:
        return post_chunk(url, body, headers, timeout_ms)
    except Exception:
        return (204 if mutantlib.is_final_frame(body) else 202), None


mutantlib.wrap_post_chunk(optimistic_on_failure)
mutantlib.activate("connection_loss_as_delivered")
