"""The audit trail (a capped Redis stream), the moderator feed protocol, and strikes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
import structlog

from core.alignment.policy import Audit, Strikes
from core.history import redis_call
from core.keys import KeySpace

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    time: float
    platform: str
    space: str
    channel: str
    thread: str
    user_id: str
    author_name: str
    message_id: str
    stage: str  # input | output
    action: str  # block | flag
    category: str
    layer: str
    excerpt: str  # "" when the policy stores none
    category_name: str = ""  # the policy's name for the category ("Injection Markers"), for moderators
    language: str = ""  # of the text checked: ISO 639 code, "und" when too short to tell

    def fields(self) -> dict[str, str]:
        return {k: (f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in asdict(self).items()}


class ModFeed(Protocol):
    """Posts an audit event to a moderators' channel (implemented by the platform adapters)."""

    async def publish(self, event: AuditEvent) -> None: ...


class AuditLog:
    def __init__(
        self, *, redis: aioredis.Redis, keys: KeySpace, audit: Audit, clock: Callable[[], float] = time.time
    ):
        self._redis = redis
        self._key = keys.audit()
        self.audit = audit
        self._clock = clock

    async def record(self, event: AuditEvent) -> None:
        """Append the event; the stream keeps at most `max_entries` (exactly: blocks and flags are rare
        enough that exact trimming costs nothing) and nothing older than `retention_days`."""
        retention_s = self.audit.retention_days * 86400
        oldest_ms = int((self._clock() - retention_s) * 1000)
        pipe: Any = self._redis.pipeline(transaction=False)
        pipe.xadd(self._key, event.fields(), maxlen=self.audit.max_entries, approximate=False)
        pipe.xtrim(self._key, minid=f"{max(oldest_ms, 0)}-0", approximate=False)
        pipe.expire(self._key, int(retention_s) + 86400)
        await redis_call(pipe.execute())

    async def recent(self, count: int = 100) -> list[dict[str, str]]:
        rows: Any = await redis_call(self._redis.xrevrange(self._key, count=count))
        return [{_text(k): _text(v) for k, v in fields.items()} for _id, fields in rows or []]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class StrikeCounter:
    """N blocks within a window mute the user (through the gate's mute) for a period."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        keys: KeySpace,
        strikes: Strikes,
        mute: Callable[[str, float], Awaitable[float]],
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._strikes = strikes
        self._mute = mute

    async def strike(self, user_id: str) -> float | None:
        """Count one block; returns the unix time a mute ends when this strike caused one."""
        if self._strikes.mute_s <= 0:
            return None
        key = self._keys.strikes(user_id)
        pipe: Any = self._redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, max(1, int(self._strikes.window_s)), nx=True)
        count, _ = await redis_call(pipe.execute())
        if int(count) < self._strikes.count:
            return None
        await redis_call(self._redis.delete(key))
        return await self._mute(user_id, self._strikes.mute_s)


async def publish_all(feeds: Sequence[ModFeed], event: AuditEvent) -> None:
    for feed in feeds:
        try:
            await feed.publish(event)
        except Exception as exc:  # a moderators' channel failing never breaks an answer
            log.warning("modfeed.publish_failed", feed=type(feed).__name__, error=type(exc).__name__)
