"""Conversation history: the `ConversationStore` protocol and its Redis implementation.

An exchange (the user's turn and the answer) is one list element, appended atomically after the answer
was delivered: history never holds half a turn. A per-conversation lock (an asyncio lock in the process
plus a lease in Redis, shared by every bot process) makes messages of one conversation be answered and
stored in order.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, unquote

import redis.asyncio as aioredis
import redis.exceptions
import structlog

from core.errors import HistoryUnavailable
from core.keys import KeySpace
from core.models import ConversationKey, Exchange, Role, Turn
from core.settings import HistorySettings


class ConversationSession(Protocol):
    """A conversation opened under its lock: what was stored, and a way to add one exchange."""

    @property
    def exchanges(self) -> Sequence[Exchange]:
        """Stored exchanges, oldest first (at most HISTORY_MAX_TURNS)."""
        ...

    @property
    def persona(self) -> str | None:
        """The conversation's system prompt override, if one is set."""
        ...

    async def commit(self, exchange: Exchange) -> None:
        """Append one exchange atomically (append + trim + TTL + user index); at most once per session."""
        ...


class ConversationStore(Protocol):
    def open(self, key: ConversationKey) -> AbstractAsyncContextManager[ConversationSession]:
        """Lock the conversation (in this process and across processes), load it, release on exit."""
        ...

    async def clear(self, key: ConversationKey) -> None: ...

    async def get_persona(self, key: ConversationKey) -> str | None: ...

    async def set_persona(self, key: ConversationKey, persona: str | None) -> None: ...

    async def forget_user(self, user_id: str) -> int:
        """Remove every stored exchange written by `IncomingMessage.user_id`; returns how many."""
        ...


# --------------------------------------------------------------------------------------------- Redis

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Take the lease and read the conversation in one round trip.
# KEYS: lock, turns, persona. ARGV: token, lease_ms. → {1, turns, persona} or {0, lock pttl}
_OPEN = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('LRANGE', KEYS[2], 0, -1), redis.call('GET', KEYS[3])}
end
return {0, redis.call('PTTL', KEYS[1])}
"""

# Append one exchange, trim, refresh TTLs, update the user's index (standalone only), release the lease.
# KEYS: lock, turns, persona[, user index]. ARGV: token, exchange, max_turns, ttl_ms, conv id.
_COMMIT = """
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
if KEYS[4] then
  redis.call('SADD', KEYS[4], ARGV[5])
  redis.call('PEXPIRE', KEYS[4], ARGV[4])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

# Release the lease only if it is still ours. KEYS: lock. ARGV: token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Remove every exchange whose user turn was written by an author. KEYS: turns. ARGV: author id.
_FORGET = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local keep, removed = {}, 0
for _, item in ipairs(items) do
  local ok, ex = pcall(cjson.decode, item)
  if ok and type(ex) == 'table' and type(ex['u']) == 'table' and ex['u']['a'] == ARGV[1] then
    removed = removed + 1
  else
    keep[#keep + 1] = item
  end
end
if removed > 0 then
  local ttl = redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  if #keep > 0 then
    redis.call('RPUSH', KEYS[1], unpack(keep))
    if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
  end
end
return removed
"""

_REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


async def redis_call(op: Awaitable[T]) -> T:
    """Await a Redis operation; connection problems become `HistoryUnavailable` (the one mapping)."""
    try:
        return await op
    except _REDIS_ERRORS as exc:
        raise HistoryUnavailable(f"redis: {type(exc).__name__}: {exc}") from None


def encode_exchange(ex: Exchange) -> str:
    return json.dumps(
        {
            "u": {"t": ex.user.text, "n": ex.user.tokens, "a": ex.user.author_id, "m": ex.user.author_name},
            "a": {"t": ex.assistant.text, "n": ex.assistant.tokens},
            "i": ex.message_id,
            "c": round(ex.created_at, 3),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode_exchange(raw: bytes | str) -> Exchange | None:
    try:
        d = json.loads(raw)
        return Exchange(
            user=Turn(
                Role.USER,
                d["u"]["t"],
                int(d["u"]["n"]),
                author_id=d["u"].get("a"),
                author_name=d["u"].get("m"),
            ),
            assistant=Turn(Role.ASSISTANT, d["a"]["t"], int(d["a"]["n"])),
            message_id=str(d.get("i", "")),
            created_at=float(d.get("c", 0.0)),
        )
    except (ValueError, KeyError, TypeError):
        log.warning("history.undecodable_entry")
        return None


@dataclass
class _RedisSession:
    store: RedisConversationStore
    conv_id: str
    token: str
    exchanges: list[Exchange]
    persona: str | None
    user_ids: set[str] = field(default_factory=set)
    committed: bool = False

    async def commit(self, exchange: Exchange) -> None:
        if self.committed:
            raise RuntimeError("commit() may be called once per session")
        self.committed = True
        await self.store._commit(self, exchange)


class RedisConversationStore:
    """History on Redis: one list of JSON exchanges per conversation, a lease lock, a per-user index.

    Round trips on the uncontended path: one to lock and load (a Lua script), one to append, trim,
    refresh TTLs, index and unlock (a Lua script). On Redis Cluster the user index (another hash slot) is
    written with one more command."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        keys: KeySpace,
        settings: HistorySettings,
        cluster: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._settings = settings
        self._cluster = cluster
        self._clock = clock
        self._open_script = redis.register_script(_OPEN)
        self._commit_script = redis.register_script(_COMMIT)
        self._release_script = redis.register_script(_RELEASE)
        self._forget_script = redis.register_script(_FORGET)
        self._local: dict[str, tuple[asyncio.Lock, int]] = {}  # conv id → (lock, users); emptied when unused

    @property
    def _ttl_ms(self) -> int:
        return self._settings.ttl_s * 1000

    # ---------------------------------------------------------------- sessions

    @asynccontextmanager
    async def open(self, key: ConversationKey) -> AsyncIterator[ConversationSession]:
        conv_id = key.id
        lock, users = self._local.get(conv_id, (asyncio.Lock(), 0))
        self._local[conv_id] = (lock, users + 1)
        try:
            async with lock:
                session = await self._acquire(conv_id)
                try:
                    yield session
                finally:
                    if not session.committed:
                        await self._release(session)
        finally:
            lock, users = self._local[conv_id]
            if users <= 1:
                del self._local[conv_id]
            else:
                self._local[conv_id] = (lock, users - 1)

    async def _acquire(self, conv_id: str) -> _RedisSession:
        token = secrets.token_hex(8)
        keys = [self._keys.lock(conv_id), self._keys.turns(conv_id), self._keys.persona(conv_id)]
        lease_ms = int(self._settings.lock_timeout_s * 1000)
        deadline = time.monotonic() + self._settings.lock_wait_s
        delay = 0.02
        while True:
            result: Any = await redis_call(self._open_script(keys=keys, args=[token, lease_ms]))
            if int(result[0]) == 1:
                exchanges = [ex for ex in (decode_exchange(r) for r in result[1]) if ex is not None]
                persona = result[2].decode() if isinstance(result[2], bytes) else result[2]
                return _RedisSession(self, conv_id, token, exchanges, persona or None)
            if time.monotonic() >= deadline:
                raise HistoryUnavailable(
                    "conversation lock wait exceeded",
                    notice="This conversation is busy with another answer. Please try again in a moment.",
                )
            pttl = int(result[1])
            wait = min(delay, max(pttl, 1) / 1000, max(0.0, deadline - time.monotonic()))
            await asyncio.sleep(wait)
            delay = min(delay * 2, 0.5)

    async def _commit(self, session: _RedisSession, exchange: Exchange) -> None:
        conv_id = session.conv_id
        keys = [self._keys.lock(conv_id), self._keys.turns(conv_id), self._keys.persona(conv_id)]
        user_id = _scoped_user(conv_id, exchange.user.author_id)
        if user_id is not None and not self._cluster:
            keys.append(self._keys.user_conversations(user_id))
        args: list[str | int] = [
            session.token,
            encode_exchange(exchange),
            self._settings.max_turns,
            self._ttl_ms,
            conv_id,
        ]
        await redis_call(self._commit_script(keys=keys, args=args))
        if user_id is not None and self._cluster:
            index = self._keys.user_conversations(user_id)
            pipe = self._redis.pipeline(transaction=True)
            pipe.sadd(index, conv_id)
            pipe.pexpire(index, self._ttl_ms)
            await redis_call(pipe.execute())

    async def _release(self, session: _RedisSession) -> None:
        try:
            await redis_call(
                self._release_script(keys=[self._keys.lock(session.conv_id)], args=[session.token])
            )
        except HistoryUnavailable:
            log.warning("history.release_failed")  # the lease expires by itself

    # ---------------------------------------------------------------- commands

    async def clear(self, key: ConversationKey) -> None:
        await redis_call(self._redis.delete(self._keys.turns(key.id)))

    async def get_persona(self, key: ConversationKey) -> str | None:
        value = await redis_call(self._redis.get(self._keys.persona(key.id)))
        return value.decode() if isinstance(value, bytes) else value

    async def set_persona(self, key: ConversationKey, persona: str | None) -> None:
        name = self._keys.persona(key.id)
        if persona is None:
            await redis_call(self._redis.delete(name))
        else:
            await redis_call(self._redis.set(name, persona, px=self._ttl_ms))

    async def forget_user(self, user_id: str) -> int:
        index = self._keys.user_conversations(user_id)
        members = await redis_call(self._redis.smembers(index))
        author = unquote(user_id.rsplit(":", 1)[-1])
        removed = 0
        for raw in members:
            conv_id = raw.decode() if isinstance(raw, bytes) else str(raw)
            removed += int(
                await redis_call(self._forget_script(keys=[self._keys.turns(conv_id)], args=[author]))
            )
        await redis_call(self._redis.delete(index))
        return removed


def _scoped_user(conv_id: str, author_id: str | None) -> str | None:
    """`IncomingMessage.user_id` of an author in a conversation (platform and space come from its id)."""
    if not author_id:
        return None
    platform, space = conv_id.split(":", 2)[:2]
    return f"{platform}:{space}:{quote(author_id, safe='')}"
