"""The gate before any work is done: dedupe, paused channels, muted users, rate limits (shared in Redis).

Order of the decision (the first that applies wins):

1. DUPLICATE: `SET NX EX` of `seen:<platform>:<message id>` found the id (a retried or replayed event);
2. PAUSED: the channel (every thread of it) is paused; the message is ignored silently;
3. MUTED: the user's mute has not ended (`until`, unix seconds);
4. RATE_LIMITED, scope "user": more than `user_per_minute` messages of this user in this minute;
5. RATE_LIMITED, scope "channel": more than `channel_per_minute` messages in this channel in this minute;
6. OK.

Only admitted messages count. `admit` sends everything in ONE round trip: a non-transactional pipeline of
SET NX + GET of the seen key (it holds a random token of this call, so that redis-py's retry of a pipeline
whose reply timed out recognizes its own id rather than calling it a duplicate), EXISTS paused, GET mute
and, per configured limit, INCR + EXPIRE of a fixed one-minute window.
redis-py splits such a pipeline by node on Redis Cluster, so the keys may live in different hash slots
(a Lua script could not: the user's and the channel's keys are in different slots). Because the counters
are incremented before the decision is known, a rejected message (duplicate, paused, muted, or over a
limit) takes its increments back with DECR in a second round trip before `admit` returns; rejected
messages are off the answer path, so an answered message costs one round trip. Consequences: a replayed
event, a muted user or a spammer over their own limit never uses up the channel's budget for others; a
concurrent message may, for the moment between the two round trips, see a count one too high; a
pipeline retried after a timeout may count its message twice in that minute.

Why hand-written rather than the `limits` package: each `limits` `hit()` is its own storage call (one
round trip per limit, plus `get_window_stats()` for the retry-after) on top of dedupe, pause and mute,
so three or more round trips per message instead of one; its API has no way to give back a hit for a
message that turned out to be a duplicate or muted; and the whole gate is about forty lines. Fixed windows are enough here: a
burst of at most twice the limit across a window boundary is harmless for a chat bot, and `retry_after_s`
(the time to the end of the window) is exact and easy to explain to a user.

Every key has a TTL: seen ids `dedupe_ttl_s`, windows 65 s, mutes their duration, the paused flag a year
(refreshed on every pause).

`NoticeThrottle` keeps the notices of a cooldown to one per cooldown: a member who sends 200 messages in a
burst is told once that they are over the limit, not 194 times (one `SET NX EX` per refused message, shared
by every process and platform). Adapters pass its `gate(msg)` to their reply sinks.
"""

from __future__ import annotations

import enum
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
import structlog

from core.errors import HistoryUnavailable, Muted, RateLimited, RelayError
from core.history import redis_call
from core.keys import KeySpace
from core.models import ConversationKey, IncomingMessage
from core.settings import LimitSettings

log = structlog.get_logger(__name__)

WINDOW_S = 60
WINDOW_TTL_S = WINDOW_S + 5
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
    """`Gate` on Redis, shared by every bot process that uses the same Redis and key prefix."""

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
        user_id = msg.user_id
        counters: list[tuple[str, str, int]] = []  # (scope, key, limit), in the order they are checked
        if self._limits.user_per_minute:
            counters.append(("user", self._keys.user_rate(user_id, window), self._limits.user_per_minute))
        if self._limits.channel_per_minute:
            name = self._keys.channel_rate(msg.key.channel_id, window)
            counters.append(("channel", name, self._limits.channel_per_minute))

        # The seen key holds a token of this call: when redis-py retries the pipeline after a timed-out
        # reply (the first attempt may have run), the id is recognized as ours, not as a duplicate.
        token = secrets.token_hex(8)
        seen = self._keys.seen(msg.key.platform, msg.message_id)
        pipe: Any = self._redis.pipeline(transaction=False)
        pipe.set(seen, token, nx=True, ex=self._dedupe_ttl_s)
        pipe.get(seen)
        pipe.exists(self._keys.paused(msg.key))
        pipe.get(self._keys.mute(user_id))
        for _, name, _ in counters:
            pipe.incr(name)
            pipe.expire(name, WINDOW_TTL_S)
        results = await redis_call(pipe.execute())

        holder, paused, muted_until = results[1], results[2], results[3]
        counts = [int(results[4 + 2 * i]) for i in range(len(counters))]
        decision = Admission(AdmissionKind.OK)
        if (holder.decode() if isinstance(holder, bytes) else holder) != token:
            decision = Admission(AdmissionKind.DUPLICATE)
        elif paused:
            decision = Admission(AdmissionKind.PAUSED)
        elif muted_until is not None and float(muted_until) > now:
            decision = Admission(AdmissionKind.MUTED, until=float(muted_until))
        else:
            for (scope, _, limit), count in zip(counters, counts, strict=True):
                if count > limit:
                    retry_after = (window + 1) * WINDOW_S - now
                    decision = Admission(AdmissionKind.RATE_LIMITED, retry_after_s=retry_after, scope=scope)
                    break
        if decision.kind is not AdmissionKind.OK and counters:
            await self._uncount([name for _, name, _ in counters])
        return decision

    async def _uncount(self, names: list[str]) -> None:
        """Take back the increments of a rejected message (best effort: the window expires anyway)."""
        pipe: Any = self._redis.pipeline(transaction=False)
        for name in names:
            pipe.decr(name)
            pipe.expire(name, WINDOW_TTL_S)  # DECR would recreate an expired window without a TTL
        try:
            await redis_call(pipe.execute())
        except HistoryUnavailable:
            log.warning("gate.uncount_failed")

    async def set_paused(self, key: ConversationKey, paused: bool) -> None:
        name = self._keys.paused(key)
        if paused:
            await redis_call(self._redis.set(name, 1, ex=PAUSE_TTL_S))
        else:
            await redis_call(self._redis.delete(name))

    async def is_paused(self, key: ConversationKey) -> bool:
        return bool(await redis_call(self._redis.exists(self._keys.paused(key))))

    async def mute(self, user_id: str, seconds: float) -> float:
        """The key holds the end time and expires with it; `admit` also compares the end time with its
        clock, so a mute never outlasts `seconds` by the key's whole-second rounding."""
        until = self._clock() + seconds
        await redis_call(
            self._redis.set(self._keys.mute(user_id), repr(until), ex=max(1, math.ceil(seconds)))
        )
        return until

    async def unmute(self, user_id: str) -> None:
        await redis_call(self._redis.delete(self._keys.mute(user_id)))


# (error) -> whether its notice should be shown now
NoticeGate = Callable[[RelayError], Awaitable[bool]]
MAX_MUTE_NOTICE_GAP_S = 3600  # a long mute is mentioned again after an hour


class NoticeThrottle:
    """Whether the notice of a refused message is shown: a cooldown's notice (rate limited, muted) once per
    cooldown and scope (the user, or the channel for a channel limit), across every process; any other
    notice always. When Redis cannot be reached the notice is shown (a notice too many beats none)."""

    def __init__(
        self, *, redis: aioredis.Redis, keys: KeySpace, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._clock = clock

    async def first(self, msg: IncomingMessage, error: RelayError) -> bool:
        if isinstance(error, RateLimited):
            who = msg.user_id if error.scope == "user" else msg.key.channel_id
            scope, ttl = f"rl:{error.scope}:{who}", error.retry_after_s
        elif isinstance(error, Muted):
            scope, ttl = f"mute:{msg.user_id}", min(error.until - self._clock(), MAX_MUTE_NOTICE_GAP_S)
        else:
            return True
        name = self._keys.notice(scope)
        try:
            return bool(await redis_call(self._redis.set(name, 1, nx=True, ex=max(1, math.ceil(ttl)))))
        except HistoryUnavailable:
            return True

    def gate(self, msg: IncomingMessage) -> NoticeGate:
        """`first` for one message: what a reply sink asks before it shows a cooldown notice."""

        async def first(error: RelayError) -> bool:
            return await self.first(msg, error)

        return first
