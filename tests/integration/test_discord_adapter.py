"""The Discord sink against a recording fake channel, and the commands against real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import discord
import pytest
import redis.asyncio as aioredis

from bots.discord.app import MUTE_CHOICES, RelayClient
from bots.discord.sink import DiscordReplySink
from bots.runtime import Core
from bots.tasks import TaskTracker
from core.alignment.base import AllowAll
from core.gate import RedisGate
from core.history import RedisConversationStore
from core.keys import KeySpace
from core.models import ConversationKey, IncomingMessage, Outcome, Platform
from core.observability import Metrics
from core.service import ChatService
from core.settings import ChatSettings, HistorySettings, LimitSettings, Settings, TGISettings
from core.streaming import Coalescer
from tests.fakes.discord_payloads import ALICE, BOT_ID, GENERAL, GUILD_ID, MOD, World
from tests.fakes.memory import Script, ScriptedGenerator, WordCounter


class FakeMessage:
    def __init__(self, channel: FakeChannel, content: str) -> None:
        self.channel = channel
        self.content = content
        self.deleted = False

    async def edit(self, **kwargs: Any) -> FakeMessage:
        self.channel.calls.append(("edit", kwargs["content"], kwargs))
        self.content = kwargs["content"]
        return self

    async def delete(self) -> None:
        self.deleted = True
        self.channel.calls.append(("delete", self.content, {}))


class FakeChannel:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.typing_entered = 0

    async def send(self, content: str, **kwargs: Any) -> FakeMessage:
        assert content.strip(), "Discord rejects empty messages (50006)"
        self.calls.append(("send", content, kwargs))
        return FakeMessage(self, content)

    @contextlib.asynccontextmanager
    async def typing(self):  # type: ignore[no-untyped-def]
        self.typing_entered += 1
        yield

    def visible(self) -> list[str]:
        messages: dict[int, str] = {}
        order: list[int] = []
        for kind, content, _ in self.calls:
            if kind == "send":
                order.append(len(order))
                messages[len(order) - 1] = content
        return [messages[i] for i in order]


def fences_balanced(text: str) -> bool:
    return len(re.findall(r"^```", text, re.MULTILINE)) % 2 == 0


async def test_burst_of_tokens_is_edited_at_most_once_per_interval() -> None:
    channel = FakeChannel()
    world = World()
    asker = world.message("q")
    sink = DiscordReplySink(channel=channel, reply_to=asker, edit_interval_s=0.1)
    await sink.typing()
    coalescer = Coalescer(sink.update, min_interval_s=sink.limits.min_edit_interval_s)
    text = ""
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(500):
        text += f" tok{i}"
        coalescer.push(text.strip())
        if i % 25 == 0:
            await asyncio.sleep(0.01)
    elapsed = loop.time() - started
    await coalescer.aclose()
    await sink.finish(text.strip())
    updates = [c for c in channel.calls if c[0] in ("send", "edit")]
    assert len(updates) <= int(elapsed / 0.1) + 3
    assert channel.typing_entered == 1
    for kind, _content, kwargs in channel.calls:
        assert kwargs["allowed_mentions"].to_dict() == {"parse": []}, kind
    first = channel.calls[0]
    assert first[2]["mention_author"] is False and first[2]["reference"].message_id == asker.id


async def test_long_answer_with_code_becomes_balanced_messages_under_2000() -> None:
    channel = FakeChannel()
    sink = DiscordReplySink(channel=channel, reply_to=None, edit_interval_s=0.0)
    code = "\n".join(f"print('line {i}')  # {'x' * 20}" for i in range(150))
    answer = "Here you go:\n\n```python\n" + code + "\n```\n\n" + "Explanation sentence. " * 60
    assert len(answer) > 7000
    await sink.update(answer[:3000])
    await sink.finish(answer)
    sent = [c for c in channel.calls if c[0] == "send"]
    assert len(sent) >= 4
    finals = [m.content for m in sink.sent]
    assert all(0 < len(m) <= 2000 for m in finals)
    assert all(fences_balanced(m) for m in finals)
    assert all(c[2]["allowed_mentions"].to_dict() == {"parse": []} for c in channel.calls if c[0] != "delete")


async def test_generated_pings_never_ping_and_fail_replaces_the_message() -> None:
    channel = FakeChannel()
    sink = DiscordReplySink(channel=channel, reply_to=None, edit_interval_s=0.0)
    await sink.update("@everyone look <@&4001> <@5001>")
    assert channel.calls[0][2]["allowed_mentions"].everyone is False
    await sink.fail("Answer withheld.")
    assert channel.calls[-1][0] == "edit" and channel.calls[-1][1] == "Answer withheld."
    empty = FakeChannel()
    quiet = DiscordReplySink(channel=empty, reply_to=None, edit_interval_s=0.0)
    await quiet.update("   ")
    await quiet.finish("")
    assert empty.calls == []


# ---------------------------------------------------------------- commands


class FakeResponse:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.done = False

    def is_done(self) -> bool:
        return self.done

    async def defer(self, **kwargs: Any) -> None:
        self.done = True

    async def send_message(self, text: str, **kwargs: Any) -> None:
        assert kwargs.get("ephemeral") is True
        self.done = True
        self.log.append(text)


class FakeFollowup:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def send(self, text: str, **kwargs: Any) -> None:
        assert kwargs.get("ephemeral") is True
        self.log.append(text)


class FakeInteraction:
    def __init__(self, world: World, user_id: int) -> None:
        self.replies: list[str] = []
        self.user = world.guild.get_member(user_id)
        self.guild = world.guild
        self.channel = world.channel(GENERAL)
        self.id = 424242
        self.response = FakeResponse(self.replies)
        self.followup = FakeFollowup(self.replies)


@pytest.fixture
async def bot(redis_client: aioredis.Redis):  # type: ignore[no-untyped-def]
    keys = KeySpace("relay")
    gate = RedisGate(redis=redis_client, keys=keys, limits=LimitSettings(), dedupe_ttl_s=60)
    store = RedisConversationStore(redis=redis_client, keys=keys, settings=HistorySettings())
    generator = ScriptedGenerator()
    service = ChatService(
        store=store,
        gate=gate,
        generator=generator,
        counter=WordCounter(),
        moderator=AllowAll(),
        chat=ChatSettings(),
        tgi=TGISettings(),
    )
    core = Core(
        settings=Settings(),
        service=service,
        redis=redis_client,
        http=None,
        generator=generator,  # type: ignore[arg-type]
        moderator=AllowAll(),
        metrics=Metrics(),
        key_prefix="relay",
        tasks=TaskTracker(),
    )
    client = RelayClient(core, settings=Settings().discord)
    yield client, service, store, gate
    await client.close()


async def invoke(client: RelayClient, name: str, interaction: FakeInteraction, **kwargs: Any) -> None:
    command = client.tree.get_command(name.split()[0])
    for part in name.split()[1:]:
        command = command.get_command(part)  # type: ignore[union-attr]
    await command.callback(interaction, **kwargs)  # type: ignore[union-attr, call-arg]


KEY = ConversationKey(Platform.DISCORD, str(GUILD_ID), str(GENERAL))


async def test_channel_commands_refuse_members_without_rights(bot) -> None:  # type: ignore[no-untyped-def]
    client, service, _store, _gate = bot
    world = World()
    for name, kwargs in [
        ("reset", {}),
        ("persona set", {"text": "pirate"}),
        ("persona clear", {}),
        ("relay pause", {}),
        ("relay resume", {}),
        ("relay mute", {"user": world.guild.get_member(ALICE), "duration": "1h"}),
    ]:
        interaction = FakeInteraction(world, ALICE)
        await invoke(client, name, interaction, **kwargs)
        assert interaction.replies and "Only moderators" in interaction.replies[0], name
    assert await service.get_persona(KEY) is None


async def test_reset_persona_pause_mute_and_forget_me_in_redis(bot, redis_client: aioredis.Redis) -> None:  # type: ignore[no-untyped-def]
    client, service, _store, _gate = bot
    world = World()

    async def say(text: str, mid: str, author: int = ALICE) -> Outcome:
        msg = IncomingMessage(key=KEY, message_id=mid, author_id=str(author), author_name="x", text=text)
        from tests.fakes.memory import RecordingSink

        return (await service.handle(msg, RecordingSink())).outcome

    assert await say("remember me", "1") is Outcome.ANSWERED
    assert await say("and me", "2", author=MOD) is Outcome.ANSWERED
    mod = FakeInteraction(world, MOD)
    await invoke(client, "persona set", mod, text="You are a pirate.")
    assert await service.get_persona(KEY) == "You are a pirate."
    show = FakeInteraction(world, ALICE)
    await invoke(client, "persona show", show)
    assert show.replies == ["Persona: You are a pirate."]

    me = FakeInteraction(world, ALICE)
    await invoke(client, "forget-me", me)
    assert me.replies == ["Done: 1 stored message(s) of yours were deleted."]
    raw = await redis_client.lrange(KeySpace("relay").turns(KEY.id), 0, -1)
    assert len(raw) == 1 and b"and me" in raw[0]

    await invoke(client, "reset", FakeInteraction(world, MOD))
    assert await redis_client.llen(KeySpace("relay").turns(KEY.id)) == 0

    await invoke(client, "relay pause", FakeInteraction(world, MOD))
    assert await say("anyone?", "3") is Outcome.IGNORED
    await invoke(client, "relay resume", FakeInteraction(world, MOD))
    assert await say("anyone?", "4") is Outcome.ANSWERED

    await invoke(
        client, "relay mute", FakeInteraction(world, MOD), user=world.guild.get_member(ALICE), duration="10m"
    )
    assert await say("hello?", "5") is Outcome.MUTED
    assert MUTE_CHOICES["10m"] == 600


async def test_rate_limit_notice_is_shared_by_two_bot_processes(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    from tests.fakes.memory import RecordingSink

    other = aioredis.Redis.from_url(redis_url)
    try:
        keys = KeySpace("relay")
        services = []
        for client in (redis_client, other):
            services.append(
                ChatService(
                    store=RedisConversationStore(redis=client, keys=keys, settings=HistorySettings()),
                    gate=RedisGate(
                        redis=client, keys=keys, limits=LimitSettings(user_per_minute=2), dedupe_ttl_s=60
                    ),
                    generator=ScriptedGenerator(),
                    counter=WordCounter(),
                    moderator=AllowAll(),
                    chat=ChatSettings(),
                    tgi=TGISettings(),
                )
            )
        sinks = [RecordingSink() for _ in range(3)]
        outcomes = []
        for i, sink in enumerate(sinks):
            msg = IncomingMessage(
                key=KEY, message_id=f"r{i}", author_id=str(ALICE), author_name="A", text="hi"
            )
            outcomes.append((await services[i % 2].handle(msg, sink)).outcome)
        assert outcomes == [Outcome.ANSWERED, Outcome.ANSWERED, Outcome.RATE_LIMITED]
        assert "Try again in" in sinks[2].of("fail")[0]
    finally:
        await other.aclose()


_ = (BOT_ID, Script, discord)
