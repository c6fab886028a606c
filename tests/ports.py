"""Loopback ports: a free one for a server one starts, one that refuses connections, and waiting until a server
listens (tools/loopback.py, shared with bench/)."""

from __future__ import annotations

import atexit
import functools
import socket

from tools.loopback import free_port, refusing_socket, wait_listening

__all__ = ["free_port", "refused_port", "wait_listening"]


@functools.cache
def _refusing() -> socket.socket:
    s = refusing_socket()  # held open (cached) for the whole test run, closed at its end
    atexit.register(s.close)
    return s


def refused_port() -> int:
    """A loopback port every connection to is refused, for the whole test run: where a test needs a server
    that is down. The port stays bound and never listens, so no server started meanwhile can take it."""
    return int(_refusing().getsockname()[1])
