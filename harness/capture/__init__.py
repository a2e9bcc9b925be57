"""The strict mock capture server, its control API and the control client.

``CaptureServer`` (``server``) serves ``<prefix>/capture`` per docs/spec/wire-v2.md and
the control API under ``/_hil/``; ``ControlClient``/``Tenant`` (``client``) drive it.
See docs/capture.md.
"""

from .client import ControlClient, ControlError, Tenant
from .server import CaptureServer

__all__ = ["CaptureServer", "ControlClient", "ControlError", "Tenant"]
