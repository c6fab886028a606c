"""A redis-server of a test's own, for the tests that stop and restart it or configure it (a password)
(tools/loopback.py, shared with bench/)."""

from __future__ import annotations

from tools.loopback import REDIS_SERVER, start_redis, stop_redis

__all__ = ["REDIS_SERVER", "start_redis", "stop_redis"]
