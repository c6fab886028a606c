"""Daily token budgets (core/budget.py) over a throwaway Redis: two services on two Redis clients stand for
two replicas, so every check and charge is shared through Redis only."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from bots.runtime import build_redis
from core.alignment.base import AllowAll
from core.budget import RedisBudget
from core.builder import build_service, code_settings
from core.commands import Commands, Notation
from core.errors import ConfigurationError, OverBudget
from core.keys import KeySpace
from core.models import ConversationKey, IncomingMessage, Outcome, Platform
from core.observability import Metrics
from core.service import ChatService
from core.settings import BudgetSettings, LimitSettings, RedisSettings, Settings, load_settings
from tests.clock import Clock
from tests.fakes.memory import RecordingSink, Script, ScriptedGenerator, WordCounter
from tests.integration.test_redis_cluster import CLI, SERVER, cluster  # noqa: F401  (a 3-master cluster)

GUILD = ConversationKey(Platform.DISCORD, "900", "1")
OTHER_GUILD = ConversationKey(Platform.DISCORD, "901", "1")
# 2026-12-06 10:00 UTC
MORNING = dt.datetime(2026, 12, 6, 10, tzinfo=dt.UTC).timestamp()
NOTATION = Notation(moderators="command.moderators.discord", command=str, time=lambda unix: f"at {unix:.0f}")


@dataclass
class Replicas:
    """Two services, each on its own Redis client (as two processes would be), one clock."""

    a: ChatService
    b: ChatService
    generator: ScriptedGenerator
    metrics: Metrics
    clock: Clock
    clients: list[aioredis.Redis] = field(default_factory=list)


@pytest.fixture
async def replicas(redis_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Replicas]:
    budget: BudgetSettings = getattr(request, "param", None) or BudgetSettings(
        member_tokens_per_day=40, community_tokens_per_day=1000, warn_at_percent=50
    )
    settings = code_settings(budget=budget, limits=LimitSettings(user_per_minute=0, channel_per_minute=0))
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    generator, metrics, clock = ScriptedGenerator(), Metrics(), Clock(MORNING)
    a, b = (
        build_service(
            settings,
            generator=generator,
            moderator=AllowAll(),
            redis=client,
            counter=WordCounter(),
            metrics=metrics,
            clock=clock,
        )
        for client in clients
    )
    try:
        yield Replicas(a, b, generator, metrics, clock, clients)
    finally:
        for client in clients:
            await client.aclose()


_ids = iter(range(1, 10_000))


def budget_on(client: aioredis.Redis, **settings: int) -> RedisBudget:
    """A budget on `client` alone (no service), on the test's morning."""
    return RedisBudget(
        redis=client, keys=KeySpace("relay"), settings=BudgetSettings(**settings), clock=Clock(MORNING)
    )


def msg(
    text: str = "hello there", *, author: str = "ann", key: ConversationKey = GUILD, moderator: bool = False
) -> IncomingMessage:
    return IncomingMessage(
        key=key,
        message_id=f"m{next(_ids)}",
        author_id=author,
        author_name=author,
        text=text,
        can_administer=moderator,
    )


async def ask(
    service: ChatService, message: IncomingMessage, answer: str = "one two three four"
) -> RecordingSink:
    sink = RecordingSink()
    service._generator.enqueue(Script(re.findall(r"\S+\s*", answer)))  # type: ignore[attr-defined]
    result = await service.handle(message, sink)
    sink.outcome = result.outcome  # type: ignore[attr-defined]
    return sink


async def test_budget_is_shared_by_replicas_the_crossing_answer_is_finished_and_the_next_refused(
    replicas: Replicas, redis_client: aioredis.Redis
) -> None:
    first = await ask(replicas.a, msg())
    assert first.outcome is Outcome.ANSWERED  # type: ignore[attr-defined]
    usage = await replicas.b.usage(msg())
    assert 0 < usage.member_used < 40  # charged by a, seen by b
    assert usage.community_used == usage.member_used

    # a long answer takes ann past her 40 tokens: it is shown whole, and says that it was the last one
    long = " ".join(f"w{i}" for i in range(60))
    crossing = await ask(replicas.b, msg(), long)
    assert crossing.outcome is Outcome.ANSWERED  # type: ignore[attr-defined]
    assert crossing.visible.startswith(long)
    assert "That was the last answer of your budget for today" in crossing.visible
    assert "00:00 UTC" in crossing.visible

    # the next message of hers, on either replica, is refused with the notice; no prompt is built
    prompts = len(replicas.generator.prompts)
    for service in (replicas.a, replicas.b):
        refused = await ask(service, msg())
        assert refused.outcome is Outcome.OVER_BUDGET  # type: ignore[attr-defined]
        assert refused.of("fail") == [
            "You've used today's token budget. I can answer you again after 00:00 UTC."
        ]
    assert len(replicas.generator.prompts) == prompts
    # her budget, not the community's: bob is answered
    assert (await ask(replicas.a, msg(author="bob"))).outcome is Outcome.ANSWERED  # type: ignore[attr-defined]
    refusals = replicas.metrics.budget_refusals.labels(platform="discord", community="900", scope="member")
    assert refusals._value.get() == 2
    tokens = replicas.metrics.budget_tokens.labels(platform="discord", community="900")._value.get()
    assert tokens == (await replicas.a.usage(msg())).community_used
    # the warning is not part of the stored history
    stored = await redis_client.lrange(KeySpace("relay").turns(GUILD.id), 0, -1)
    assert not any(b"last answer" in raw for raw in stored)


async def test_warning_past_the_share_in_the_members_language(replicas: Replicas) -> None:
    # 50 % of 40 tokens: this exchange (the French question and an answer of 8 words) crosses it
    question = "Bonjour, pouvez-vous m'expliquer comment fonctionne la photosynthèse ?"
    sink = await ask(replicas.a, msg(question), "La lumière du soleil devient du sucre ici.")
    used = (await replicas.a.usage(msg())).member_used
    assert 20 <= used < 40, used
    assert sink.visible.endswith(
        f"_Il vous reste {40 - used} tokens aujourd'hui ; le budget est réinitialisé à 00:00 UTC._"
    )
    # the next answer stays under the limit: no warning again
    small = await ask(replicas.a, msg("Merci !"), "De rien.")
    assert small.visible == "De rien."
    assert (await replicas.a.usage(msg())).member_used < 40


@pytest.mark.parametrize(
    "replicas",
    [BudgetSettings(member_tokens_per_day=0, community_tokens_per_day=30, warn_at_percent=100)],
    indirect=True,
)
async def test_community_budget_refuses_everyone_there_but_not_other_communities(replicas: Replicas) -> None:
    long = " ".join(f"w{i}" for i in range(40))
    crossing = await ask(replicas.a, msg(author="ann"), long)
    assert "this community's budget" in crossing.visible
    refused = await ask(replicas.b, msg(author="bob"))
    assert refused.outcome is Outcome.OVER_BUDGET  # type: ignore[attr-defined]
    assert refused.of("fail") == [
        "This community has used today's token budget. I can answer again after 00:00 UTC."
    ]
    assert (await ask(replicas.b, msg(key=OTHER_GUILD))).outcome is Outcome.ANSWERED  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "replicas", [BudgetSettings(member_tokens_per_day=10, timezone="Asia/Tokyo")], indirect=True
)
async def test_budgets_reset_at_midnight_in_the_configured_zone(
    replicas: Replicas, redis_client: aioredis.Redis
) -> None:
    await ask(replicas.a, msg(), " ".join(["x"] * 20))
    refused = await ask(replicas.b, msg())
    assert refused.outcome is Outcome.OVER_BUDGET  # type: ignore[attr-defined]
    assert "after 00:00 Asia/Tokyo" in refused.visible
    usage = await replicas.a.usage(msg())
    tokyo_midnight = dt.datetime(2026, 12, 7, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()
    assert usage.resets_at == tokyo_midnight  # 15:00 UTC on the 6th
    # the day's counters expire an hour after the day ends
    ttls = [await redis_client.ttl(k) for k in await redis_client.keys("relay:v1:{budget:*")]
    assert ttls and all(0 < ttl <= tokyo_midnight - MORNING + 3600 for ttl in ttls)

    replicas.clock.now = tokyo_midnight + 1
    assert (await ask(replicas.b, msg())).outcome is Outcome.ANSWERED  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "replicas",
    [
        BudgetSettings(member_tokens_per_day=5, overrides=("discord:901=0/0",)),
    ],
    indirect=True,
)
async def test_overrides_and_exempt_moderators(replicas: Replicas) -> None:
    # guild 901 has no budget by its override; guild 900 has 5 tokens a member
    for _ in range(2):
        assert (await ask(replicas.a, msg(key=OTHER_GUILD))).outcome is Outcome.ANSWERED  # type: ignore[attr-defined]
    await ask(replicas.a, msg())
    assert (await ask(replicas.a, msg())).outcome is Outcome.OVER_BUDGET  # type: ignore[attr-defined]
    # a moderator is never refused, and not charged
    for _ in range(2):
        assert (await ask(replicas.b, msg(author="mod", moderator=True))).outcome is Outcome.ANSWERED  # type: ignore[attr-defined]
    usage = await replicas.b.usage(msg(author="mod", moderator=True))
    assert usage.exempt and usage.member_used == 0


@pytest.mark.parametrize(
    "replicas",
    [BudgetSettings(member_tokens_per_day=5, moderators_exempt=False)],
    indirect=True,
)
async def test_moderators_are_counted_when_not_exempt(replicas: Replicas) -> None:
    await ask(replicas.a, msg(author="mod", moderator=True))
    assert (await ask(replicas.b, msg(author="mod", moderator=True))).outcome is Outcome.OVER_BUDGET  # type: ignore[attr-defined]


async def test_concurrent_charges_from_two_clients_add_up_exactly(redis_url: str) -> None:
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    try:
        budgets = [budget_on(c, member_tokens_per_day=1_000_000) for c in clients]
        await asyncio.gather(*(budgets[i % 2].charge(msg(), 7) for i in range(200)))
        usage = await budgets[0].usage(msg())
        assert (usage.member_used, usage.community_used) == (1400, 1400)
    finally:
        for c in clients:
            await c.aclose()


async def test_usage_command_shows_what_is_left(replicas: Replicas) -> None:
    await ask(replicas.a, msg())
    used = (await replicas.a.usage(msg())).member_used
    reply = await Commands(service=replicas.b, notation=NOTATION).usage(msg())
    resets = dt.datetime(2026, 12, 7, tzinfo=dt.UTC).timestamp()
    assert reply.text.splitlines() == [
        f"You: {used} of 40 tokens used today, {40 - used} left.",
        f"This community: {used} of 1,000 tokens used today, {1000 - used} left.",
        f"Budgets reset at {resets:.0f}.",
    ]
    mod = await Commands(service=replicas.b, notation=NOTATION).usage(msg(author="m", moderator=True))
    assert mod.text.splitlines()[0] == "You: moderators have no budget here."
    japanese = await Commands(service=replicas.b, notation=NOTATION).in_language("ja").usage(msg())
    assert f"残り{40 - used}" in japanese.text


async def test_usage_command_without_budgets(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        service = build_service(
            code_settings(), generator=ScriptedGenerator(), moderator=AllowAll(), redis=client
        )
        reply = await Commands(service=service, notation=NOTATION).usage(msg())
        assert reply.text == "No token budgets are set here."
    finally:
        await client.aclose()


def test_invalid_budget_settings_name_the_setting() -> None:
    with pytest.raises(ConfigurationError, match=r"BUDGET_TIMEZONE.*IANA"):
        load_settings(None, budget={"timezone": "Mars/Olympus"})
    with pytest.raises(ConfigurationError, match=r"BUDGET_OVERRIDES.*platform:space=member/community"):
        load_settings(None, budget={"overrides": "discord:1=lots"})
    assert load_settings(None, budget={"overrides": "discord:1=5/0,slack:T1=0/9"}).budget.limits_for(
        "slack", "T1"
    ) == (0, 9)


async def test_a_charge_sent_again_counts_once(redis_url: str) -> None:
    """redis-py sends a script again when its reply timed out: the message's marker makes it count once."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        budget = budget_on(client, member_tokens_per_day=100)
        once = msg()
        first = await budget.charge(once, 30)
        again = await budget.charge(once, 30)
        assert first is not None and again is not None
        assert first.usage.member_used == again.usage.member_used == 30
        assert (await budget.charge(msg(), 30)) is not None
        assert (await budget.usage(once)).member_used == 60
    finally:
        await client.aclose()


@pytest.mark.skipif(SERVER is None or CLI is None, reason="redis-server and redis-cli start the cluster")
async def test_budgets_on_a_redis_cluster(cluster: str) -> None:  # noqa: F811
    """The charge script's keys share the community's hash slot: it runs on a 3-master cluster, and a member
    past their budget is refused there too."""
    client = build_redis(Settings(redis=RedisSettings(url=cluster, cluster=True)))
    try:
        budget = budget_on(client, member_tokens_per_day=50)
        charge = await budget.charge(msg(), 60)
        assert charge is not None and charge.note_id == "budget.spent.member"
        with pytest.raises(OverBudget):
            await budget.check(msg())
        assert (await budget.usage(msg(author="bob"))).community_used == 60
    finally:
        await client.aclose()
