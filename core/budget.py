"""Daily token budgets per member and per community, shared in Redis by every process (BUDGET_* settings).

What counts: the tokens of an answered exchange as the conversation store counts them (core/tokens.py, the
counter CHAT_TOKENIZER picked): the member's turn (their message as the model sees it, with its ChatML
markers) plus the answer's turn. That is the work the member adds on the model server: the history replayed
in front of it is in the server's prefix cache (docs/architecture.md), so it is not charged again each time.
An answer the output check withholds is charged too (the server generated it); an answer the model server
cut off, and every refused message, is not.

When: `check` before any work (after the gate, before the input check): a member or community whose budget
is spent gets `OverBudget` (a notice until the reset), so a refused message costs nothing but one Redis
read. `charge` once the answer is generated, before it is shown: the answer is never cut short by the
budget (an answer that goes past it is finished; the next message is refused), and the answer that takes the
member or the community past BUDGET_WARN_AT_PERCENT, or past the whole budget, ends with a warning that
says so (`Charge.note`).

Redis: one counter per member and one per community and day (`core.keys.KeySpace.budget_member`,
`budget_community`), both in the community's hash slot, charged by one Lua script (INCRBY + EXPIRE of
both): atomic on a single Redis and on a Cluster alike, and shared by every replica. The script first sets
a marker of the message (`budget_charged`, ten minutes) with NX, so that a charge redis-py sends again after
a reply timeout counts once. Check and charge are
two steps: two answers of one member running at once both pass the check and are both charged (a budget
can be overshot by the answers in flight when it runs out, never refused half way). A counter expires an
hour after its day ends. The day is the date in BUDGET_TIMEZONE; budgets reset at its midnight.

Moderators (`IncomingMessage.can_administer`) are exempt with BUDGET_MODERATORS_EXEMPT: never refused, and
their tokens are not charged to either budget (they are counted in the metric). When Redis cannot be
reached, `check` fails like the gate before it (`HistoryUnavailable`); a failed `charge` is logged and the
answer is shown anyway.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
import structlog

from core import i18n
from core.errors import HistoryUnavailable, OverBudget
from core.history import redis_call
from core.keys import KeySpace
from core.models import IncomingMessage
from core.observability import Metrics
from core.settings import BudgetSettings

log = structlog.get_logger(__name__)

GRACE_S = 3600  # a day's counters outlive its end by this much (a charge that lands just after midnight)
CHARGED_TTL_S = 600  # how long a message's charge is remembered: longer than any retry of the script

# Once per message (KEYS[3], set NX for ARGV[3] seconds): INCRBY both counters (KEYS[1], KEYS[2]) by ARGV[1]
# and set their TTL to ARGV[2]. Returns the totals, also when the message was charged already.
_CHARGE = """
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[3]) then
  redis.call('INCRBY', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('INCRBY', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return {tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(redis.call('GET', KEYS[2]) or '0')}
"""


@dataclass(frozen=True, slots=True)
class Usage:
    """Today's use of one member in one community, and of the community. A limit of 0 is no limit."""

    member_used: int
    member_limit: int
    community_used: int
    community_limit: int
    resets_at: float  # unix seconds: the next midnight in BUDGET_TIMEZONE
    exempt: bool = False  # a moderator, with BUDGET_MODERATORS_EXEMPT

    @property
    def member_left(self) -> int | None:
        return None if not self.member_limit else max(0, self.member_limit - self.member_used)

    @property
    def community_left(self) -> int | None:
        return None if not self.community_limit else max(0, self.community_limit - self.community_used)

    @property
    def spent(self) -> str | None:
        """Which budget is spent ("member" first, then "community"), or None."""
        if self.exempt:
            return None
        if self.member_left == 0:
            return "member"
        if self.community_left == 0:
            return "community"
        return None


@dataclass(frozen=True, slots=True)
class Charge:
    """The usage after a charge, and the warning the answer that was charged ends with (a catalog id:
    `budget.warning.member`, `budget.spent.community`, …), or None."""

    usage: Usage
    note_id: str | None = None


class Budget(Protocol):
    @property
    def enabled(self) -> bool:
        """Whether any budget is set (else `check` and `charge` do nothing)."""
        ...

    async def usage(self, msg: IncomingMessage) -> Usage: ...

    async def check(self, msg: IncomingMessage) -> None:
        """Raise `OverBudget` when the member's or the community's budget is spent today."""
        ...

    async def charge(self, msg: IncomingMessage, tokens: int) -> Charge | None:
        """Charge `tokens` to the member and the community; None when nothing was charged."""
        ...

    def when(self, resets_at: float) -> str:
        """The reset time as a notice words it ("00:00 UTC")."""
        ...


class RedisBudget:
    """`Budget` on Redis, shared by every bot process that uses the same Redis and key prefix."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        keys: KeySpace,
        settings: BudgetSettings,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._settings = settings
        self._zone = ZoneInfo(settings.timezone)
        self._metrics = metrics or Metrics()
        self._clock = clock
        self._script: Any = redis.register_script(_CHARGE)

    @property
    def enabled(self) -> bool:
        s = self._settings
        return bool(s.member_tokens_per_day or s.community_tokens_per_day or s.overrides)

    def day(self, now: float) -> tuple[str, float]:
        """The budget day of `now` (its local date in BUDGET_TIMEZONE) and when it ends (unix seconds)."""
        local = dt.datetime.fromtimestamp(now, self._zone)
        tomorrow = local.date() + dt.timedelta(days=1)
        ends = dt.datetime.combine(tomorrow, dt.time(0), tzinfo=self._zone)
        return local.date().isoformat(), ends.timestamp()

    def when(self, resets_at: float) -> str:
        local = dt.datetime.fromtimestamp(resets_at, self._zone)
        return f"{local:%H:%M} {self._settings.timezone}"

    def _exempt(self, msg: IncomingMessage) -> bool:
        return self._settings.moderators_exempt and msg.can_administer

    def _names(self, msg: IncomingMessage, day: str) -> tuple[str, str]:
        key = msg.key
        return (
            self._keys.budget_member(key.platform, key.space, msg.author_id, day),
            self._keys.budget_community(key.platform, key.space, day),
        )

    async def usage(self, msg: IncomingMessage) -> Usage:
        day, resets_at = self.day(self._clock())
        member, community = self._names(msg, day)
        # One command per key: the keys share a hash slot, but a cluster client still routes MGET by slot.
        pipe: Any = self._redis.pipeline(transaction=False)
        pipe.get(member)
        pipe.get(community)
        member_used, community_used = await redis_call(pipe.execute())
        member_limit, community_limit = self._settings.limits_for(msg.key.platform.value, msg.key.space)
        return Usage(
            member_used=int(member_used or 0),
            member_limit=member_limit,
            community_used=int(community_used or 0),
            community_limit=community_limit,
            resets_at=resets_at,
            exempt=self._exempt(msg),
        )

    async def check(self, msg: IncomingMessage) -> None:
        if not self.enabled or self._exempt(msg):
            return
        usage = await self.usage(msg)
        scope = usage.spent
        if scope is None:
            return
        platform, community = msg.key.platform.value, msg.key.space
        self._metrics.budget_refusals.labels(platform=platform, community=community, scope=scope).inc()
        raise OverBudget(scope=scope, resets_at=usage.resets_at, when=self.when(usage.resets_at))

    async def charge(self, msg: IncomingMessage, tokens: int) -> Charge | None:
        if not self.enabled or tokens <= 0:
            return None
        platform, community = msg.key.platform.value, msg.key.space
        self._metrics.budget_tokens.labels(platform=platform, community=community).inc(tokens)
        if self._exempt(msg):
            return None
        now = self._clock()
        day, resets_at = self.day(now)
        ttl = max(60, int(resets_at - now) + GRACE_S)
        try:
            marker = self._keys.budget_charged(msg.key.platform, msg.key.space, msg.message_id)
            member_used, community_used = await redis_call(
                self._script(keys=[*self._names(msg, day), marker], args=[tokens, ttl, CHARGED_TTL_S])
            )
        except HistoryUnavailable:
            log.warning("budget.charge_failed", tokens=tokens)  # the answer is shown all the same
            return None
        member_limit, community_limit = self._settings.limits_for(platform, community)
        usage = Usage(
            member_used=int(member_used),
            member_limit=member_limit,
            community_used=int(community_used),
            community_limit=community_limit,
            resets_at=resets_at,
        )
        self._metrics.budget_used.labels(platform=platform, community=community).set(usage.community_used)
        return Charge(usage, self._note(usage, tokens))

    def _note(self, usage: Usage, tokens: int) -> str | None:
        """The warning for the answer that crossed a threshold: "spent" over "warning", member over
        community."""
        warn = self._settings.warn_at_percent / 100
        crossed: list[tuple[str, str]] = []
        for scope, used, limit in (
            ("member", usage.member_used, usage.member_limit),
            ("community", usage.community_used, usage.community_limit),
        ):
            if not limit:
                continue
            before = used - tokens
            if before < limit <= used:
                crossed.append(("spent", scope))
            elif before < limit * warn <= used:
                crossed.append(("warning", scope))
        if not crossed:
            return None
        kind, scope = min(crossed, key=lambda c: (c[0] != "spent", c[1] != "member"))
        return f"budget.{kind}.{scope}"


def note_text(charge: Charge, language: str, when: str) -> str:
    """The warning of `charge` (its `note_id` set) in `language`, ready to append to the answer."""
    assert charge.note_id is not None
    usage = charge.usage
    left = usage.member_left if charge.note_id.endswith("member") else usage.community_left
    text = i18n.translate(charge.note_id, language, left=f"{left or 0:,}", when=when)
    return f"\n\n_{text}_"


class NoBudget:
    """No budgets (BUDGET_* unset, or a caller without Redis)."""

    enabled = False

    async def usage(self, msg: IncomingMessage) -> Usage:
        return Usage(0, 0, 0, 0, resets_at=0.0)

    async def check(self, msg: IncomingMessage) -> None:
        return None

    async def charge(self, msg: IncomingMessage, tokens: int) -> Charge | None:
        return None

    def when(self, resets_at: float) -> str:
        return ""
