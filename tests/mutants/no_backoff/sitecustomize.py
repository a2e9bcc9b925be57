"""Mutant: the port overrides the backoff settings with 1 ms, so it never backs off (C23)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mutantlib  # noqa: E402


def hammering_client(Client, config):
    config = dict(config)
    config["flush_retry_initial_ms"] = 1
    config["flush_retry_max_ms"] = 1
    return Client(config)


mutantlib.replace_client(hammering_client)
mutantlib.activate("no_backoff")
