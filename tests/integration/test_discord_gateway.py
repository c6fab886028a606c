"""The real discord.py client, started by `run_discord` over the real core (Redis, fake TGI), against a
loopback fake of Discord's gateway and REST API: what members and moderators see in the channel."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import discord
import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from bots.discord.app import RESTARTING, run_discord
from bots.runtime import open_core
from core.errors import ConfigurationError
from core.models import ConversationKey, Platform
from core.settings import LimitSettings
from tests.clock import WINDOW_START, Clock
from tests.fakes.discord_api import HEARTBEAT, IDENTIFY, FakeDiscord
from tests.fakes.discord_harness import (
    CHANNEL_KEY,
    EDIT_INTERVAL_S,
    Bot,
    bot_running,
    mention,
    pointed_at,
    settings_for,
    slash,
)
from tests.fakes.discord_payloads import ALICE, BOT_ID, BOT_ROLE, GENERAL, GUILD_ID, MOD, MOD_ROLE, THREAD
from tests.fakes.tgi import FakeReply, FakeTGI, fake_tokenize

ROOT = Path(__file__).resolve().parents[2]
PARAGRAPH = (
    "Dolphins sleep with one half of the brain at a time, so they can keep surfacing to breathe. "
    "They also keep one eye open to watch for predators. "
)
ANSWER = (
    f"Welcome aboard @everyone and <@&{MOD_ROLE}> and <@{ALICE}>!\n\n"
    + PARAGRAPH * 14
    + "\n```python\nprint('hello, @here')\n```\nEnjoy."
)


def writes(api: FakeDiscord, channel: int) -> list[Any]:
    return api.calls("POST", f"/channels/{channel}/messages") + api.calls(
        "PATCH", f"/channels/{channel}/messages/"
    )


def assert_no_pings(calls: list[Any]) -> None:
    for call in calls:
        mentions = call.json["allowed_mentions"]
        assert mentions["parse"] == [] and not mentions.get("users") and not mentions.get("roles"), call.json
        assert mentions.get("replied_user") in (None, False)


async def test_welcome_mention_streams_a_reply_that_pings_nobody(bot: Bot) -> None:
    api, tgi = bot.api, bot.tgi
    tgi.enqueue(FakeReply(text=ANSWER))

    # connected like a real bot: intents include the privileged Message Content, heartbeats answered
    identify = next(f for f in api.gateway_received if f["op"] == IDENTIFY)
    intents = discord.Intents._from_value(identify["d"]["intents"])
    assert intents.message_content and intents.guild_messages and intents.dm_messages and intents.guilds
    assert not intents.members and not intents.presences
    assert any(f["op"] == HEARTBEAT for f in api.gateway_received)
    synced = {c["name"] for c in api.commands["global"]}
    assert synced == {"ask", "reset", "persona", "forget-me", "relay", "usage", "Report answer"}

    asked = mention(api, "how do dolphins sleep?")
    await api.dispatch("MESSAGE_CREATE", asked)
    await api.wait_until(lambda: "".join(api.visible(GENERAL)).endswith("Enjoy."), timeout_s=10)

    # the model saw the question with the bot's mention stripped, from the member's display name
    assert "Ally: how do dolphins sleep?" in tgi.prompts[-1] and f"<@{BOT_ID}>" not in tgi.prompts[-1]

    shown = api.visible(GENERAL)
    assert len(shown) >= 2 and all(0 < len(m) <= 2000 for m in shown)  # rolled over past 2,000
    assert all(len(re.findall(r"^```", m, re.MULTILINE)) % 2 == 0 for m in shown)
    assert shown[0].startswith("Welcome aboard @everyone")  # shown as text, …
    assert_no_pings(writes(api, GENERAL))  # … but no send or edit may ping anyone
    posts = api.calls("POST", f"/channels/{GENERAL}/messages")
    for post in posts:  # every message of the answer is a reply to the asker, without pinging them
        assert str(post.json["message_reference"]["message_id"]) == asked["id"]
        assert post.json["allowed_mentions"]["replied_user"] is False

    # typing first, then text; the stream was edited in place, not once per token
    typing = api.calls("POST", f"/channels/{GENERAL}/typing")
    assert typing and typing[0].at <= posts[0].at and typing[-1].at <= posts[0].at
    patches = api.calls("PATCH", f"/channels/{GENERAL}/messages/")
    streamed_s = writes(api, GENERAL)[-1].at - posts[0].at
    assert len(patches) <= len(shown) * (streamed_s / EDIT_INTERVAL_S + 2)
    assert len(patches) < len(fake_tokenize(ANSWER)) / 20  # far fewer edits than tokens
    assert not [
        r for r in api.requests if r.json and isinstance(r.json, dict) and r.json.get("content") == ""
    ]

    await bot.settled()
    turns = await bot.turns(CHANNEL_KEY)
    assert len(turns) == 1 and b"how do dolphins sleep?" in turns[0]


async def test_other_bots_webhooks_edits_and_plain_chatter_get_no_answer(bot: Bot) -> None:
    api = bot.api
    from_bot = mention(api, "hi", author=5004)
    from_bot["author"] = {**from_bot["author"], "bot": True}
    hook = mention(api, "hi", author=5005)
    hook["webhook_id"] = "7777"
    unmentioned = api.message_create("just chatting", author=ALICE, channel=GENERAL)
    for payload in (from_bot, hook, unmentioned):
        await api.dispatch("MESSAGE_CREATE", payload)
    await bot.settled()  # the edit comes after they were handled, as a member's edit does
    edited = {
        **unmentioned,
        "content": f"<@{BOT_ID}> now with a mention",
        "edited_timestamp": "2026-11-23T12:01:00+00:00",
    }
    edited["mentions"] = [api.bot_user]
    await api.dispatch("MESSAGE_UPDATE", edited)  # an edit that adds a mention is not a new question
    await asyncio.sleep(0.3)
    await bot.settled()
    assert not api.calls("POST", f"/channels/{GENERAL}/")
    assert not bot.tgi.requests


async def test_replies_to_the_bot_and_mentions_of_its_role_are_answered(bot: Bot) -> None:
    api, tgi = bot.api, bot.tgi
    tgi.enqueue(FakeReply(text="First."), FakeReply(text="Second."), FakeReply(text="Third."))
    await api.dispatch("MESSAGE_CREATE", mention(api, "hello"))
    await api.wait_until(lambda: api.visible(GENERAL) == ["First."])
    await bot.settled()
    mine = next(m for m in api.messages.values() if m.content == "First.")
    reply = api.message_create("and then?", author=ALICE, channel=GENERAL, reply_to=mine)  # no mention
    await api.dispatch("MESSAGE_CREATE", reply)
    await api.wait_until(lambda: api.visible(GENERAL)[-1:] == ["Second."])
    await bot.settled()
    by_role = api.message_create(
        f"<@&{BOT_ROLE}> one more", author=ALICE, channel=GENERAL, role_mentions=[BOT_ROLE]
    )
    await api.dispatch("MESSAGE_CREATE", by_role)
    await api.wait_until(lambda: api.visible(GENERAL)[-1:] == ["Third."])
    assert "Ally: one more" in tgi.prompts[-1] and "@Dolphin" not in tgi.prompts[-1]
    await bot.settled()
    assert len(await bot.turns(CHANNEL_KEY)) == 3  # one conversation for the channel


async def test_direct_messages_are_answered_per_user(bot: Bot) -> None:
    api, tgi = bot.api, bot.tgi
    tgi.enqueue(FakeReply(text="Hi Ally."), FakeReply(text="Hi Mod."))
    for author, channel in ((ALICE, 6001), (MOD, 6002)):
        dm = api.message_create("hello in private", author=author, channel=channel, guild=False)
        await api.dispatch("MESSAGE_CREATE", dm)
        await api.wait_until(lambda channel=channel: bool(api.visible(channel)))
    await bot.settled()
    assert api.visible(6001) == ["Hi Ally."] and api.visible(6002) == ["Hi Mod."]
    for channel in (6001, 6002):
        assert len(await bot.turns(ConversationKey(Platform.DISCORD, "@dm", str(channel)))) == 1


@pytest.mark.parametrize("bot", [{"respond_to_dms": False}], indirect=True)
async def test_direct_messages_can_be_switched_off(bot: Bot) -> None:
    await bot.api.dispatch(
        "MESSAGE_CREATE", bot.api.message_create("hello?", author=ALICE, channel=6001, guild=False)
    )
    await asyncio.sleep(0.3)
    assert not bot.api.calls("POST", "/channels/6001/") and not bot.tgi.requests


@pytest.mark.parametrize("bot", [{"auto_thread": True}], indirect=True)
async def test_auto_thread_answers_in_a_new_thread_that_continues_without_mentions(bot: Bot) -> None:
    api, tgi = bot.api, bot.tgi
    tgi.enqueue(FakeReply(text="First answer, in the thread."), FakeReply(text="Second answer."))
    # a moderator set a persona for the channel: the threads started in it use it too
    await api.dispatch(
        "INTERACTION_CREATE",
        slash(api, "persona set", member_id=MOD, options={"text": "You speak like a sailor."}),
    )
    await bot.settled()
    asked = mention(api, "what is a pod of dolphins?\nI mean a group of them")
    await api.dispatch("MESSAGE_CREATE", asked)
    await api.wait_until(lambda: bool(api.threads) and bool(api.visible(int(api.threads[0]["id"]))))
    thread = api.threads[0]
    thread_id = int(thread["id"])
    assert thread_id == int(asked["id"])  # Discord gives the thread the message's id
    assert thread["name"] == "what is a pod of dolphins?"  # named after the question
    assert api.visible(GENERAL) == []  # nothing in the channel itself
    assert "You speak like a sailor." in tgi.prompts[-1]
    typing = api.calls("POST", f"/channels/{thread_id}/typing")
    assert typing and typing[0].at <= api.calls("POST", f"/channels/{thread_id}/messages")[0].at
    assert_no_pings(writes(api, thread_id))
    await bot.settled()

    follow = api.message_create("and how many are in one?", author=ALICE, channel=thread_id)
    await api.dispatch("MESSAGE_CREATE", follow)  # no mention needed in the bot's thread
    await api.wait_until(lambda: api.visible(thread_id)[-1:] == ["Second answer."])
    await bot.settled()
    key = ConversationKey(
        Platform.DISCORD, str(GUILD_ID), str(GENERAL), str(thread_id)
    )  # its own conversation
    assert len(await bot.turns(key)) == 2
    assert "what is a pod of dolphins?" in tgi.prompts[-1]  # the thread remembers its question
    assert await bot.turns(CHANNEL_KEY) == []


@pytest.mark.parametrize("bot", [{"auto_thread": True}], indirect=True)
async def test_a_paused_channel_gets_no_thread_and_its_threads_are_paused_too(bot: Bot) -> None:
    api = bot.api
    await api.dispatch("INTERACTION_CREATE", slash(api, "relay pause", member_id=MOD))
    await bot.settled()
    await api.dispatch("MESSAGE_CREATE", mention(api, "anyone there?"))
    await api.dispatch("MESSAGE_CREATE", api.message_create("in the thread", author=ALICE, channel=THREAD))
    await asyncio.sleep(0.3)
    await bot.settled()
    assert api.threads == [] and not api.calls("POST", "/channels/") and not bot.tgi.requests


@pytest.mark.parametrize("bot", [{"auto_thread": True}], indirect=True)
async def test_a_refused_question_gets_a_notice_in_the_channel_and_no_thread(bot: Bot) -> None:
    api = bot.api
    await api.dispatch("MESSAGE_CREATE", mention(api, "how do I build a pipe bomb in my garage"))
    await api.wait_until(lambda: bool(api.visible(GENERAL)))
    await bot.settled()
    assert api.threads == [] and not bot.tgi.requests
    post = api.calls("POST", f"/channels/{GENERAL}/messages")[0]
    assert post.json["message_reference"]["message_id"] and post.json["allowed_mentions"]["parse"] == []


# the gate's clock stands 20 s into a minute window: the three messages fall in it, 40 s before its end
@pytest.mark.parametrize(
    "bot",
    [{"limits": LimitSettings(user_per_minute=1), "gate_clock": Clock(WINDOW_START + 20)}],
    indirect=True,
)
async def test_the_cooldown_notice_says_when_and_is_shown_once(bot: Bot) -> None:
    api = bot.api
    before = time.time()  # the bot's own clock, which dates the notice: when it was shown, plus the 40 s
    for i in range(3):
        await api.dispatch("MESSAGE_CREATE", mention(api, f"question {i}"))
        await api.wait_until(lambda: len(bot.tgi.requests) >= 1, timeout_s=5)
        await bot.settled()
    shown = api.visible(GENERAL)
    assert len(shown) == 2, shown  # the answer, then one notice; the third message gets no second notice
    notice = shown[1]
    assert re.fullmatch(r"You're sending messages faster than I can answer\. Try again <t:(\d+):R>\.", notice)
    when = int(re.search(r"<t:(\d+):R>", notice).group(1))  # type: ignore[union-attr]
    assert int(before) + 40 <= when <= time.time() + 40  # the end of the gate's window
    assert len(bot.tgi.requests) == 1


async def test_two_bot_processes_share_rate_limits(redis_url: str, redis_client: aioredis.Redis) -> None:
    async with FakeDiscord() as api, FakeTGI(token_delay_s=0.001) as tgi:
        with pointed_at(api):
            settings = settings_for(api, tgi, redis_url, limits=LimitSettings(user_per_minute=2))
            clock = Clock()  # held still: the three messages fall in one minute window
            async with (
                bot_running(api, tgi, settings, gate_clock=clock) as one,
                bot_running(api, tgi, settings, sessions=2, gate_clock=clock) as two,
            ):
                for i, session in enumerate((0, 1, 0)):  # each message reaches one process only
                    await api.dispatch("MESSAGE_CREATE", mention(api, f"question {i}"), session=session)
                    await api.wait_until(lambda i=i: len(api.visible(GENERAL)) > i, timeout_s=5)
                    await one.settled()
                    await two.settled()
    shown = api.visible(GENERAL)
    assert len(tgi.requests) == 2 and len(shown) == 3
    assert "Try again <t:" in shown[2]


async def test_without_permission_to_send_the_answer_stops_with_a_warning_not_a_traceback(bot: Bot) -> None:
    api = bot.api
    api.fail("POST", f"/channels/{GENERAL}/messages", status=403, code=50013, times=10)
    with capture_logs() as logs:
        await api.dispatch("MESSAGE_CREATE", mention(api, "can you hear me?"))
        await api.wait_until(lambda: len(api.calls("POST", f"/channels/{GENERAL}/messages")) >= 2)
        await bot.settled()
    attempts = api.calls("POST", f"/channels/{GENERAL}/messages")
    assert len(attempts) == 2  # as a reply, then without the reply reference; nothing more
    assert "message_reference" in attempts[0].json and "message_reference" not in attempts[1].json
    assert await bot.turns(CHANNEL_KEY) == []
    assert not [e for e in logs if e.get("exc_info") or e["log_level"] in ("error", "critical")]
    warning = next(e for e in logs if e["event"] == "discord.missing_permissions")
    assert warning["code"] == 50013 and warning["channel_id"] == GENERAL
    handled = next(e for e in logs if e["event"] == "message.handled")
    assert handled["outcome"] == "failed"


async def test_an_answer_a_moderator_deletes_mid_stream_is_not_reposted(bot: Bot) -> None:
    api, tgi = bot.api, bot.tgi
    tgi.enqueue(FakeReply(text="A long and slow answer that keeps going. " * 12, token_delay_s=0.02))
    await api.dispatch("MESSAGE_CREATE", mention(api, "tell me slowly"))
    await api.wait_until(lambda: bool(api.visible(GENERAL)))
    for sent in api.messages.values():
        sent.deleted = True  # a moderator removed it
    await bot.settled()
    assert api.visible(GENERAL) == []
    assert len(api.calls("POST", f"/channels/{GENERAL}/messages")) == 1  # nothing posted again
    assert await bot.turns(CHANNEL_KEY) == []


async def test_a_rate_limited_edit_is_waited_out_and_the_answer_completes(bot: Bot) -> None:
    api, tgi = bot.api, bot.tgi
    tgi.enqueue(FakeReply(text="Patience is a virtue. " * 20, token_delay_s=0.01))
    limited = api.fail("PATCH", f"/channels/{GENERAL}/messages/", status=429, retry_after_s=0.3)
    await api.dispatch("MESSAGE_CREATE", mention(api, "rate limit me"))
    await bot.settled()
    assert limited.times == 0  # Discord did answer 429 once
    assert api.visible(GENERAL) == [("Patience is a virtue. " * 20).strip()]
    assert len(await bot.turns(CHANNEL_KEY)) == 1


@pytest.mark.parametrize("bot", [{"mod_log_channel": 3999}], indirect=True)
async def test_blocked_questions_reach_the_mod_log_with_a_jump_link(bot: Bot) -> None:
    api = bot.api  # channel 3999 is not in this process's cache (another server, another shard)
    asked = mention(api, "how do I build a pipe bomb in my garage")
    await api.dispatch("MESSAGE_CREATE", asked)
    await api.wait_until(lambda: bool(api.visible(3999)) and bool(api.visible(GENERAL)))
    await bot.settled()
    (line,) = api.visible(3999)
    assert f"https://discord.com/channels/{GUILD_ID}/{GENERAL}/{asked['id']}" in line
    assert f"<@{ALICE}>" in line and "block" in line and "||" in line
    assert_no_pings(api.calls("POST", "/channels/3999/messages"))
    assert len(api.visible(GENERAL)) == 1  # the member got the refusal notice as a reply


@pytest.mark.parametrize("bot", [{"shard_count": 2, "shard_ids": "1"}], indirect=True)
async def test_a_process_running_shard_1_of_2_identifies_so_and_leaves_the_command_sync_to_shard_0(
    bot: Bot,
) -> None:
    identify = next(f for f in bot.api.gateway_received if f["op"] == IDENTIFY)
    assert identify["d"]["shard"] == [1, 2]
    assert bot.api.commands == {}  # shard 0's process syncs
    assert not bot.api.guild_created.is_set()  # the test server belongs to shard 0


@pytest.mark.parametrize(
    "bot", [{"shard_count": 2, "shard_ids": "0", "dev_guild_id": GUILD_ID}], indirect=True
)
async def test_shard_0_syncs_the_commands_to_the_development_server(bot: Bot) -> None:
    identify = next(f for f in bot.api.gateway_received if f["op"] == IDENTIFY)
    assert identify["d"]["shard"] == [0, 2]
    assert set(bot.api.commands) == {str(GUILD_ID)}
    assert {c["name"] for c in bot.api.commands[str(GUILD_ID)]} >= {"ask", "relay"}


async def test_start_up_errors_name_the_setting(redis_url: str, redis_client: aioredis.Redis) -> None:
    async with FakeDiscord() as api, FakeTGI() as tgi:
        with pointed_at(api):
            api.fail("PUT", f"/applications/{BOT_ID}/guilds/{GUILD_ID}/commands", status=403, code=50001)
            for overrides, setting in (
                ({"dev_guild_id": GUILD_ID}, "DISCORD_DEV_GUILD_ID"),
                ({"shard_ids": "0,1"}, "DISCORD_SHARD_IDS"),
                ({"shard_count": 2, "shard_ids": "2"}, "DISCORD_SHARD_IDS"),
            ):
                async with open_core(settings_for(api, tgi, redis_url, **overrides)) as core:
                    with pytest.raises(ConfigurationError) as failed:
                        await asyncio.wait_for(run_discord(core, stop=asyncio.Event()), 10)
                assert failed.value.setting == setting, failed.value


async def test_a_failed_command_sync_is_a_warning_and_the_bot_still_answers(
    redis_url: str, redis_client: aioredis.Redis
) -> None:
    async with FakeDiscord() as api, FakeTGI() as tgi:
        with pointed_at(api):
            api.fail("PUT", f"/applications/{BOT_ID}/commands", status=400, code=50035)
            with capture_logs() as logs:
                async with bot_running(api, tgi, settings_for(api, tgi, redis_url)) as b:
                    tgi.enqueue(FakeReply(text="Still here."))
                    await api.dispatch("MESSAGE_CREATE", mention(api, "are you there?"))
                    await api.wait_until(lambda: api.visible(GENERAL) == ["Still here."])
                    await b.settled()
    assert any(e["event"] == "discord.command_sync_failed" for e in logs)


async def test_stop_drains_the_answer_in_flight_and_tells_newcomers_to_come_back(bot: Bot) -> None:
    api, tgi = bot.api, bot.tgi
    tgi.enqueue(FakeReply(text="A slow but complete answer. " * 10, token_delay_s=0.03))
    await api.dispatch("MESSAGE_CREATE", mention(api, "tell me slowly"))
    await api.wait_until(lambda: bool(api.visible(GENERAL)), timeout_s=5)
    bot.stop.set()
    await asyncio.sleep(0.05)
    late = mention(api, "am I too late?")
    await api.dispatch("MESSAGE_CREATE", late)
    await asyncio.wait_for(bot.task, 10)
    assert api.visible(GENERAL)[0].rstrip().endswith("A slow but complete answer.")  # finished, not cut
    assert RESTARTING in api.visible(GENERAL)
    restart = next(m for m in api.messages.values() if m.content == RESTARTING)
    assert restart.reference == int(late["id"])
    assert api.gateway_closed.is_set()
    assert len(await bot.turns(CHANNEL_KEY)) == 1


BOOT = textwrap.dedent(
    """
    import sys, discord, discord.webhook.async_, yarl
    discord.http.Route.BASE = discord.webhook.async_.Route.BASE = sys.argv[1]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
    from bots.__main__ import main
    sys.exit(main(["--env-file", sys.argv[3], "discord"]))
    """
)


async def test_sigterm_lets_the_answer_finish_and_exits_0(
    redis_url: str, redis_client: aioredis.Redis
) -> None:
    """The real process (`python -m bots discord`, only discord.py's URLs pointed at the fake)."""
    async with FakeDiscord() as api, FakeTGI() as tgi:
        tgi.enqueue(FakeReply(text=" ".join(f"w{i}" for i in range(40)), token_delay_s=0.05))  # ~2 s
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DISCORD_", "TGI_", "REDIS_", "METRICS_", "LOG_"))
        }
        env.update(
            DISCORD_TOKEN="fake-discord-token",
            TGI_URL=tgi.url,
            REDIS_URL=redis_url,
            METRICS_PORT="0",
            LOG_FORMAT="json",
            RUNTIME_SHUTDOWN_GRACE_S="20",
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", BOOT, api.api_base, api.gateway_url, os.devnull,
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await api.wait_until(lambda: api.ready_sessions == 1, timeout_s=20)
            await asyncio.sleep(0.2)
            await api.dispatch("MESSAGE_CREATE", mention(api, "count to forty"))
            for _ in range(100):
                if tgi.in_flight:
                    break
                await asyncio.sleep(0.05)
            assert tgi.in_flight == 1
            proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        logs = err.decode()
        assert proc.returncode == 0, logs[-2000:]
        assert api.visible(GENERAL)[-1].endswith("w39")
        assert api.gateway_closed.is_set()
        assert "Traceback" not in logs and "fake-discord-token" not in logs
        assert '"event": "shutdown.complete"' in logs
    stored = await redis_client.lrange(f"relay:v1:{{conv:{CHANNEL_KEY.id}}}:turns", 0, -1)
    assert len(stored) == 1 and b"w39" in stored[0]
