"""A redis-server of a test's own, that the test may stop and start again on the same port and data (the
shared one of tests/conftest.py must stay up for the other tests). Import `own_redis` into a test module to
use the fixture."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ports import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.fixture
def own_redis() -> Iterator[tuple[int, Path]]:
    """A free port and a data directory for `start_redis`; whatever runs there is shut down at the end."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        yield port, Path(tmp)
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, check=False)


def start_redis(port: int, data: Path) -> subprocess.Popen[bytes]:
    """redis-server on `port` with AOF on (fsync always) in `data`: a restart keeps every write."""
    proc = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")
