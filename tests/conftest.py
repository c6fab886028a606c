"""Shared fixtures: a throwaway redis-server for the whole test session (pytest-redis, random free port),
and a fresh asyncio Redis client per test on a flushed database.

Every test that uses the throwaway server is also a check that the service leaves nothing behind forever:
after the test, a scan of the database must find no key without a TTL (docs/security.md), then the
database is flushed for the next test."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from pytest_redis import factories

from tests.ports import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

redis_proc = factories.redis_proc(executable=REDIS_SERVER, port=None)


def keys_without_ttl(client: redis.Redis) -> list[str]:
    """Every key in every database of the server that would live forever."""
    found = []
    for db in client.info("keyspace"):
        conn = redis.Redis(
            host=client.connection_pool.connection_kwargs["host"],
            port=client.connection_pool.connection_kwargs["port"],
            db=int(db.removeprefix("db")),
        )
        try:
            found += [f"{db}:{key.decode()}" for key in conn.scan_iter("*") if conn.ttl(key) == -1]
        finally:
            conn.close()
    return sorted(found)


@pytest.fixture
def redis_url(redis_proc) -> Iterator[str]:  # type: ignore[no-untyped-def]
    yield f"redis://{redis_proc.host}:{redis_proc.port}/0"
    client = redis.Redis(host=redis_proc.host, port=redis_proc.port)
    try:
        forever = keys_without_ttl(client)
        client.flushall()
    finally:
        client.close()
    assert not forever, f"the test left keys without a TTL: {forever[:10]}"


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushall()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def own_redis() -> Iterator[tuple[int, Path]]:
    """A free port and a data directory for a redis-server of the test's own (tests/redis_servers.py), which
    the test may stop and start again; whatever still runs there is shut down at the end."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        yield port, Path(tmp)
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, check=False)
