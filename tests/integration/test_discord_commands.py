"""Application commands, end to end: INTERACTION_CREATE over the fake gateway, parsed and routed by discord.py's
own command tree, answered over the fake REST API, with their effects in real Redis."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from core.keys import KeySpace
from core.models import ConversationKey, IncomingMessage, Platform
from core.settings import BudgetSettings
from tests.fakes.discord_harness import Bot, ephemeral_texts, slash
from tests.fakes.discord_payloads import ALICE, BOT_ID, GENERAL, GUILD_ID, MOD, THREAD
from tests.fakes.memory import RecordingSink
from tests.fakes.tgi import FakeReply

CHANNEL = ConversationKey(Platform.DISCORD, str(GUILD_ID), str(GENERAL))
IN_THREAD = ConversationKey(Platform.DISCORD, str(GUILD_ID), str(GENERAL), str(THREAD))
THREAD_CHANNEL = {
    "id": str(THREAD),
    "type": 11,
    "guild_id": str(GUILD_ID),
    "parent_id": str(GENERAL),
    "name": "a thread",
}
EPHEMERAL = 64


async def command(bot: Bot, name: str, *, member_id: int, **kw: Any) -> list[str]:
    """Invoke a command as a member; returns what they were shown (ephemeral, checked)."""
    payload = slash(bot.api, name, member_id=member_id, **kw)
    await bot.api.dispatch("INTERACTION_CREATE", payload)
    await bot.api.wait_until(lambda: len(ephemeral_texts(bot.api, payload["token"])) >= 1, timeout_s=5)
    await bot.settled()
    mine = [r for r in bot.api.interaction_log if r["token"] == payload["token"]]
    first = mine[0]["body"]
    assert first["type"] in (4, 5)  # answered or deferred at once, well within 3 s
    flags = (first.get("data") or {}).get("flags", 0)
    assert flags & EPHEMERAL, first
    for r in mine:
        if r["kind"] == "followup":
            assert r["body"]["flags"] & EPHEMERAL
    for r in mine:
        mentions = (r["body"].get("data") or r["body"]).get("allowed_mentions")
        if mentions is not None:
            assert mentions["parse"] == []
    return ephemeral_texts(bot.api, payload["token"])


async def say(
    bot: Bot, text: str, *, answered: bool = True, author: int = ALICE, channel: int = GENERAL
) -> None:
    """A member mentions the bot; returns once the bot is done with it."""
    if answered:
        bot.tgi.enqueue(FakeReply(text=f"Answer to: {text}"))
    payload = bot.api.message_create(f"<@{BOT_ID}> {text}", author=author, channel=channel, mentions=[BOT_ID])
    await bot.api.dispatch("MESSAGE_CREATE", payload)
    await bot.settled()


async def seed(bot: Bot, key: ConversationKey, author: int, text: str, mid: str) -> None:
    msg = IncomingMessage(key=key, message_id=mid, author_id=str(author), author_name="x", text=text)
    bot.tgi.enqueue(FakeReply(text="ok"))
    await bot.core.service.handle(msg, RecordingSink())


def leaf_commands(definitions: list[dict[str, Any]]) -> set[str]:
    """Every command a member can run, as typed ("relay mute"), from the synced definitions."""

    def walk(prefix: str, options: list[dict[str, Any]]) -> set[str]:
        subs = [o for o in options if o["type"] in (1, 2)]  # SUB_COMMAND, SUB_COMMAND_GROUP
        if not subs:
            return {prefix}
        return set().union(*(walk(f"{prefix} {o['name']}", o.get("options", [])) for o in subs))

    return set().union(*(walk(d["name"], d.get("options", [])) for d in definitions))


async def test_members_without_rights_are_refused_every_moderator_command(bot: Bot) -> None:
    await seed(bot, CHANNEL, ALICE, "keep me", "s1")
    moderator_commands = {
        "reset": {},
        "persona set": {"text": "pirate"},
        "persona clear": {},
        "relay pause": {},
        "relay resume": {},
        "relay mute": {"user": MOD, "duration": "1h"},
        "relay unmute": {"user": MOD},
    }
    everyones = {"ask", "persona show", "forget-me", "usage", "Report answer"}
    # a command added later is either everyone's or refused here: the list cannot silently fall behind
    assert leaf_commands(bot.api.commands["global"]) == set(moderator_commands) | everyones
    for name, options in moderator_commands.items():
        shown = await command(bot, name, member_id=ALICE, options=options)
        assert shown == [
            "Only moderators (Manage Server, or a configured moderator role or user) can do that."
        ], name
    assert await bot.core.service.get_persona(CHANNEL) is None
    assert len(await bot.turns(CHANNEL)) == 1
    assert not await bot.core.service.is_paused(CHANNEL)


async def test_manage_server_from_the_interactions_resolved_permissions_is_enough(bot: Bot) -> None:
    # Alice has no moderator role; Discord reports Manage Server for her in this interaction (e.g. a role
    # the bot's cache does not know yet)
    shown = await command(bot, "relay pause", member_id=ALICE, permissions=1 << 5)
    assert shown[-1].startswith("Paused")
    assert await bot.core.service.is_paused(CHANNEL)


@pytest.mark.parametrize("bot", [{"moderator_users": str(ALICE)}], indirect=True)
async def test_configured_moderator_users_may_moderate(bot: Bot) -> None:
    assert (await command(bot, "persona set", member_id=ALICE, options={"text": "Be brief."}))[-1].startswith(
        "Persona set"
    )
    relay = next(c for c in bot.api.commands["global"] if c["name"] == "relay")
    assert relay.get("default_member_permissions") is None  # configured moderators see /relay too


async def test_relay_is_shown_only_to_members_with_manage_server_by_default(bot: Bot) -> None:
    relay = next(c for c in bot.api.commands["global"] if c["name"] == "relay")
    assert int(relay["default_member_permissions"]) == 1 << 5  # Manage Server
    everyones = [c for c in bot.api.commands["global"] if c["name"] != "relay"]
    assert all(c.get("default_member_permissions") is None for c in everyones)


async def test_replies_are_in_the_members_client_language(bot: Bot) -> None:
    shown = await command(bot, "relay pause", member_id=MOD, locale="ja")
    assert shown == [
        f"一時停止しました：`/relay resume` が実行されるまで、<#{GENERAL}> とそのスレッドでは応答しません。"
    ]
    refused = await command(bot, "persona set", member_id=ALICE, locale="de", options={"text": "x"})
    assert refused == [
        "Nur Moderatoren (Server verwalten, oder eine eingerichtete Moderatorrolle oder ein eingerichteter "
        "Nutzer) können das tun."
    ]
    assert await command(bot, "relay resume", member_id=MOD, locale="pt-BR") == [  # no catalog: English
        f"Resumed: I answer in <#{GENERAL}> again."
    ]


async def test_reset_clears_the_channel_or_only_the_thread(bot: Bot) -> None:
    await seed(bot, CHANNEL, ALICE, "in the channel", "s1")
    await seed(bot, IN_THREAD, ALICE, "in the thread", "s2")
    assert await command(bot, "reset", member_id=MOD, channel=THREAD_CHANNEL) == [
        "History cleared for this thread."
    ]
    assert await bot.turns(IN_THREAD) == [] and len(await bot.turns(CHANNEL)) == 1
    assert await command(bot, "reset", member_id=MOD) == ["History cleared for this channel."]
    assert await bot.turns(CHANNEL) == []


async def test_persona_set_show_clear_and_threads_inherit_it(bot: Bot) -> None:
    shown = await command(bot, "persona set", member_id=MOD, options={"text": "You are a pirate."})
    assert shown == ["Persona set for this channel and its threads."]
    assert await bot.core.service.get_persona(CHANNEL) == "You are a pirate."
    assert await command(bot, "persona show", member_id=ALICE) == ["Persona: You are a pirate."]
    in_thread = await command(bot, "persona show", member_id=ALICE, channel=THREAD_CHANNEL)
    assert in_thread == ["Persona (from the channel): You are a pirate."]
    await say(bot, "ahoy?", channel=THREAD)
    assert "You are a pirate." in bot.tgi.prompts[-1]  # the thread speaks with the channel's persona
    assert await command(bot, "persona clear", member_id=MOD) == ["Persona cleared for this channel."]
    assert await bot.core.service.get_persona(CHANNEL) is None
    assert await command(bot, "persona show", member_id=ALICE) == ["No persona set (the default applies)."]


async def test_forget_me_deletes_my_turns_in_every_server_and_dm_and_nobody_elses(bot: Bot) -> None:
    other_server = ConversationKey(Platform.DISCORD, "777000", "888")
    dm = ConversationKey(Platform.DISCORD, "@dm", "6001")
    await seed(bot, CHANNEL, ALICE, "alice in general", "f1")
    await seed(bot, CHANNEL, MOD, "mod in general", "f2")
    await seed(bot, IN_THREAD, ALICE, "alice in a thread", "f3")
    await seed(bot, other_server, ALICE, "alice elsewhere", "f4")
    await seed(bot, dm, ALICE, "alice in private", "f5")
    slack = ConversationKey(Platform.SLACK, "T1", "C1")
    await seed(bot, slack, ALICE, "same id on slack", "f6")  # another platform's user with the same id
    assert await command(bot, "forget-me", member_id=ALICE) == [
        "Done: 4 stored message(s) of yours were deleted."
    ]
    for key in (IN_THREAD, other_server, dm):
        assert await bot.turns(key) == []
    remaining = await bot.turns(CHANNEL)
    assert len(remaining) == 1 and b"mod in general" in remaining[0]
    assert len(await bot.turns(slack)) == 1
    keys = KeySpace(bot.core.key_prefix)
    assert not await bot.core.redis.exists(keys.user_conversations(f"discord:{GUILD_ID}:{ALICE}"))


async def test_pause_resume_mute_and_unmute_change_what_the_bot_answers(bot: Bot) -> None:
    api = bot.api
    shown = await command(bot, "relay pause", member_id=MOD, channel=THREAD_CHANNEL)
    assert shown == [f"Paused: I won't answer in <#{GENERAL}> or its threads until `/relay resume`."]
    await say(bot, "anyone?", answered=False)
    await say(bot, "in a thread?", channel=THREAD, answered=False)
    assert not bot.tgi.requests and not api.calls("POST", "/channels/")
    assert await command(bot, "relay resume", member_id=MOD) == [f"Resumed: I answer in <#{GENERAL}> again."]
    await say(bot, "back?")
    assert api.visible(GENERAL) == ["Answer to: back?"]

    shown = await command(bot, "relay mute", member_id=MOD, options={"user": ALICE, "duration": "10m"})
    assert re.fullmatch(rf"Muted <@{ALICE}> until <t:\d+:R>\.", shown[-1])
    await say(bot, "hello?", answered=False)
    await say(bot, "hello??", answered=False)
    notices = api.visible(GENERAL)[1:]
    assert len(notices) == 1 and re.fullmatch(
        r"You're muted here; you can talk to me again <t:\d+:R>\.", notices[0]
    )
    assert await command(bot, "relay unmute", member_id=MOD, options={"user": ALICE}) == [
        f"Unmuted <@{ALICE}>."
    ]
    await say(bot, "better now?")
    assert api.visible(GENERAL)[-1] == "Answer to: better now?"


async def test_ask_answers_in_the_interaction_privately_when_asked(bot: Bot) -> None:
    api, tgi = bot.api, bot.tgi
    tgi.enqueue(FakeReply(text="Only you can see this."))
    payload = slash(api, "ask", member_id=ALICE, options={"prompt": "a secret question", "ephemeral": True})
    await api.dispatch("INTERACTION_CREATE", payload)
    await api.wait_until(lambda: "Only you can see this." in ephemeral_texts(api, payload["token"]))
    await bot.settled()
    first = next(r for r in api.interaction_log if r["token"] == payload["token"])
    assert first["body"]["type"] == 5 and first["body"]["data"]["flags"] & EPHEMERAL  # deferred, private
    edit = next(
        r for r in api.interaction_log if r["token"] == payload["token"] and r["kind"] == "edit_original"
    )
    assert edit["body"]["allowed_mentions"]["parse"] == []
    assert "Ally: a secret question" in tgi.prompts[-1]
    assert len(await bot.turns(CHANNEL)) == 1

    public = slash(api, "ask", member_id=ALICE, options={"prompt": "a public one"})
    await api.dispatch("INTERACTION_CREATE", public)
    await api.wait_until(lambda: any(r["token"] == public["token"] for r in api.interaction_log))
    await bot.settled()
    first = next(r for r in api.interaction_log if r["token"] == public["token"])
    assert not (first["body"].get("data") or {}).get("flags", 0) & EPHEMERAL


async def test_a_long_private_answer_continues_in_private_follow_ups(bot: Bot) -> None:
    api = bot.api
    answer = "A long answer with <@&4001> and @everyone in it. " * 100  # ~5,000 characters
    bot.tgi.enqueue(FakeReply(text=answer))
    payload = slash(api, "ask", member_id=ALICE, options={"prompt": "tell me everything", "ephemeral": True})
    await api.dispatch("INTERACTION_CREATE", payload)
    await bot.settled()
    mine = [r for r in api.interaction_log if r["token"] == payload["token"]]
    followups = [r["body"] for r in mine if r["kind"] == "followup"]
    assert len(followups) >= 2 and all(f["flags"] & EPHEMERAL for f in followups)
    for r in mine[1:]:
        assert r["body"]["allowed_mentions"]["parse"] == []
        assert 0 < len(r["body"].get("content") or "x") <= 2000


async def test_ask_in_a_paused_channel_says_so_instead_of_thinking_forever(bot: Bot) -> None:
    await command(bot, "relay pause", member_id=MOD)
    shown = await command(bot, "ask", member_id=ALICE, options={"prompt": "hello?", "ephemeral": True})
    assert shown == ["A moderator paused me in this channel."]
    assert not bot.tgi.requests


@pytest.mark.parametrize("bot", [{"blocked_channels": str(GENERAL)}], indirect=True)
async def test_ask_is_refused_where_the_bot_is_not_enabled(bot: Bot) -> None:
    assert await command(bot, "ask", member_id=ALICE, options={"prompt": "hi", "ephemeral": True}) == [
        "I'm not enabled here."
    ]
    assert await command(bot, "ask", member_id=ALICE, channel=THREAD_CHANNEL, options={"prompt": "hi"}) == [
        "I'm not enabled here."
    ]  # the thread inherits its channel's block
    assert not bot.tgi.requests


async def test_a_failing_command_tells_the_user_instead_of_thinking_forever(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(key: ConversationKey) -> None:
        raise RuntimeError("redis exploded")

    monkeypatch.setattr(bot.core.service, "reset", broken)
    shown = await command(bot, "reset", member_id=MOD)
    assert shown == ["Sorry, that command failed. Please try again."]


async def test_commands_during_shutdown_are_answered_at_once(bot: Bot) -> None:
    api = bot.api
    bot.tgi.enqueue(FakeReply(text="A slow answer. " * 20, token_delay_s=0.03))  # keeps the drain open
    await api.dispatch(
        "MESSAGE_CREATE",
        api.message_create(f"<@{BOT_ID}> slowly", author=ALICE, channel=GENERAL, mentions=[BOT_ID]),
    )
    await api.wait_until(lambda: bool(api.visible(GENERAL)))
    bot.stop.set()
    await asyncio.sleep(0.05)
    payload = slash(api, "reset", member_id=MOD)
    await api.dispatch("INTERACTION_CREATE", payload)
    await api.wait_until(lambda: bool(ephemeral_texts(api, payload["token"])), timeout_s=5)
    assert ephemeral_texts(api, payload["token"]) == ["I'm restarting: please ask again in a minute."]
    await asyncio.wait_for(bot.task, 10)
    assert api.visible(GENERAL)[-1].endswith("A slow answer.")


async def test_commands_in_dms_work_without_a_server(bot: Bot) -> None:
    await seed(bot, ConversationKey(Platform.DISCORD, "@dm", "6000"), ALICE, "private", "d1")
    shown = await command(bot, "reset", member_id=ALICE, dm=True)  # your own DM: no moderator needed
    assert shown == ["History cleared for this channel."]
    assert await bot.turns(ConversationKey(Platform.DISCORD, "@dm", "6000")) == []
    relay = next(c for c in bot.api.commands["global"] if c["name"] == "relay")
    assert relay.get("contexts") == [0] or relay.get("dm_permission") is False  # /relay: servers only


_BUDGETS = BudgetSettings(member_tokens_per_day=1, community_tokens_per_day=1_000_000)


@pytest.mark.parametrize("bot", [{"budget": _BUDGETS}], indirect=True)
async def test_usage_shows_what_is_left_and_a_spent_budget_refuses_until_the_reset(bot: Bot) -> None:
    """Budgets on Discord: the answer that spends a member's budget ends with the warning, their next
    message gets a notice counting down to the reset (a Discord timestamp), and `/usage` shows the
    counters; a moderator is exempt."""
    await say(bot, "What is the tallest mountain in the world?")
    assert "That was the last answer of your budget for today" in bot.api.visible(GENERAL)[-1]
    await say(bot, "And which one is the second tallest mountain?", answered=False)
    notice = bot.api.visible(GENERAL)[-1]
    assert re.fullmatch(r"You've used today's token budget\. I can answer you again <t:[0-9]+:R>\.", notice)
    assert len(bot.tgi.prompts) == 1

    shown = await command(bot, "usage", member_id=ALICE)
    assert len(shown) == 1
    lines = shown[0].splitlines()
    used = re.fullmatch(r"You: ([0-9,]+) of 1 tokens used today, 0 left\.", lines[0])
    assert used is not None, lines
    assert (
        lines[1]
        == f"This community: {used[1]} of 1,000,000 tokens used today, {1_000_000 - int(used[1].replace(',', '')):,} left."
    )
    assert re.fullmatch(r"Budgets reset <t:[0-9]+:R>\.", lines[2])
    assert (await command(bot, "usage", member_id=MOD))[0].splitlines()[
        0
    ] == "You: moderators have no budget here."
    # a moderator's questions are answered (exempt) after the member's budget is spent
    await say(bot, "Moderator here: what is the capital of France?", author=MOD)
    assert len(bot.tgi.prompts) == 2
