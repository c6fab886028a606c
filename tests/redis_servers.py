"""A redis-server of a test's own, for the tests that stop and restart it or configure it (a password):
AOF on (fsynced on every write unless asked otherwise), so a restart keeps what was written before it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.ports import wait_listening

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


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
