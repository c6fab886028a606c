"""Write budgets: how fast the bot writes to a chat platform, shared by every replica through Redis.

The platforms limit writes per scope (Slack: `chat.update` per workspace, `chat.postMessage` per channel;
Discord: requests per second per bot, message sends and edits per channel). A platform adapter describes the
limits one write falls under as `Window`s (at most `limit` writes in any `window_s`); `WriteBudget.spend`
checks and records the write in every window at once, in one Redis round trip (a Lua script over sorted sets of
the writes' times, on Redis's clock, so every process counts the same writes).

Writes have a priority (`Priority`):
- FIRST (the first message of an answer: its first text, or a placeholder) and FINAL (the final text, a
  notice) wait for room in the windows (at most about one window) and are never refused: a notice is never
  starved;
- INTERMEDIATE (an edit while the answer streams, a typing indicator) is refused when the window is full,
  or would leave no room for the final texts of the answers streaming now: a window with `reserve` keeps
  one write for each answer that has started (OPEN, `AnswerBudget.open`) or written in it and not yet sent
  its final text (a sorted set of live
  answers, each expiring after `live_ttl_s` if its process died; an answer that ends gives its places
  back, CLOSE, `AnswerBudget.close`), and `intermediate_limit` caps the
  intermediate writes below `limit`. A refused edit is skipped (the next one carries newer text), so when
  many answers stream at once each gets fewer intermediate edits; with one answer nothing changes.

When Redis cannot be reached, each process keeps the same windows in memory for `LOCAL_FOR_S` (counted in
`dolphin_relay_write_budget_fallbacks_total`): answers go on, each replica budgeting alone meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
import structlog

from core.observability import Metrics

log = structlog.get_logger(__name__)

# A write is counted when the budget lets it go; the platform counts it when it arrives, after the event loop,
# the HTTP client (discord.py's own bucket waits) and the network. Every window is counted this much longer
# than the platform's, so that writes let go at a window's two edges cannot arrive within one platform window.
ARRIVAL_MARGIN_S = 0.25
LOCAL_FOR_S = 5.0  # after a Redis failure, budget in memory this long before trying Redis again
LIVE_TTL_S = 120.0  # an answer's reservation lapses this long after its last write (its process died)


class Priority(StrEnum):
    OPEN = "open"  # an answer starts: a place is kept for its final text, nothing is written
    FIRST = "first"
    INTERMEDIATE = "intermediate"
    FINAL = "final"
    CLOSE = "close"  # an answer ended: the places kept for it are given back, nothing is written


_WRITES_NOTHING = frozenset({Priority.OPEN, Priority.CLOSE})


@dataclass(frozen=True, slots=True)
class Window:
    """At most `limit` writes in any `window_s` seconds under `key`; intermediate writes only while fewer
    than `intermediate_limit` (default `limit`) are in it, less one for each live answer when `reserve`.
    `name` labels the window in /metrics (the kind of limit, not the channel)."""

    name: str
    key: str
    limit: int
    window_s: float
    intermediate_limit: int | None = None
    reserve: bool = False

    @property
    def counted_s(self) -> float:
        """How long a write counts in the window (the platform's window plus `ARRIVAL_MARGIN_S`)."""
        return self.window_s + ARRIVAL_MARGIN_S

    @property
    def soft_limit(self) -> int:
        return self.limit if self.intermediate_limit is None else min(self.limit, self.intermediate_limit)


@dataclass(frozen=True, slots=True)
class Grant:
    granted: bool
    wait_s: float  # when refused: how long until there may be room
    used: tuple[int, ...]  # writes in each window (after this one, when granted)


# KEYS: per window, its writes (sorted set: member → time) and its live answers (member → expiry).
# ARGV: priority, answer id, unique member for this write, live TTL, then per window limit, soft limit,
# window seconds, reserve (0/1).
_SPEND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local prio, answer, member, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local n = #KEYS / 2
local wait, used = 0, {}
for i = 1, n do
  local key, live = KEYS[2 * i - 1], KEYS[2 * i]
  local base = 4 + 4 * (i - 1)
  local limit, soft, window = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local reserve = ARGV[base + 4] == '1'
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  used[i] = count
  local cap = limit
  if prio == 'open' or prio == 'close' then cap = count + 1 end
  if prio == 'intermediate' then
    cap = soft
    if reserve then
      redis.call('ZREMRANGEBYSCORE', live, '-inf', now)
      cap = cap - redis.call('ZCARD', live)
      if redis.call('ZSCORE', live, answer) == false then cap = cap - 1 end
    end
  end
  if count >= cap then
    local index = count - cap
    if index < 0 then index = 0 end
    local w = window
    if cap > 0 and index < count then
      local entry = redis.call('ZRANGE', key, index, index, 'WITHSCORES')
      w = tonumber(entry[2]) + window - now
    end
    if w > wait then wait = w end
  end
end
if wait > 0 then
  return {0, tostring(wait), unpack(used)}
end
for i = 1, n do
  local key, live = KEYS[2 * i - 1], KEYS[2 * i]
  local window = tonumber(ARGV[4 + 4 * (i - 1) + 3])
  if prio ~= 'open' and prio ~= 'close' then
    redis.call('ZADD', key, now, member)
    redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
    used[i] = used[i] + 1
  end
  if ARGV[4 + 4 * (i - 1) + 4] == '1' then
    if prio == 'final' or prio == 'close' then
      redis.call('ZREM', live, answer)
    else
      redis.call('ZADD', live, now + ttl, answer)
      redis.call('PEXPIRE', live, math.ceil(ttl * 1000))
    end
  end
end
return {1, '0', unpack(used)}
"""


class LocalWindows:
    """The same windows in this process's memory (while Redis is unreachable). Windows nobody wrote to for
    `LIVE_TTL_S` (longer than any window counts a write or keeps a place) are forgotten once more than
    `sweep_at` are held, so a long outage across many channels does not grow it without bound."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, sweep_at: int = 4096) -> None:
        self._clock = clock
        self._sweep_at = sweep_at
        self._writes: dict[str, deque[float]] = {}
        self._live: dict[str, dict[str, float]] = {}

    def __len__(self) -> int:
        """How many windows it holds."""
        return len(self._writes.keys() | self._live.keys())

    def _sweep(self, now: float) -> None:
        idle = now - LIVE_TTL_S
        for key in [k for k, writes in self._writes.items() if not writes or writes[-1] <= idle]:
            del self._writes[key]
        for key in [k for k, live in self._live.items() if all(expiry <= now for expiry in live.values())]:
            del self._live[key]

    def spend(self, windows: Sequence[Window], priority: Priority, answer: str) -> Grant:
        now = self._clock()
        if len(self._writes) + len(self._live) > self._sweep_at:
            self._sweep(now)
        wait, used = 0.0, []
        for w in windows:
            writes = self._writes.setdefault(w.key, deque())
            while writes and writes[0] <= now - w.counted_s:
                writes.popleft()
            used.append(len(writes))
            cap = len(writes) + 1 if priority in _WRITES_NOTHING else w.limit
            if priority is Priority.INTERMEDIATE:
                cap = w.soft_limit
                if w.reserve:
                    live = self._live.setdefault(w.key, {})
                    for gone in [a for a, expiry in live.items() if expiry <= now]:
                        del live[gone]
                    cap -= len(live) + (0 if answer in live else 1)
            if len(writes) >= cap:
                index = max(len(writes) - cap, 0)
                room = writes[index] + w.counted_s - now if cap > 0 and index < len(writes) else w.counted_s
                wait = max(wait, room)
        if wait > 0:
            return Grant(False, wait, tuple(used))
        for w in windows:
            if priority not in _WRITES_NOTHING:
                self._writes[w.key].append(now)
            if w.reserve:
                live = self._live.setdefault(w.key, {})
                if priority in (Priority.FINAL, Priority.CLOSE):
                    live.pop(answer, None)
                else:
                    live[answer] = now + LIVE_TTL_S
        return Grant(True, 0.0, tuple(n + (priority not in _WRITES_NOTHING) for n in used))


class WriteBudget:
    """The write budget of one process, over Redis (see the module's docstring)."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._script = redis.register_script(_SPEND)
        self._metrics = self.metrics = metrics
        self._clock = clock
        self._local = LocalWindows(clock)
        self._local_until = float("-inf")

    async def try_spend(
        self, platform: str, windows: Sequence[Window], priority: Priority, *, answer: str
    ) -> Grant:
        """One attempt: the write is recorded in every window if there is room for it in all of them."""
        if not windows:
            return Grant(True, 0.0, ())
        grant: Grant | None = None
        if self._clock() >= self._local_until:
            grant = await self._remote(windows, priority, answer)
            if grant is None:
                self._local_until = self._clock() + LOCAL_FOR_S
                if self._metrics is not None:
                    self._metrics.write_budget_fallbacks.labels(platform=platform).inc()
        if grant is None:
            grant = self._local.spend(windows, priority, answer)
        if self._metrics is not None:
            for window, used in zip(windows, grant.used, strict=True):
                self._metrics.write_budget_used.labels(platform=platform, window=window.name).set(used)
                self._metrics.write_budget_limit.labels(platform=platform, window=window.name).set(
                    window.limit
                )
        return grant

    async def _remote(self, windows: Sequence[Window], priority: Priority, answer: str) -> Grant | None:
        keys: list[str] = []
        args: list[Any] = [priority.value, answer, os.urandom(8).hex(), LIVE_TTL_S]
        for w in windows:
            keys += [w.key, f"{w.key}:live"]
            args += [w.limit, w.soft_limit, w.counted_s, int(w.reserve)]
        try:
            reply = await self._script(keys=keys, args=args)
        except (redis.exceptions.RedisError, OSError, TimeoutError) as exc:
            log.warning("write_budget.redis_unavailable", error=type(exc).__name__, local_for_s=LOCAL_FOR_S)
            return None
        return Grant(bool(int(reply[0])), float(reply[1]), tuple(int(u) for u in reply[2:]))


class AnswerBudget:
    """One answer's writes against a `WriteBudget`: `windows(write)` names the windows of each kind of write
    (`post`, `edit`, `delete`, `typing`, and `open` for the answer's start) for this answer's platform scope and
    channel."""

    def __init__(
        self,
        budget: WriteBudget,
        *,
        platform: str,
        windows: Callable[[str], Sequence[Window]],
        max_wait_s: float,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._budget = budget
        self._platform = platform
        self._windows = windows
        self._max_wait_s = max_wait_s
        self._metrics = metrics
        self._clock = clock
        self.answer = os.urandom(8).hex()
        self._hold_until = float("-inf")  # no intermediate write before then (the last refusal's wait)
        self._held: dict[str, Window] = {}  # the windows (by key) that keep a place for this answer

    def _granted(self, windows: Sequence[Window], priority: Priority) -> None:
        for w in windows:
            if not w.reserve:
                continue
            if priority in (Priority.FINAL, Priority.CLOSE):
                self._held.pop(w.key, None)
            else:
                self._held[w.key] = w

    async def open(self) -> None:
        """The answer starts: each window with `reserve` keeps a place for its final text from now on (before
        its first write there), so that the intermediate edits of answers that started earlier cannot take
        it. Writes nothing; windows `windows("open")`."""
        windows = self._windows("open")
        if (await self._budget.try_spend(self._platform, windows, Priority.OPEN, answer=self.answer)).granted:
            self._granted(windows, Priority.OPEN)

    async def close(self) -> None:
        """The answer ended: the places still kept for it are given back at once (a final text posted as a
        new message, or a notice, is not an edit in the window that kept its place; without this the place
        would stay taken until `LIVE_TTL_S`, and intermediate edits of other answers refused meanwhile).
        Writes nothing; no Redis call when no place is kept."""
        if not self._held:
            return
        windows = list(self._held.values())
        self._held.clear()
        await self._budget.try_spend(self._platform, windows, Priority.CLOSE, answer=self.answer)

    async def spend(self, write: str, priority: Priority) -> bool:
        """Whether the write may go now. An intermediate write is refused (False) when there is no room; a
        first or final write waits for room, at most `max_wait_s`, and then goes regardless (the platform's
        own 429 handling takes over)."""
        windows = self._windows(write)
        if priority is Priority.INTERMEDIATE:
            if self._clock() < self._hold_until:
                self._count(write, priority, "deferred")
                return False
            grant = await self._budget.try_spend(self._platform, windows, priority, answer=self.answer)
            if not grant.granted:
                # Retry after the room is expected, spread so that answers refused together do not all
                # come back at the same moment.
                self._hold_until = self._clock() + grant.wait_s * (1 + random.random())
                self._count(write, priority, "deferred")
                return False
            self._granted(windows, priority)
            self._count(write, priority, "granted")
            return True
        started = self._clock()
        while True:
            grant = await self._budget.try_spend(self._platform, windows, priority, answer=self.answer)
            waited = self._clock() - started
            if grant.granted:
                self._granted(windows, priority)
                self._count(write, priority, "waited" if waited > 0 else "granted", waited)
                return True
            if waited + grant.wait_s > self._max_wait_s:
                self._count(write, priority, "overdrawn", waited)
                log.warning(
                    "write_budget.overdrawn", platform=self._platform, write=write, waited_s=round(waited, 2)
                )
                return True
            await asyncio.sleep(grant.wait_s + 0.005)

    def _count(self, write: str, priority: Priority, outcome: str, waited_s: float | None = None) -> None:
        if self._metrics is None:
            return
        self._metrics.platform_writes.labels(
            platform=self._platform, write=write, priority=priority.value, outcome=outcome
        ).inc()
        if waited_s is not None:
            self._metrics.write_budget_wait.labels(platform=self._platform).observe(waited_s)
