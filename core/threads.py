"""`ThreadIndex`: the threads of a channel the bot takes part in, shared by every process (Redis).

One sorted set per channel (member: the thread's id, score: the last answer there), with the history's TTL:
old threads drop out on their own, a channel's threads are one key (Redis Cluster safe), and a reset of the
channel finds every one of them. Slack uses it: follow-ups in such a thread need no mention.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from core.history import redis_call
from core.keys import KeySpace
from core.models import Platform


class ThreadIndex:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        keys: KeySpace,
        platform: Platform,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._platform = platform
        self._ttl_s = ttl_s
        self._clock = clock

    def _key(self, space: str, channel: str) -> str:
        return self._keys.threads(self._platform, space, channel)

    async def add(self, space: str, channel: str, thread: str) -> None:
        now = self._clock()
        key = self._key(space, channel)
        pipe: Any = self._redis.pipeline(transaction=False)
        pipe.zadd(key, {thread: now})
        pipe.zremrangebyscore(key, "-inf", now - self._ttl_s)
        pipe.expire(key, self._ttl_s)
        await redis_call(pipe.execute())

    async def contains(self, space: str, channel: str, thread: str) -> bool:
        score = await redis_call(self._redis.zscore(self._key(space, channel), thread))
        return score is not None and float(score) >= self._clock() - self._ttl_s

    async def members(self, space: str, channel: str) -> list[str]:
        raw = await redis_call(self._redis.zrange(self._key(space, channel), 0, -1))
        return [m.decode() if isinstance(m, bytes) else str(m) for m in raw]
