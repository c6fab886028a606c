"""Shared fixtures: a throwaway redis-server for the whole test session (pytest-redis, random free port),
and a fresh asyncio Redis client per test on a flushed database."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from pytest_redis import factories

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

redis_proc = factories.redis_proc(executable=REDIS_SERVER, port=None)


@pytest.fixture
def redis_url(redis_proc) -> str:  # type: ignore[no-untyped-def]
    return f"redis://{redis_proc.host}:{redis_proc.port}/0"


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushall()
    try:
        yield client
    finally:
        await client.aclose()
