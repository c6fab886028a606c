"""The audit trail (a capped Redis stream), the moderator feed protocol, and strikes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
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
    action: str  # block | flag | allow (allow: only with the policy's `audit.record_allowed`)
    category: str
    layer: str
    excerpt: str  # "" when the policy stores none
    category_name: str = ""  # the policy's name for the category ("Injection Markers"), for moderators
    # For `policy replay` (the policy's `audit.replay_chars`; "" when it is 0 or `store_excerpt` is false):
    text: str = ""  # the checked text (a request, or an answer so far), up to replay_chars
    prompt: str = ""  # output stage: the request the answer answered, up to replay_chars
    adult_channel: bool = False  # the policy's overrides may depend on it
    language: str = ""  # of the text checked: ISO 639 code, "und" when too short to tell
    # A member's report of an answer (action "report", core/reports.py): who reported it. `user_id` and
    # `author_name` are then the asker's, `message_id` the reported message, `text` the answer, `prompt`
    # the request.
    reporter: str = ""  # the reporter as the core knows users (`IncomingMessage.user_id`)
    reporter_name: str = ""

    def fields(self) -> dict[str, str]:
        return {k: _field(v) for k, v in asdict(self).items() if k not in _OPTIONAL or v}

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> AuditEvent:
        """An event read back from the stream (entries written before a field existed get its default)."""
        return cls(
            time=float(fields.get("time") or 0.0),
            adult_channel=fields.get("adult_channel") == "1",
            **{name: fields.get(name, "") for name in _STRINGS},
        )


_OPTIONAL = frozenset(
    {"text", "prompt", "adult_channel", "reporter", "reporter_name"}
)  # left out when empty: allowed events stay small
_STRINGS = (
    *("platform", "space", "channel", "thread", "user_id", "author_name", "message_id", "stage", "action"),
    *("category", "layer", "excerpt", "category_name", "text", "prompt", "language"),
    *("reporter", "reporter_name"),
)


def _field(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


class ModFeed(Protocol):
    """Posts an audit event to a moderators' channel (implemented by the platform adapters)."""

    async def publish(self, event: AuditEvent) -> None: ...


class ModFeedQueue:
    """The moderators' feed of one platform (its MOD_LOG_CHANNEL), given to the moderator when it is built:
    `publish` keeps the platform's events and never waits; the platform's adapter, once connected, hands
    them to its poster in order (`serve`). At most `max_pending` wait; beyond that the oldest are dropped
    with a warning (a mod log that cannot keep up never holds up answers or memory)."""

    def __init__(self, platform: str, *, max_pending: int = 1000) -> None:
        self.platform = platform
        self._pending: asyncio.Queue[AuditEvent] = asyncio.Queue(maxsize=max_pending)

    async def publish(self, event: AuditEvent) -> None:
        if event.platform != self.platform:
            return
        if self._pending.full():
            self._pending.get_nowait()
            log.warning("modfeed.dropped", platform=self.platform, pending=self._pending.maxsize)
        self._pending.put_nowait(event)

    async def serve(self, post: Callable[[AuditEvent], Awaitable[None]]) -> None:
        """Hand every event to `post`, oldest first, until cancelled (the adapter runs it while it runs)."""
        while True:
            event = await self._pending.get()
            try:
                await post(event)
            except Exception as exc:  # a moderators' channel failing never stops the feed
                log.warning("modfeed.publish_failed", platform=self.platform, error=type(exc).__name__)


async def stop_serving(task: asyncio.Task[None] | None) -> None:
    """End an adapter's `ModFeedQueue.serve` task (at shutdown, once the answers in flight are drained)."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


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

    async def since(self, start: float, *, page: int = 1000) -> AsyncIterator[AuditEvent]:
        """Every event recorded since unix time `start`, oldest first (read in pages of `page`)."""
        cursor = f"{max(int(start * 1000), 0)}-0"
        while True:
            rows: Any = await redis_call(self._redis.xrange(self._key, min=cursor, count=page))
            for _id, fields in rows or []:
                yield AuditEvent.from_fields({_text(k): _text(v) for k, v in fields.items()})
            if not rows or len(rows) < page:
                return
            cursor = f"({_text(rows[-1][0])}"


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
