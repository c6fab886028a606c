"""A loopback port nothing listens on (bound once by the OS, then released): for a server a test starts
itself, or for a connection that must be refused; and waiting until such a server listens."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(
    port: int, *, timeout_s: float = 10.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Return once something accepts connections on 127.0.0.1:`port`; raise RuntimeError after `timeout_s`,
    or as soon as `proc` (the server being waited for) has exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server for port {port} exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port}")
