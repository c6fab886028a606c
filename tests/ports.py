"""A free loopback port and waiting until a server listens (tools/loopback.py, shared with bench/)."""

from __future__ import annotations

from tools.loopback import free_port, wait_listening

__all__ = ["free_port", "wait_listening"]
