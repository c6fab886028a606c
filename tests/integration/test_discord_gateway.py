"""Welcome: the real discord.py client, started by `run_discord` over the real core (Redis, fake TGI), against
a loopback fake of Discord's gateway and REST API. A member mentions the bot and watches a streamed answer
arrive as a reply that pings nobody; a member without rights is refused /reset; shutdown drains and closes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import discord
import discord.webhook.async_
import pytest
import redis.asyncio as aioredis
import yarl

from bots.discord.app import run_discord
from bots.runtime import Core, open_core
from core.keys import KeySpace
from core.models import ConversationKey, Platform
from core.settings import (
    DiscordSettings,
    RedisSettings,
    RuntimeSettings,
    Settings,
    TGISettings,
)
from tests.fakes.discord_api import HEARTBEAT, IDENTIFY, TOKEN, FakeDiscord
from tests.fakes.discord_payloads import ALICE, BOT_ID, GENERAL, GUILD_ID, MOD, MOD_ROLE
from tests.fakes.tgi import FakeReply, FakeTGI, fake_tokenize

EDIT_INTERVAL_S = 0.25
PARAGRAPH = (
    "Dolphins sleep with one half of the brain at a time, so they can keep surfacing to breathe. "
    "They also keep one eye open to watch for predators. "
)
ANSWER = (
    f"Welcome aboard @everyone and <@&{MOD_ROLE}> and <@{ALICE}>!\n\n"
    + PARAGRAPH * 14
    + "\n```python\nprint('hello, @here')\n```\nEnjoy."
)


async def settled(timeout_s: float = 5.0) -> None:
    """Wait until every answer task the adapter spawned (named `discord-<message id>`) has finished."""
    answers = [t for t in asyncio.all_tasks() if t.get_name().removeprefix("discord-").isdigit()]
    if answers:
        await asyncio.wait(answers, timeout=timeout_s)


@pytest.fixture
def fake_urls(monkeypatch: pytest.MonkeyPatch) -> Any:
    def point_at(api: FakeDiscord) -> None:
        monkeypatch.setattr(discord.http.Route, "BASE", api.api_base)
        monkeypatch.setattr(discord.webhook.async_.Route, "BASE", api.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(api.gateway_url))

    return point_at


class Running:
    def __init__(
        self, api: FakeDiscord, tgi: FakeTGI, core: Core, stop: asyncio.Event, task: asyncio.Task[None]
    ):
        self.api, self.tgi, self.core, self.stop, self.task = api, tgi, core, stop, task


@pytest.fixture
async def running(
    request: pytest.FixtureRequest, redis_url: str, redis_client: aioredis.Redis, fake_urls: Any
) -> AsyncIterator[Running]:
    discord_overrides: dict[str, Any] = getattr(request, "param", {})
    async with FakeDiscord() as api, FakeTGI(token_delay_s=0.002) as tgi:
        fake_urls(api)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            redis=RedisSettings(url=redis_url),
            tgi=TGISettings(url=tgi.url),
            discord=DiscordSettings(token=TOKEN, edit_interval_s=EDIT_INTERVAL_S, **discord_overrides),  # type: ignore[arg-type]
            runtime=RuntimeSettings(shutdown_grace_s=3),
        )
        async with open_core(settings) as core:
            stop = asyncio.Event()
            task = asyncio.create_task(run_discord(core, stop=stop), name="test-discord")
            try:
                await asyncio.wait_for(api.guild_created.wait(), 10)
                yield Running(api, tgi, core, stop, task)
            finally:
                stop.set()
                await asyncio.wait_for(task, 10)


async def test_welcome_mention_streams_a_reply_that_pings_nobody(running: Running) -> None:
    api, tgi = running.api, running.tgi
    tgi.enqueue(FakeReply(text=ANSWER))

    # connected like a real bot: intents include the privileged Message Content, heartbeats answered
    identify = next(f for f in api.gateway_received if f["op"] == IDENTIFY)
    intents = discord.Intents._from_value(identify["d"]["intents"])
    assert intents.message_content and intents.guild_messages and intents.dm_messages and intents.guilds
    assert any(f["op"] == HEARTBEAT for f in api.gateway_received)
    synced = {c["name"] for c in api.commands["global"]}
    assert {"ask", "reset", "persona", "forget-me", "relay"} <= synced

    asked = api.message_create(
        f"<@{BOT_ID}> how do dolphins sleep?", author=ALICE, channel=GENERAL, mentions=[BOT_ID]
    )
    await api.dispatch("MESSAGE_CREATE", asked)
    await api.wait_until(lambda: "".join(api.visible(GENERAL)).endswith("Enjoy."), timeout_s=10)

    # the model saw the question with the bot's mention stripped, from the member's display name
    assert "how do dolphins sleep?" in tgi.prompts[-1] and f"<@{BOT_ID}>" not in tgi.prompts[-1]

    shown = api.visible(GENERAL)
    assert len(shown) >= 2 and all(0 < len(m) <= 2000 for m in shown)  # rolled over past 2,000
    assert all(len(re.findall(r"^```", m, re.MULTILINE)) % 2 == 0 for m in shown)
    assert shown[0].startswith("Welcome aboard @everyone")  # shown as text, …
    writes = api.calls("POST", f"/channels/{GENERAL}/messages") + api.calls("PATCH", f"/channels/{GENERAL}/")
    for call in writes:  # … but no send or edit may ping anyone
        mentions = call.json["allowed_mentions"]
        assert mentions["parse"] == [] and not mentions.get("users") and not mentions.get("roles")
        assert mentions.get("replied_user") in (None, False)
    first = api.calls("POST", f"/channels/{GENERAL}/messages")[0]
    assert str(first.json["message_reference"]["message_id"]) == asked["id"]  # a reply to the asker
    assert first.json["allowed_mentions"]["replied_user"] is False

    # typing first, then text; the stream was edited in place, not once per token
    typing = api.calls("POST", f"/channels/{GENERAL}/typing")
    assert typing and typing[0].at <= first.at
    patches = api.calls("PATCH", f"/channels/{GENERAL}/messages/")
    streamed_s = writes[-1].at - first.at
    assert len(patches) <= streamed_s / EDIT_INTERVAL_S + len(shown) + 2
    assert len(patches) < len(fake_tokenize(ANSWER)) / 20  # far fewer edits than tokens
    assert not [
        r for r in api.requests if r.method == "POST" and r.json is not None and r.json.get("content") == ""
    ]

    # the exchange is stored under the channel's conversation key
    await settled()
    key = ConversationKey(Platform.DISCORD, str(GUILD_ID), str(GENERAL))
    turns = await running.core.redis.lrange(KeySpace(running.core.key_prefix).turns(key.id), 0, -1)
    assert len(turns) == 1 and b"how do dolphins sleep?" in turns[0]


async def test_other_bots_and_webhooks_get_no_answer(running: Running) -> None:
    api = running.api
    from_bot = api.message_create(f"<@{BOT_ID}> hi", author=5004, channel=GENERAL, mentions=[BOT_ID])
    from_bot["author"] = {**from_bot["author"], "bot": True}
    hook = api.message_create(f"<@{BOT_ID}> hi", author=5005, channel=GENERAL, mentions=[BOT_ID])
    hook["webhook_id"] = "7777"
    unmentioned = api.message_create("just chatting", author=ALICE, channel=GENERAL)
    for payload in (from_bot, hook, unmentioned):
        await api.dispatch("MESSAGE_CREATE", payload)
    await asyncio.sleep(0.3)
    assert not api.calls("POST", f"/channels/{GENERAL}/")
    assert not running.tgi.requests


def slash(api: FakeDiscord, name: str, *, member_id: int) -> dict[str, Any]:
    """An INTERACTION_CREATE for a synced slash command without options, invoked by a guild member."""
    command = next(c for c in api.commands["global"] if c["name"] == name)
    member = next(m for m in api.guild["members"] if int(m["user"]["id"]) == member_id)
    mod_perms = str(1 << 5) if member_id == MOD else "1024"  # the Mods role has Manage Server
    return {
        "id": str(api.snowflake()),
        "application_id": str(BOT_ID),
        "type": 2,
        "token": "interaction-token",
        "version": 1,
        "guild_id": str(GUILD_ID),
        "channel_id": str(GENERAL),
        "channel": {"id": str(GENERAL), "type": 0, "guild_id": str(GUILD_ID), "name": "general"},
        "member": {**member, "permissions": mod_perms},
        "app_permissions": "0",
        "attachment_size_limit": 10485760,
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(GUILD_ID)},
        "context": 0,
        "data": {"id": command["id"], "name": name, "type": 1},
    }


async def test_member_without_rights_is_refused_reset_over_the_gateway(running: Running) -> None:
    api = running.api
    await api.dispatch("INTERACTION_CREATE", slash(api, "reset", member_id=ALICE))
    await api.wait_until(lambda: bool(api.interaction_responses), timeout_s=5)
    response = api.interaction_responses[0]
    assert response["type"] == 4  # answered at once, well within 3 s
    assert response["data"]["flags"] & 64  # ephemeral
    assert "Only moderators" in response["data"]["content"]
    await asyncio.sleep(0.1)
    assert len(api.interaction_responses) == 1  # no error follow-up


async def test_stop_drains_the_answer_in_flight_and_closes_the_gateway(running: Running) -> None:
    api, tgi = running.api, running.tgi
    tgi.enqueue(FakeReply(text="A slow but complete answer. " * 10, token_delay_s=0.03))
    asked = api.message_create(
        f"<@{BOT_ID}> tell me slowly", author=ALICE, channel=GENERAL, mentions=[BOT_ID]
    )
    await api.dispatch("MESSAGE_CREATE", asked)
    await api.wait_until(lambda: bool(api.visible(GENERAL)), timeout_s=5)
    running.stop.set()
    await asyncio.wait_for(running.task, 10)
    assert api.visible(GENERAL)[-1].rstrip().endswith("A slow but complete answer.")  # finished, not cut
    assert api.gateway_closed.is_set()


async def test_a_failing_command_tells_the_user_instead_of_thinking_forever(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = running.api

    async def broken(key: ConversationKey) -> None:
        raise RuntimeError("redis exploded")

    monkeypatch.setattr(running.core.service, "reset", broken)
    await api.dispatch("INTERACTION_CREATE", slash(api, "reset", member_id=MOD))
    await api.wait_until(lambda: len(api.interaction_responses) >= 2, timeout_s=5)
    deferred, followup = api.interaction_responses[:2]
    assert deferred["type"] == 5  # deferred within 3 s ("thinking…")
    assert "Sorry, that command failed" in followup["followup"]["content"]
    assert followup["followup"]["flags"] & 64


@pytest.mark.parametrize("running", [{"auto_thread": True}], indirect=True)
async def test_auto_thread_answers_in_a_new_thread_that_continues_without_mentions(running: Running) -> None:
    api, tgi = running.api, running.tgi
    tgi.enqueue(FakeReply(text="First answer, in the thread."), FakeReply(text="Second answer."))
    asked = api.message_create(
        f"<@{BOT_ID}> what is a pod of dolphins?", author=ALICE, channel=GENERAL, mentions=[BOT_ID]
    )
    await api.dispatch("MESSAGE_CREATE", asked)
    await api.wait_until(lambda: bool(api.threads) and bool(api.visible(int(api.threads[0]["id"]))))
    thread = api.threads[0]
    thread_id = int(thread["id"])
    assert thread["name"] == "what is a pod of dolphins?"  # named after the question
    assert api.calls("POST", f"/channels/{GENERAL}/messages/{asked['id']}/threads")
    assert api.visible(GENERAL) == []  # nothing in the channel itself
    await settled()

    follow = api.message_create("and how many are in one?", author=ALICE, channel=thread_id)
    await api.dispatch("MESSAGE_CREATE", follow)  # no mention needed in the bot's thread
    await api.wait_until(lambda: api.visible(thread_id)[-1:] == ["Second answer."])
    await settled()
    key = ConversationKey(Platform.DISCORD, str(GUILD_ID), str(thread_id))  # the thread is its own channel
    turns = await running.core.redis.lrange(KeySpace(running.core.key_prefix).turns(key.id), 0, -1)
    assert len(turns) == 2
