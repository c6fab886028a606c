"""Conversation history: the `ConversationStore` protocol and its Redis implementation.

An exchange (the user's turn and the answer) is one list element, appended atomically after the answer
was delivered: history never holds half a turn. A per-conversation lock (an asyncio lock in the process
plus a lease in Redis, shared by every bot process) makes messages of one conversation be answered and
stored in order. The lease is short and renewed while its holder works, so a lease that nobody gives back (a
crashed process, a release lost in a Redis outage and restored from the AOF) frees itself within seconds.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import quote, unquote

import redis.asyncio as aioredis
import redis.exceptions
import structlog
from redis.asyncio.cluster import RedisCluster

from core.errors import Busy, HistoryUnavailable
from core.keys import KeySpace
from core.models import ConversationKey, Exchange, Platform, Role, Turn
from core.redact import redact_url
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


@dataclass(frozen=True, slots=True)
class AnsweredExchange:
    """A stored exchange found from a message that showed its answer (`find_answer`)."""

    key: ConversationKey
    exchange: Exchange


class AnswerIndex(Protocol):
    """Finds the request behind a message that showed an answer (the Redis store implements it)."""

    async def find_answer(self, platform: Platform, ref: str) -> AnsweredExchange | None: ...


def conversation_key_of(conv_id: str) -> ConversationKey | None:
    """`ConversationKey.id` read back (None when it is not one)."""
    parts = conv_id.split(":")
    if len(parts) != 4:
        return None
    platform, space, channel, thread = parts
    try:
        return ConversationKey(
            Platform(platform), unquote(space), unquote(channel), None if thread == "-" else unquote(thread)
        )
    except ValueError:
        return None


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

    async def forget_author(self, platform: Platform, author_id: str) -> int:
        """`forget_user` in every space (server, workspace, DMs) of `platform`; returns how many."""
        ...


# --------------------------------------------------------------------------------------------- Redis

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Scripts are idempotent, because redis-py retries a command whose reply timed out (it may have run).
# Take the lease (or find it already ours) and read the conversation in one round trip.
# KEYS: lock, turns, persona. ARGV: token, lease_ms. → {1, turns, persona} or {0, lock pttl}
_OPEN = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) or redis.call('GET', KEYS[1]) == ARGV[1] then
  return {1, redis.call('LRANGE', KEYS[2], 0, -1), redis.call('GET', KEYS[3])}
end
return {0, redis.call('PTTL', KEYS[1])}
"""

# Append one exchange, trim, refresh TTLs, update the user's index (standalone only), index the messages that
# showed the answer (standalone only), release the lease.
# KEYS: lock, turns, persona[, user index, author's spaces], answer keys…
# ARGV: token, exchange, max_turns, ttl_ms, conv id, user id ("" when the indexes are not in KEYS), answer.
# → 1 when the lease was still ours, 0 when it had expired (the exchange is appended all the same).
# A retry finds its exchange already at the tail and does not append it twice.
_COMMIT = """
if redis.call('LINDEX', KEYS[2], -1) ~= ARGV[2] then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
local answers = 4
if ARGV[6] ~= '' then
  redis.call('SADD', KEYS[4], ARGV[5])
  redis.call('PEXPIRE', KEYS[4], ARGV[4])
  redis.call('SADD', KEYS[5], ARGV[6])
  redis.call('PEXPIRE', KEYS[5], ARGV[4])
  answers = 6
end
for i = answers, #KEYS do
  redis.call('SET', KEYS[i], ARGV[7], 'PX', ARGV[4])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# Extend the lease only if it is still ours (never take it back: a renewal that arrives after the commit or
# the release must not lock the conversation again). KEYS: lock. ARGV: token, lease_ms. → 1 or 0.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# Release the lease only if it is still ours. KEYS: lock. ARGV: token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Remove every exchange whose user turn was written by an author, keeping the list's TTL.
# KEYS: turns. ARGV: author id. → number removed. RPUSH in chunks: Lua's unpack() has a stack limit.
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
  for i = 1, #keep, 1000 do
    redis.call('RPUSH', KEYS[1], unpack(keep, i, math.min(i + 999, #keep)))
  end
  if #keep > 0 and ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return removed
"""

# What "the store cannot be reached right now" looks like: connection loss, timeouts (including a full
# connection pool), a cluster without a master for a slot or in the middle of a fail-over.
_REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterError,
    redis.exceptions.RedisClusterException,
    redis.exceptions.TryAgainError,
    redis.exceptions.ReadOnlyError,
    OSError,
)
_DECODED_CACHE_SIZE = 4096  # exchanges (~1 KB each): the windows of the ~80 busiest conversations
_BUSY_NOTICE = "This conversation is busy with another answer. Please try again in a moment."


def unavailable(exc: BaseException) -> HistoryUnavailable:
    """The one mapping from a Redis failure to the error the user sees a notice for. No free connection in
    the pool is not Redis being unreachable: those members are told the bot is busy."""
    if isinstance(exc, redis.exceptions.MaxConnectionsError):
        return HistoryUnavailable(f"redis pool: {exc}", notice=Busy.notice)
    return HistoryUnavailable(redact_url(f"redis: {type(exc).__name__}: {exc}"))  # logged as its detail


async def redis_call(op: Awaitable[T]) -> T:
    """Await a Redis operation; an unreachable store becomes `HistoryUnavailable`."""
    try:
        return await op
    except _REDIS_ERRORS as exc:
        raise unavailable(exc) from None


def encode_exchange(ex: Exchange) -> str:
    """Compact JSON: u/a = user/assistant turn, t = text, n = tokens, a = author id, m = author name,
    i = message id, c = created at (unix seconds), w = exchanges before it in its prompt (when known),
    r = the messages that showed the answer (`Exchange.answer_refs`, when there are any)."""
    data: dict[str, Any] = {
        "u": {"t": ex.user.text, "n": ex.user.tokens, "a": ex.user.author_id, "m": ex.user.author_name},
        "a": {"t": ex.assistant.text, "n": ex.assistant.tokens},
        "i": ex.message_id,
        "c": round(ex.created_at, 3),
    }
    if ex.context is not None:
        data["w"] = ex.context
    if ex.answer_refs:
        data["r"] = list(ex.answer_refs)
    text = json.dumps(
        data,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    if text.isascii():
        return text
    # Lone surrogates cannot be sent to Redis as UTF-8: store U+FFFD rather than fail the commit.
    return text.encode("utf-8", "replace").decode("utf-8")


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
            context=int(d["w"]) if isinstance(d.get("w"), int) else None,
            answer_refs=tuple(str(r) for r in d.get("r") or ()),
        )
    except (ValueError, KeyError, TypeError):
        log.warning("history.undecodable_entry")
        return None


class _DecodedExchanges:
    """Decoded exchanges by their stored JSON, most recently used last.

    A conversation's window is read again for each of its messages, and decoding its 50 exchanges costs
    ~0.2 ms; with this, only the newest is decoded. Keyed by content, so an entry is never stale; bounded,
    and emptied by a reset or forget-me so that no removed text lingers in the process."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[bytes | str, Exchange] = OrderedDict()

    def decode(self, raw: bytes | str) -> Exchange | None:
        exchange = self._items.get(raw)
        if exchange is not None:
            self._items.move_to_end(raw)
            return exchange
        exchange = decode_exchange(raw)
        if exchange is not None and self._size > 0:
            self._items[raw] = exchange
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return exchange

    def clear(self) -> None:
        self._items.clear()


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class _RedisSession:
    store: RedisConversationStore
    conv_id: str
    token: str
    exchanges: list[Exchange]
    persona: str | None
    committed: bool = False  # commit() was called (successfully or not): at most once
    released: bool = False  # the lease was given back by a successful commit
    renewed_at: float = 0.0  # time.monotonic() when the lease was last taken or extended

    async def commit(self, exchange: Exchange) -> None:
        if self.committed:
            raise RuntimeError("commit() may be called once per session")
        self.committed = True
        await self.store._commit(self, exchange)
        self.released = True


class RedisConversationStore:
    """History on Redis: one list of JSON exchanges per conversation, a lease lock, a per-user index.

    Keys (core/keys.py): a conversation's turns, persona and lock share one hash slot (`{conv:<id>}`);
    the user's index of conversations (`{user:<id>}:convs`, for forget-me) lives in the user's slot.

    Round trips on the uncontended path: one to lock and load (a Lua script), one to append, trim, refresh
    TTLs, index and unlock (a Lua script); one to unlock when nothing is committed. On a single Redis
    (or Sentinel) the user index is updated inside the commit script: Redis enforces hash slots only in
    cluster mode. On Redis Cluster a script may only touch one slot, so the index is updated first, in
    its own transaction (one more round trip); index before turns, so forget-me never misses a turn.

    The lease (`lock_timeout_s`, seconds) is short and renewed every third of it while the session is
    open, so an answer of any length keeps it, and a lease that nobody gives back expires soon: a process
    that crashed holding it, or a release lost because Redis was down (Redis restores the lease from its
    AOF with its expiry time). A release that fails is retried in the background until Redis answers or
    the lease has expired anyway. A renewal never takes a lease back: when it finds the lease gone (expired
    in an outage, or lost with a Redis that restarted without it) the session goes on, and its commit is
    appended all the same (logged). Waiters poll with backoff for at most `lock_wait_s`, then get
    `HistoryUnavailable` with a "busy" notice; a lease whose holder is gone lets them in within
    `lock_timeout_s`.
    """

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
        self._cluster = cluster or isinstance(cast(object, redis), RedisCluster)
        self._clock = clock
        self._open_script = redis.register_script(_OPEN)
        self._commit_script = redis.register_script(_COMMIT)
        self._release_script = redis.register_script(_RELEASE)
        self._renew_script = redis.register_script(_RENEW)
        self._forget_script = redis.register_script(_FORGET)
        # conv id → (lock, sessions using or waiting for it); an entry is removed when its count drops to
        # zero, so memory follows the conversations active now, not every conversation ever seen.
        self._local: dict[str, tuple[asyncio.Lock, int]] = {}
        self._releasing: set[asyncio.Task[None]] = set()  # leases given back in the background
        self._decoded = _DecodedExchanges(_DECODED_CACHE_SIZE)

    @property
    def _ttl_ms(self) -> int:
        return self._settings.ttl_s * 1000

    @property
    def _lease_ms(self) -> int:
        return max(1, int(self._settings.lock_timeout_s * 1000))

    def _conv_keys(self, conv_id: str) -> list[str]:
        return [self._keys.lock(conv_id), self._keys.turns(conv_id), self._keys.persona(conv_id)]

    # ---------------------------------------------------------------- sessions

    @asynccontextmanager
    async def open(self, key: ConversationKey) -> AsyncIterator[ConversationSession]:
        conv_id = key.id
        lock, users = self._local.get(conv_id, (asyncio.Lock(), 0))
        self._local[conv_id] = (lock, users + 1)
        try:
            async with lock:
                session = await self._acquire(conv_id)
                renewing = _Renewal(partial(self._keep_lease, session), self._settings.lock_timeout_s / 3)
                try:
                    yield session
                finally:
                    renewing.cancel()
                    if not session.released:
                        # Nothing committed, or the commit failed: give the lease back; if Redis cannot
                        # be reached, again in the background until it can or the lease has expired.
                        released = False
                        try:
                            released = await self._release(conv_id, session.token)
                        finally:
                            if not released:
                                self._release_soon(conv_id, session.token, session.renewed_at)
        finally:
            lock, users = self._local[conv_id]
            if users <= 1:
                del self._local[conv_id]
            else:
                self._local[conv_id] = (lock, users - 1)

    async def _acquire(self, conv_id: str) -> _RedisSession:
        token = secrets.token_hex(8)
        keys = self._conv_keys(conv_id)
        lease_ms = self._lease_ms
        deadline = time.monotonic() + self._settings.lock_wait_s
        delay = 0.01
        while True:
            try:
                result: Any = await self._open_script(keys=keys, args=[token, lease_ms])
            except asyncio.CancelledError:
                # Cancelled while the script was on its way (shutdown, an input guard's block): it may
                # have taken the lease. Give it back in the background (a no-op when it did not), or the
                # conversation would be locked for the whole lease.
                self._release_soon(conv_id, token, time.monotonic())
                raise
            except _REDIS_ERRORS as exc:
                # A timed-out script may have run and taken the lease: give it back (now, or once Redis
                # answers again).
                if isinstance(exc, redis.exceptions.TimeoutError) and not await self._release(conv_id, token):
                    self._release_soon(conv_id, token, time.monotonic())
                raise unavailable(exc) from None
            if int(result[0]) == 1:
                exchanges = [ex for ex in map(self._decoded.decode, result[1]) if ex is not None]
                session = _RedisSession(self, conv_id, token, exchanges, _text(result[2]) or None)
                session.renewed_at = time.monotonic()
                return session
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning("history.lock_wait_exceeded", wait_s=self._settings.lock_wait_s)
                raise HistoryUnavailable("conversation lock wait exceeded", notice=_BUSY_NOTICE)
            pttl = int(result[1])  # -1/-2: no expiry / just released: retry soon
            await asyncio.sleep(min(delay, max(pttl, 1) / 1000, remaining))
            delay = min(delay * 2, 0.25)

    async def _commit(self, session: _RedisSession, exchange: Exchange) -> None:
        conv_id = session.conv_id
        keys = self._conv_keys(conv_id)
        platform = Platform(conv_id.split(":", 1)[0])
        user_id = _scoped_user(conv_id, exchange.user.author_id)
        answer = json.dumps({"c": conv_id, "i": exchange.message_id}, separators=(",", ":"))
        answer_keys = [self._keys.answer(platform, ref) for ref in exchange.answer_refs]
        args: list[str | int] = [
            session.token,
            encode_exchange(exchange),
            self._settings.max_turns,
            self._ttl_ms,
            conv_id,
            "",
            answer,
        ]
        indexed = user_id is not None and bool(exchange.user.author_id)
        if self._cluster:
            # Other hash slots: one transaction per index, and the answer's messages, in one round trip.
            pending = [self._set_answer(key, answer) for key in answer_keys]
            if user_id is not None and indexed:
                index = self._keys.user_conversations(user_id)
                # The author's spaces, so that forget-everywhere finds every space without scanning keys.
                spaces = self._keys.author_users(platform, str(exchange.user.author_id))
                pending += [self._add_to_index(index, conv_id), self._add_to_index(spaces, user_id)]
            await asyncio.gather(*pending)
        else:
            if user_id is not None and indexed:
                keys += [
                    self._keys.user_conversations(user_id),
                    self._keys.author_users(platform, str(exchange.user.author_id)),
                ]
                args[5] = user_id
            keys += answer_keys
        still_ours = await redis_call(self._commit_script(keys=keys, args=args))
        if not int(still_ours):
            log.warning("history.lease_expired_before_commit", lease_s=self._settings.lock_timeout_s)

    async def _set_answer(self, key: str, answer: str) -> None:
        await redis_call(self._redis.set(key, answer, px=self._ttl_ms))

    async def find_answer(self, platform: Platform, ref: str) -> AnsweredExchange | None:
        """The exchange whose answer a platform message showed (`Exchange.answer_refs`), with its
        conversation; None when no answer of the bot's is known there, or its exchange is no longer stored
        (expired, reset, forgotten, or trimmed from the window). Any process finds what any other stored."""
        raw = await redis_call(self._redis.get(self._keys.answer(platform, ref)))
        if raw is None:
            return None
        try:
            pointer = json.loads(raw)
            conv_id, message_id = str(pointer["c"]), str(pointer["i"])
        except (ValueError, KeyError, TypeError):
            log.warning("history.undecodable_answer_index")
            return None
        key = conversation_key_of(conv_id)
        if key is None:
            return None
        for item in reversed(await redis_call(self._redis.lrange(self._keys.turns(conv_id), 0, -1))):
            exchange = self._decoded.decode(item)
            if exchange is not None and exchange.message_id == message_id and ref in exchange.answer_refs:
                return AnsweredExchange(key=key, exchange=exchange)
        return None

    async def _add_to_index(self, index: str, member: str) -> None:
        pipe: Any = self._redis.pipeline(transaction=True)
        pipe.sadd(index, member)
        pipe.pexpire(index, self._ttl_ms)
        await redis_call(pipe.execute())

    async def _keep_lease(self, session: _RedisSession) -> None:
        """Extend the session's lease now and every third of it until cancelled (the session ended)."""
        interval = self._settings.lock_timeout_s / 3
        failing = False
        while True:
            try:
                kept = await redis_call(
                    self._renew_script(
                        keys=[self._keys.lock(session.conv_id)], args=[session.token, self._lease_ms]
                    )
                )
            except Exception as exc:  # HistoryUnavailable, or a bug: never an unretrieved task error
                if not isinstance(exc, HistoryUnavailable):
                    log.warning("history.lease_renew_error", error=type(exc).__name__)
                if not failing:
                    log.warning("history.lease_renew_failed")  # retried at the next interval
                failing = True
            else:
                failing = False
                if not int(kept):
                    # Expired while Redis could not be reached, or lost with a Redis that restarted
                    # without it; or given back by this session's own commit, whose reply is still on
                    # its way (a renewal due at the same moment): nothing to say here; a lease lost before
                    # the commit ran is the commit's `history.lease_expired_before_commit`.
                    if not session.committed:
                        log.warning("history.lease_lost", lease_s=self._settings.lock_timeout_s)
                    return
                session.renewed_at = time.monotonic()
            await asyncio.sleep(interval)

    def _release_soon(self, conv_id: str, token: str, renewed_at: float) -> None:
        """Give the lease back in the background, retrying while Redis cannot be reached, until the lease
        (last taken or extended at `renewed_at`, monotonic) has expired by itself."""
        task = asyncio.get_running_loop().create_task(
            self._release_until(conv_id, token, renewed_at + self._settings.lock_timeout_s)
        )
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _release_until(self, conv_id: str, token: str, expires_at: float) -> None:
        delay = 0.05
        while not await self._release(conv_id, token, quiet=True):
            remaining = expires_at - time.monotonic()
            if remaining <= 0:
                log.warning("history.release_failed")  # the lease has expired by itself
                return
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 1.0)

    async def _release(self, conv_id: str, token: str, *, quiet: bool = False) -> bool:
        """Give the lease back if it is still ours; False when Redis could not be reached."""
        try:
            await redis_call(self._release_script(keys=[self._keys.lock(conv_id)], args=[token]))
        except HistoryUnavailable:
            if not quiet:
                log.info("history.release_retrying")
            return False
        return True

    # ---------------------------------------------------------------- commands

    async def clear(self, key: ConversationKey) -> None:
        await redis_call(self._redis.delete(self._keys.turns(key.id)))
        self._decoded.clear()

    async def get_persona(self, key: ConversationKey) -> str | None:
        return _text(await redis_call(self._redis.get(self._keys.persona(key.id))))

    async def set_persona(self, key: ConversationKey, persona: str | None) -> None:
        name = self._keys.persona(key.id)
        if persona is None:
            await redis_call(self._redis.delete(name))
        else:
            await redis_call(self._redis.set(name, persona, px=self._ttl_ms))

    async def forget_user(self, user_id: str) -> int:
        """Each conversation is rewritten by one script (atomic against concurrent commits, which only
        append); the index goes last, so a failure half-way can simply be retried."""
        index = self._keys.user_conversations(user_id)
        members = await redis_call(self._redis.smembers(index))
        author = unquote(user_id.rsplit(":", 1)[-1])
        removed = 0
        for raw in members:
            conv_id = _text(raw) or ""
            turns = self._keys.turns(conv_id)
            removed += int(await redis_call(self._forget_script(keys=[turns], args=[author])))
        await redis_call(self._redis.delete(index))
        self._decoded.clear()
        log.info("history.forget_user", conversations=len(members), removed=removed)
        return removed

    async def forget_author(self, platform: Platform, author_id: str) -> int:
        """`forget_user` in every space of `platform` where the author has stored turns (the author's index
        of spaces, kept on commit); the index goes last, so a failure half-way can simply be retried."""
        index = self._keys.author_users(platform, author_id)
        members = await redis_call(self._redis.smembers(index))
        removed = 0
        for user_id in sorted(_text(raw) or "" for raw in members):
            if user_id:
                removed += await self.forget_user(user_id)
        await redis_call(self._redis.delete(index))
        return removed


class _Renewal:
    """Runs `keep` (a session's lease renewal) from `delay` seconds on, unless cancelled first: most
    sessions end sooner, and then cost a timer, not a task."""

    def __init__(self, keep: Callable[[], Coroutine[Any, Any, None]], delay: float) -> None:
        self._keep = keep
        self._task: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(delay, self._start)

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._keep(), name="conversation-lease")

    def cancel(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()


def _scoped_user(conv_id: str, author_id: str | None) -> str | None:
    """`IncomingMessage.user_id` of an author in a conversation (platform and space come from its id)."""
    if not author_id:
        return None
    platform, space = conv_id.split(":", 2)[:2]
    return f"{platform}:{space}:{quote(author_id, safe='')}"
