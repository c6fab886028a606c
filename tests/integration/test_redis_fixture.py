from __future__ import annotations

import redis
import redis.asyncio as aioredis

from tests.conftest import keys_without_ttl


async def test_throwaway_redis_is_not_the_system_one(redis_client: aioredis.Redis, redis_url: str) -> None:
    assert not redis_url.endswith(":6379/0")
    await redis_client.set("k", "v", ex=60)
    assert await redis_client.get("k") == b"v"


async def test_a_key_without_ttl_is_found_by_the_after_test_scan(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    await redis_client.set("forever", "v")
    await redis_client.set("expiring", "v", ex=60)
    client = redis.Redis.from_url(redis_url)
    try:
        assert keys_without_ttl(client) == ["db0:forever"]
    finally:
        client.close()
    await redis_client.delete("forever")
