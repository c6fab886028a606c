"""Loopback helpers the benchmarks and the tests share: a free port, waiting until a server listens, and a
redis-server of one's own (AOF on, fsynced on every write unless asked otherwise, so a restart keeps what
was written before it). tests/ports.py and tests/redis_servers.py re-export them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    """A loopback port nothing listens on (bound once by the OS, then released): for a server one starts
    oneself. For a connection that must be refused, use tests/ports.py's refused_port()."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def refusing_socket() -> socket.socket:
    """A loopback socket bound to a port of its own and never listening: a connection to that port is refused
    for as long as the socket is open, and no server can take the port meanwhile (a port from free_port() is
    released at once, so a server binding port 0 elsewhere on a busy machine may get it)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


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


def start_redis(port: int, data: Path, *extra: str, fsync: str = "always") -> subprocess.Popen[bytes]:
    """Start redis-server on 127.0.0.1:`port` with its files in `data`; return once it accepts connections.
    `fsync="everysec"` is what docker-compose.yml runs."""
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
         "--appendonly", "yes", "--appendfsync", fsync, "--save", "", *extra],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_listening(port, proc=proc)
    except RuntimeError:
        proc.kill()
        raise
    return proc


def stop_redis(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)
