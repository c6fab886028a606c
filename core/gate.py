"""The gate before any work is done: dedupe, paused channels, muted users, rate limits (shared in Redis).

`RedisGate.admit` decides in ONE round trip (a non-transactional pipeline, which redis-py also splits by
node on a cluster): SET NX of the message id, the channel's paused flag, the user's mute, and fixed-window
counters per user and per channel. It is hand-written rather than built on the `limits` package because
that would add a round trip per limit on top of dedupe/pause/mute (docs/decisions.md). Every key has a TTL.
Because the pipeline runs as one batch, a replayed message also counts once against the limits; that is
accepted (replays are rare: adapters acknowledge at once) and keeps the path to one round trip.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis

from core.history import redis_call
from core.keys import KeySpace
from core.models import ConversationKey, IncomingMessage
from core.settings import LimitSettings

WINDOW_S = 60
PAUSE_TTL_S = 365 * 24 * 3600


class AdmissionKind(enum.StrEnum):
    OK = "ok"
    DUPLICATE = "duplicate"
    PAUSED = "paused"
    MUTED = "muted"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class Admission:
    kind: AdmissionKind
    retry_after_s: float = 0.0  # RATE_LIMITED
    scope: str = "user"  # RATE_LIMITED: "user" or "channel"
    until: float = 0.0  # MUTED: unix seconds


class Gate(Protocol):
    async def admit(self, msg: IncomingMessage) -> Admission:
        """One decision per incoming message, in one Redis round trip."""
        ...

    async def set_paused(self, key: ConversationKey, paused: bool) -> None:
        """Pause or resume answering in the channel of `key` (all its threads)."""
        ...

    async def is_paused(self, key: ConversationKey) -> bool: ...

    async def mute(self, user_id: str, seconds: float) -> float:
        """Mute `IncomingMessage.user_id` for `seconds`; returns the unix time the mute ends."""
        ...

    async def unmute(self, user_id: str) -> None: ...


class RedisGate:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        keys: KeySpace,
        limits: LimitSettings,
        dedupe_ttl_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._limits = limits
        self._dedupe_ttl_s = dedupe_ttl_s
        self._clock = clock

    async def admit(self, msg: IncomingMessage) -> Admission:
        now = self._clock()
        window = int(now // WINDOW_S)
        retry_after = (window + 1) * WINDOW_S - now
        user_id = msg.user_id
        pipe: Any = self._redis.pipeline(transaction=False)
        pipe.set(self._keys.seen(msg.key.platform, msg.message_id), 1, nx=True, ex=self._dedupe_ttl_s)
        pipe.exists(self._keys.paused(msg.key))
        pipe.get(self._keys.mute(user_id))
        counters: list[tuple[str, int]] = []
        if self._limits.user_per_minute:
            counters.append(("user", self._limits.user_per_minute))
            name = self._keys.user_rate(user_id, window)
            pipe.incr(name)
            pipe.expire(name, WINDOW_S + 5)
        if self._limits.channel_per_minute:
            counters.append(("channel", self._limits.channel_per_minute))
            name = self._keys.channel_rate(msg.key.channel_id, window)
            pipe.incr(name)
            pipe.expire(name, WINDOW_S + 5)
        results = await redis_call(pipe.execute())
        first_time, paused, muted_until = results[0], results[1], results[2]
        if not first_time:
            return Admission(AdmissionKind.DUPLICATE)
        if paused:
            return Admission(AdmissionKind.PAUSED)
        if muted_until is not None and float(muted_until) > now:
            return Admission(AdmissionKind.MUTED, until=float(muted_until))
        for i, (scope, limit) in enumerate(counters):
            if int(results[3 + 2 * i]) > limit:
                return Admission(AdmissionKind.RATE_LIMITED, retry_after_s=retry_after, scope=scope)
        return Admission(AdmissionKind.OK)

    async def set_paused(self, key: ConversationKey, paused: bool) -> None:
        name = self._keys.paused(key)
        if paused:
            await redis_call(self._redis.set(name, 1, ex=PAUSE_TTL_S))
        else:
            await redis_call(self._redis.delete(name))

    async def is_paused(self, key: ConversationKey) -> bool:
        return bool(await redis_call(self._redis.exists(self._keys.paused(key))))

    async def mute(self, user_id: str, seconds: float) -> float:
        until = self._clock() + seconds
        await redis_call(
            self._redis.set(self._keys.mute(user_id), repr(until), ex=max(1, math.ceil(seconds)))
        )
        return until

    async def unmute(self, user_id: str) -> None:
        await redis_call(self._redis.delete(self._keys.mute(user_id)))
