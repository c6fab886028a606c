"""`/dolphin` through bolt's real HTTP endpoint (signed, form-encoded like Slack sends it): ephemeral
replies through the command's response_url, admin-only subcommands, and what they do to the conversations."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bots.slack.commands import CANNOT_POST, HELP, NOT_ADMIN
from core.commands import NOT_ENABLED
from tests.fakes.tgi import FakeReply
from tests.integration.slack_harness import Harness, event, http_harness, key, mention

TS = "1700000001.000100"


@pytest.fixture
async def harness(redis_client: aioredis.Redis) -> AsyncIterator[Harness]:
    async with http_harness(redis_client) as h:
        yield h


async def test_admin_only_subcommands_refuse_a_non_admin(harness: Harness) -> None:
    for text in ("reset", "pause", "persona set You are a pirate.", "persona clear", "resume"):
        assert await harness.command(text, user="U1") == 200
    await harness.settle()
    assert harness.slack.responses() == [NOT_ADMIN] * 5
    assert all(r["response_type"] == "ephemeral" for r in harness.slack.calls["response_url"])
    assert await harness.core.service.get_persona(key("C1")) is None
    assert not await harness.core.service.is_paused(key("C1"))
    assert harness.slack.calls["chat.postMessage"] == []  # nothing visible to the channel


async def test_workspace_admins_and_configured_admins_may(harness: Harness) -> None:
    harness.slack.admins.add("U2")  # a workspace admin per users.info
    harness.slack.users["U4"] = {"is_owner": True}
    harness.slack.users["U5"] = {"is_admin": True, "is_stranger": True}  # another org's admin (Slack Connect)
    await harness.command("persona set You are a pirate.", user="U2")
    await harness.settle()
    assert await harness.core.service.get_persona(key("C1")) == "You are a pirate."
    await harness.command("pause", user="UADMIN")  # SLACK_ADMIN_USERS
    await harness.settle()
    assert await harness.core.service.is_paused(key("C1"))
    await harness.command("resume", user="U4")
    await harness.command("persona clear", user="U5")
    await harness.settle()
    assert not await harness.core.service.is_paused(key("C1"))
    assert await harness.core.service.get_persona(key("C1")) == "You are a pirate."
    assert NOT_ADMIN in harness.slack.responses()[-2:]


async def test_channel_persona_applies_to_its_threads(harness: Harness) -> None:
    harness.slack.admins.add("U2")
    await harness.post(mention("before", event_id="E0", ts="1700000000.5"))
    await harness.settle()
    await harness.command("persona set You are a pirate called Flint.", user="U2")
    await harness.settle()
    await harness.post(mention("ahoy", event_id="E1"))  # a new thread
    await harness.post(
        event("again", event_id="E2", kind="message", ts="1700000002.1", thread_ts="1700000000.5")
    )
    await harness.settle()
    assert all("You are a pirate called Flint." in p for p in harness.tgi.prompts[1:])
    assert "Flint" not in harness.tgi.prompts[0]
    await harness.command("persona", user="U7")  # anyone may look
    await harness.settle()
    assert harness.slack.responses()[-1] == "Persona:\n> You are a pirate called Flint."
    await harness.command("persona clear", user="U2")
    await harness.settle()
    await harness.post(event("after", event_id="E3", kind="message", ts="1700000003.1", thread_ts=TS))
    await harness.settle()
    assert "Flint" not in harness.tgi.prompts[-1]


async def test_reset_forgets_every_thread_of_the_channel(harness: Harness) -> None:
    harness.slack.admins.add("U2")
    await harness.post(mention("remember heron", event_id="E1"))
    await harness.post(mention("remember osprey", event_id="E2", ts="1700000002.1"))
    await harness.settle()
    await harness.command("reset", user="U2")
    await harness.settle()
    assert harness.slack.responses() == ["Done: I forgot this channel (2 thread(s) and the channel itself)."]
    for n, (thread, word) in enumerate(((TS, "heron"), ("1700000002.1", "osprey"))):
        follow = event(
            "what did I say?", event_id=f"F{n}", kind="message", ts=f"17000000{n + 5}.1", thread_ts=thread
        )
        await harness.post(follow)  # still the bot's thread: answered, but with no memory
        await harness.settle()
        assert word not in harness.tgi.prompts[-1]
    assert len(harness.tgi.prompts) == 4


async def test_anyone_may_reset_their_own_direct_messages(harness: Harness) -> None:
    await harness.post(event("my dm secret", kind="message", channel="D1", channel_type="im"))
    await harness.settle()
    await harness.command("reset", user="U1", channel="D1")
    await harness.command("persona set Answer in French.", user="U1", channel="D1")
    await harness.command("pause", user="U1", channel="D1")
    await harness.settle()
    done, refused, persona = sorted(harness.slack.responses())  # the three ran concurrently
    assert done.startswith("Done: I forgot this conversation") and persona.startswith("Persona set")
    assert refused == NOT_ADMIN
    assert await harness.core.service.get_persona(key("D1")) == "Answer in French."
    # a follow-up in the thread the first message started (agent view): its history is gone too
    await harness.post(
        event(
            "and now?",
            event_id="E2",
            kind="message",
            channel="D1",
            channel_type="im",
            ts="2.1",
            thread_ts="1700000001.000100",
        )
    )
    await harness.settle()
    assert len(harness.tgi.prompts) == 2 and "my dm secret" not in harness.tgi.prompts[-1]


async def test_ask_opens_a_thread_with_the_question_and_streams_the_answer(harness: Harness) -> None:
    harness.slack.users["U1"] = {"profile": {"display_name": "Ann"}}
    harness.tgi.enqueue(FakeReply(text="Paris is the capital of France.", token_delay_s=0.01))
    assert await harness.command("ask what is the capital of France? <!channel>") == 200
    await harness.settle()
    (parent,) = harness.slack.visible("C1")
    assert parent == "*Ann* asked Dolphin:\n> what is the capital of France? @channel"
    thread = harness.slack.calls["chat.postMessage"][0]
    parent_ts = next(m.ts for m in harness.slack.messages.values() if m.thread_ts is None)
    assert thread["text"].startswith("*Ann* asked Dolphin")
    assert harness.slack.visible("C1", parent_ts) == ["Paris is the capital of France."]
    # the thread is the bot's: a follow-up there needs no mention and sees the question
    await harness.post(
        event("and Germany?", event_id="EF", kind="message", ts="1800000000.1", thread_ts=parent_ts)
    )
    await harness.settle()
    assert "what is the capital of France?" in harness.tgi.prompts[-1]


async def test_ask_where_the_bot_cannot_post_says_so_privately(harness: Harness) -> None:
    harness.slack.non_member_channels.add("C9")
    await harness.command("ask anything", channel="C9")
    await harness.command("help", channel="C9")  # the response_url works even where the bot is not
    await harness.settle()
    assert sorted(harness.slack.responses()) == sorted([CANNOT_POST.format(name="Dolphin"), HELP])
    assert harness.tgi.prompts == []


async def test_blocked_ask_never_shows_the_question(redis_client: aioredis.Redis) -> None:
    from tests.integration.slack_harness import BLOCK_NOTICE, WordModerator

    async with http_harness(redis_client, moderator=WordModerator(input_word="forbidden")) as h:
        await h.command("ask something forbidden")
        await h.settle()
        parent_ts = next(m.ts for m in h.slack.messages.values() if m.thread_ts is None)
        assert "forbidden" not in " ".join(h.slack.texts("chat.postMessage") + h.slack.texts("chat.update"))
        assert h.slack.visible("C1") == ["*U1* asked Dolphin a question."]
        assert h.slack.visible("C1", parent_ts) == [BLOCK_NOTICE]


async def test_ask_in_a_paused_or_closed_channel(redis_client: aioredis.Redis) -> None:
    async with http_harness(redis_client, allowed_channels="C1") as h:
        await h.command("pause", user="UADMIN")
        await h.settle()
        await h.command("ask hello?", channel="C2")
        await h.settle()
        await h.command("ask hello?", channel="C1")
        await h.settle()
        assert h.slack.responses()[1:] == [
            NOT_ENABLED,
            "A moderator paused me in this channel.",
        ]
        assert h.slack.visible("C1") == [] and h.tgi.prompts == []


async def test_help_unknown_and_forget_me(harness: Harness) -> None:
    await harness.post(mention("my secret is 7"))
    await harness.settle()
    await harness.command("")
    await harness.command("dance")
    await harness.command("forget-me")
    await harness.settle()
    assert sorted(harness.slack.responses()) == sorted(
        [HELP, HELP, "Done: 1 stored message(s) of yours were deleted."]
    )
    await harness.post(
        event("what is my secret?", event_id="E2", kind="message", ts="1700000002.1", thread_ts=TS)
    )
    await harness.settle()
    assert "my secret is 7" not in harness.tgi.prompts[-1]
