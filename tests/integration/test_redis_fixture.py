from __future__ import annotations

import redis.asyncio as aioredis


async def test_throwaway_redis_is_not_the_system_one(redis_client: aioredis.Redis, redis_url: str) -> None:
    assert not redis_url.endswith(":6379/0")
    await redis_client.set("k", "v")
    assert await redis_client.get("k") == b"v"
