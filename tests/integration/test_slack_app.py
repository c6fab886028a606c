"""The Slack app end to end over loopback, HTTP mode: signed events into bolt's real endpoint, answers into
the fake Web API (read back as a user sees the thread), the real core on real Redis and the fake TGI."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bots.runtime import build_redis
from bots.slack.sink import MAX_BYTES, PLACEHOLDER
from bots.slack.users import UserDirectory
from core.alignment.audit import ModFeedQueue
from core.commands import NOT_ENABLED
from core.greeting import progress
from core.keys import KeySpace
from core.settings import LimitSettings, RedisSettings, Settings
from tests.clock import WINDOW_START, Clock
from tests.fakes.slack_api import BOT_ID, BOT_USER, FakeSlackAPI
from tests.fakes.tgi import FakeReply
from tests.integration.slack_harness import (
    BLOCK_NOTICE,
    Harness,
    WordModerator,
    event,
    http_harness,
    key,
    mention,
)

TS = "1700000001.000100"
# What a message may contain: text with Slack's three characters escaped, safe web/mail links, quote lines.
_RAW_ANGLE = re.compile(r"<(?!(?:https?://|mailto:)[^\s|<>]+(?:\|[^<>]*)?>)")


@pytest.fixture
async def harness(redis_client: aioredis.Redis) -> AsyncIterator[Harness]:
    async with http_harness(redis_client) as h:
        yield h


async def test_bad_signature_and_stale_timestamp_are_rejected(harness: Harness) -> None:
    assert await harness.post(mention("hi"), secret="wrong") == 401
    assert await harness.post(mention("hi"), age_s=6 * 60) == 401
    await harness.settle()
    assert harness.tgi.prompts == []
    assert harness.slack.calls["chat.postMessage"] == []


async def test_request_url_verification_and_ssl_check_are_answered(harness: Harness) -> None:
    challenge = {
        "token": "x",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    assert await harness.post(challenge) == 200
    assert json.loads(harness.response_body) == {"challenge": challenge["challenge"]}
    assert await harness.post({"ssl_check": "1", "token": "x"}, form=True) == 200
    await harness.settle()
    assert harness.tgi.prompts == [] and harness.slack.calls["chat.postMessage"] == []


async def test_mention_gets_a_threaded_streamed_answer(harness: Harness) -> None:
    harness.slack.users["U1"] = {"name": "ann", "profile": {"display_name": "Ann"}}
    harness.slack.users["U3"] = {"name": "cy", "real_name": "Cy Young"}
    words = [f"w{i}" for i in range(60)]
    model_held = asyncio.Event()  # the model sends nothing until the event has been acknowledged
    harness.tgi.enqueue(FakeReply(text=" ".join(words), token_delay_s=0.03, hold=model_held))
    # Acknowledged while the model is held, so before any of the answer exists: an ack that waited for the
    # answer would never come (the test would end at pytest's timeout).
    assert await harness.post(mention("hello there <@U2|bob> and <@U3>")) == 200
    assert harness.slack.texts("chat.update") == []
    model_held.set()
    await harness.settle()
    posts = harness.slack.calls["chat.postMessage"]
    assert posts[0]["text"] == PLACEHOLDER  # progress at once
    assert all(p["thread_ts"] == TS for p in posts)  # in the mention's thread
    assert all(p["unfurl_links"] in (False, "false", "0") for p in posts)
    assert harness.slack.visible("C1", TS) == [" ".join(words)]
    assert harness.slack.visible("C1") == []  # nothing at the channel's top level
    # streamed: intermediate edits, at most about one per SLACK_UPDATE_INTERVAL_S (0.5 s here)
    edits = [t for t, m in harness.slack.timeline if m == "chat.update"]
    assert len(edits) >= 3
    streamed = edits[:-1]  # the final edit follows at once
    # at most one per interval over the time they span (counted, not timed: a delay on the way only widens it)
    assert len(streamed) <= (streamed[-1] - streamed[0]) / 0.5 + 2, streamed
    # the model saw who spoke, by name, and the other mention as a name
    assert "Ann: hello there @bob and @Cy Young<|im_end|>" in harness.tgi.prompts[0]


async def test_retried_event_is_answered_once(harness: Harness) -> None:
    payload = mention("once please", event_id="EvSame")
    assert await harness.post(payload) == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert await harness.post(payload, headers=retry) == 200
    await harness.settle()
    assert await harness.post(payload, headers={**retry, "X-Slack-Retry-Num": "2"}) == 200
    await harness.settle()
    assert len(harness.tgi.prompts) == 1
    assert harness.slack.visible("C1", TS) == ["You said: U1: once please"]


async def test_follow_up_in_the_bots_thread_needs_no_mention(harness: Harness) -> None:
    await harness.post(mention("my number is 42", event_id="Ev1"))
    await harness.settle()
    follow = event("what is my number?", event_id="Ev2", kind="message", ts="1700000002.1", thread_ts=TS)
    await harness.post(follow)
    await harness.settle()
    assert len(harness.tgi.prompts) == 2
    assert "my number is 42" in harness.tgi.prompts[1]  # the thread's history
    assert harness.slack.visible("C1", TS)[-1] == "You said: U1: what is my number?"
    # a reply in the thread that talks to someone else, and a thread the bot is not part of: no answer
    aside = event("<@U2> lunch?", event_id="Ev3", kind="message", ts="1700000003.1", thread_ts=TS)
    unrelated = event("unrelated", event_id="Ev4", kind="message", ts="1700000004.1", thread_ts="1699.1")
    top_level = event("just chatting", event_id="Ev5", kind="message", ts="1700000005.1")
    for payload in (aside, unrelated, top_level):
        await harness.post(payload)
    await harness.settle()
    assert len(harness.tgi.prompts) == 2


async def test_shared_channel_thread_is_one_conversation_whoever_posts(harness: Harness) -> None:
    # A Slack Connect channel: the first question comes from another organisation's user (event.team T9);
    # the conversation is keyed by the workspace the app is installed in (authorizations[0].team_id).
    await harness.post(mention("the code word is heron", event_id="EvX", user="UEXT", team="T9"))
    await harness.settle()
    follow = event("what was the code word?", event_id="EvY", kind="message", ts="1700000002.1", thread_ts=TS)
    await harness.post(follow)
    await harness.settle()
    assert len(harness.tgi.prompts) == 2 and "heron" in harness.tgi.prompts[1]
    assert await harness.core.redis.llen(KeySpace("relay").turns(key("C1", TS).id)) == 2


async def test_assistant_view_install_answers_a_direct_message_at_the_top_level(
    redis_client: aioredis.Redis,
) -> None:
    # SLACK_MESSAGING_VIEW=assistant: an app still on assistant_view keeps its DMs one conversation
    async with http_harness(redis_client, messaging_view="assistant") as harness:
        await harness.post(event("hi in private", kind="message", channel="D1", channel_type="im"))
        await harness.settle()
        assert harness.slack.visible("D1") == ["You said: hi in private"]
        assert "thread_ts" not in harness.slack.calls["chat.postMessage"][0]
        assert "<|im_start|>user\nhi in private<|im_end|>" in harness.tgi.prompts[0]
        assert harness.slack.calls["assistant.threads.setStatus"] == []  # no thread to show it in


async def test_dms_follow_their_own_switch_not_the_channel_list(redis_client: aioredis.Redis) -> None:
    async with http_harness(redis_client, allowed_channels="C7") as h:
        await h.post(event("dm", event_id="E1", kind="message", channel="D1", channel_type="im"))
        await h.post(mention("not here", event_id="E2", channel="C1"))
        await h.settle()
        assert [p.count("<|im_start|>user") for p in h.tgi.prompts] == [1]
        assert h.slack.visible("D1", TS) and not h.slack.visible("C1", TS)  # the DM in its own thread
    await redis_client.flushall()
    async with http_harness(redis_client, respond_to_dms=False, allowed_users="U1") as h:
        await h.post(event("dm", event_id="E3", kind="message", channel="D1", channel_type="im"))
        await h.post(mention("from a stranger", event_id="E4", user="U5"))
        await h.post(mention("from the allowed user", event_id="E5", ts="1700000009.1"))
        await h.settle()
        assert len(h.tgi.prompts) == 1 and "from the allowed user" in h.tgi.prompts[0]


async def test_block_lists_win_everywhere_and_cover_a_channels_threads(redis_client: aioredis.Redis) -> None:
    async with http_harness(
        redis_client, blocked_users="U5", blocked_channels="C2", allowed_users="U1,U5"
    ) as h:
        await h.post(event("dm", event_id="E1", kind="message", channel="D1", channel_type="im", user="U5"))
        await h.post(mention("from a blocked member", event_id="E2", user="U5"))
        await h.post(mention("in a blocked channel", event_id="E3", channel="C2"))
        await h.post(mention("allowed here", event_id="E4", ts="1700000009.1"))
        await h.settle()
        assert len(h.tgi.prompts) == 1 and "allowed here" in h.tgi.prompts[0]
        await h.command("ask hello?", user="U5")
        await h.settle()
        assert h.slack.responses() == [NOT_ENABLED]


async def test_bot_messages_edits_deletions_and_notices_are_ignored(harness: Harness) -> None:
    im = {"kind": "message", "channel": "D1", "channel_type": "im"}
    edited = event("edited", event_id="Ev5", subtype="message_changed", **im)
    deleted = event("", event_id="Ev6", subtype="message_deleted", **im)
    bot = event("beep", event_id="Ev7", bot_id="B2", **im)
    own = event("me", event_id="Ev8", user=BOT_USER, bot_id=BOT_ID, **im)
    joined = event("<@U1> has joined", event_id="Ev9", subtype="channel_join", kind="message")
    future = event("something new", event_id="Ev10", subtype="some_future_subtype", **im)
    for payload in (edited, deleted, bot, own, joined, future):
        assert await harness.post(payload) == 200
    await harness.settle()
    assert harness.tgi.prompts == []
    # a message with a file is still a person talking: its text is answered
    await harness.post(event("see attached", event_id="Ev11", subtype="file_share", **im))
    await harness.settle()
    assert len(harness.tgi.prompts) == 1


async def test_generated_pings_arrive_escaped(harness: Harness) -> None:
    reply = (
        "Hey <!channel> and <@U999> & <!here> [x](!everyone) <!subteam^S1> <#C9>\n"
        "```\nprint('<!channel>')\n```\n"
        "[click](https://example.com/?a=1&b=2) and [google.com](https://evil.example) `<@U1>`"
    )
    harness.tgi.enqueue(FakeReply(text=reply))
    await harness.post(mention("ping everyone"))
    await harness.settle()
    sent = harness.slack.texts("chat.postMessage") + harness.slack.texts("chat.update")
    for text in sent:
        assert not _RAW_ANGLE.search(text), text
    final = harness.slack.visible("C1", TS)[-1]
    assert "&lt;!channel&gt;" in final and "&lt;@U999&gt;" in final and "&amp;" in final
    assert "print('&lt;!channel&gt;')" in final  # inside the code block too
    assert "<https://example.com/?a=1&amp;b=2|click>" in final  # a real link stays a link
    assert "google.com (<https://evil.example>)" in final  # a link that lies about its target shows it


async def test_long_answer_arrives_in_valid_chunks(harness: Harness) -> None:
    words = [f"word{i:03d}-ünïcödé-{'x' * 24}" for i in range(260)]  # 9,000+ characters in 260 tokens
    assert len(" ".join(words)) > 9000
    harness.tgi.enqueue(FakeReply(text=" ".join(words), token_delay_s=0.002))
    await harness.post(mention("write a lot"))
    await harness.settle()
    chunks = harness.slack.visible("C1", TS)
    assert len(chunks) >= 3
    assert all(0 < len(c.encode()) <= MAX_BYTES for c in chunks)
    assert " ".join(chunks).split() == words


async def test_code_block_split_over_messages_stays_balanced(harness: Harness) -> None:
    code = "\n".join(f"line_{i} = {i} * 2  # {'c' * 40}" for i in range(140))
    harness.tgi.enqueue(FakeReply(text=f"Here:\n```python\n{code}\n```\nDone."))
    await harness.post(mention("code please"))
    await harness.settle()
    chunks = harness.slack.visible("C1", TS)
    assert len(chunks) >= 2
    for chunk in chunks:
        assert chunk.count("```") % 2 == 0, chunk[:80]
        assert "```python" not in chunk  # Slack would show the language as code
        assert len(chunk.encode()) <= MAX_BYTES


@pytest.mark.parametrize("delete_refused", [False, True], ids=["deleted", "overwritten"])
async def test_answer_blocked_mid_stream_is_replaced_everywhere(
    redis_client: aioredis.Redis, delete_refused: bool
) -> None:
    # The answer streams in about a second: Slack's one post per second per channel would let one continuation
    # up before the block; this test needs several up, so the write budget allows more posts.
    async with http_harness(
        redis_client, moderator=WordModerator(output_word="FORBIDDEN"), posts_per_channel_per_s=100
    ) as h:
        if delete_refused:
            h.slack.failing["chat.delete"] = "cant_delete_message"
        words = [f"word{i:03d}-{'y' * 50}" for i in range(240)]
        words[220] = "FORBIDDEN"  # after ~13,000 characters: several messages are up by then
        h.tgi.enqueue(FakeReply(text=" ".join(words), token_delay_s=0.005))
        await h.post(mention("go"))
        await h.settle()
        assert len(h.slack.calls["chat.postMessage"]) >= 3  # the answer had spread over several messages
        shown = h.slack.visible("C1", TS)
        if delete_refused:  # every message that showed part of the answer now shows the notice
            assert len(shown) >= 3 and set(shown) == {BLOCK_NOTICE}
        else:
            assert shown == [BLOCK_NOTICE]
        assert await redis_client.llen(KeySpace("relay").turns(key("C1", TS).id)) == 0


async def test_blocked_question_gets_the_notice_in_thread(redis_client: aioredis.Redis) -> None:
    async with http_harness(redis_client, moderator=WordModerator(input_word="forbidden")) as h:
        await h.post(mention("something forbidden"))
        await h.settle()
        assert h.tgi.prompts == []
        assert h.slack.visible("C1", TS) == [BLOCK_NOTICE]


async def test_rate_limited_user_is_told_when_to_come_back(redis_client: aioredis.Redis) -> None:
    limits = LimitSettings(user_per_minute=1, channel_per_minute=0)
    # the gate's clock stands 20 s into a minute window: both messages fall in it, 40 s before its end
    async with http_harness(redis_client, limits=limits, gate_clock=Clock(WINDOW_START + 20)) as h:
        await h.post(mention("one", event_id="E1"))
        await h.post(mention("two", event_id="E2", ts="1700000002.1"))
        await h.settle()
        assert len(h.tgi.prompts) == 1
        threads = [h.slack.visible("C1", TS), h.slack.visible("C1", "1700000002.1")]
        (notice,) = [t[0] for t in threads if not t[0].startswith("You said")]  # whichever came second
        assert notice == "You're sending messages faster than I can answer. Try again in 40 s."


async def test_a_burst_from_one_member_gets_one_notice_and_one_user_lookup(redis_url: str) -> None:
    """200 mentions from one member at once: as on Discord, the rate-limit notice is posted once per
    cooldown (it was 194 times), and the member's name is looked up with one `users.info` call (it was up
    to 200: concurrent lookups of one user now share one call)."""
    limits = LimitSettings(user_per_minute=6, channel_per_minute=0)
    redis = build_redis(Settings(redis=RedisSettings(url=redis_url)))  # the bot's own pool: it queues
    try:
        # the gate's clock stands still: the whole burst falls in one minute window
        async with http_harness(redis, limits=limits, gate_clock=Clock()) as h:
            statuses = await asyncio.gather(
                *(
                    h.post(mention(f"message {n}", event_id=f"EvB{n}", ts=f"1700000100.{n:06d}"))
                    for n in range(200)
                )
            )
            await h.settle(30)
    finally:
        await redis.aclose()
    assert statuses == [200] * 200
    posted = h.slack.texts("chat.postMessage")
    notices = [t for t in posted if t.startswith("You're sending messages faster than I can answer")]
    answers = [t for t in h.slack.texts("chat.update") if t.startswith("You said: U1: message")]
    assert len(notices) == 1, len(notices)
    assert len(answers) == 6 and len(h.tgi.prompts) == 6
    assert set(posted) - set(notices) == {PLACEHOLDER}  # nothing else: the answers' placeholders
    looked_up = [c["user"] for c in h.slack.calls["users.info"]]
    assert sorted(looked_up) == sorted([BOT_USER, "U1"])  # the member, and the bot mentioned in each message


async def test_rate_limited_web_api_is_waited_out(harness: Harness) -> None:
    harness.slack.rate_limited["chat.postMessage"] = 1
    harness.slack.retry_after_s = 1
    await harness.post(mention("hi"))
    await harness.settle()
    posts = [(t, m) for t, m in harness.slack.timeline if m.startswith("chat.postMessage")]
    assert [m for _, m in posts] == ["chat.postMessage:429", "chat.postMessage"]  # refused, then posted once
    assert posts[1][0] - posts[0][0] >= 1.0  # not before Retry-After
    assert harness.slack.visible("C1", TS) == ["You said: U1: hi"]  # one message in the thread, no duplicate
    labels = {"platform": "slack", "route": "chat.postMessage"}
    assert (
        harness.core.metrics.registry.get_sample_value("dolphin_relay_platform_rate_limited_total", labels)
        == 1
    )


async def test_a_failing_update_mid_stream_does_not_end_the_answer(harness: Harness) -> None:
    words = [f"w{i}" for i in range(80)]
    harness.tgi.enqueue(FakeReply(text=" ".join(words), token_delay_s=0.012))
    harness.slack.rate_limited["chat.update"] = 4  # more 429s than the retry handler waits out: one is lost
    harness.slack.retry_after_s = 0
    await harness.post(mention("go"))
    await harness.settle()
    assert harness.slack.visible("C1", TS) == [" ".join(words)]


async def test_mod_log_feed_gets_a_permalink(redis_client: aioredis.Redis) -> None:
    feed = ModFeedQueue("slack")  # the composition root gives the moderator its feeds when it builds it
    moderator = WordModerator(input_word="forbidden", feeds=[feed])
    async with http_harness(redis_client, moderator=moderator, mod_feed=feed, mod_log_channel="CMOD") as h:
        h.slack.users["U1"] = {"profile": {"display_name": "Ann <!here>"}}
        await h.post(mention("something forbidden <!channel>"))
        await h.settle()
        (entry,) = h.slack.visible("CMOD")
        assert "*block* (input)" in entry and "<#C1>" in entry
        assert "category *test Test words*" in entry  # the code and the policy's name
        assert "layer words · language en" in entry  # the language of the text checked
        assert f"<https://t1.slack.com/archives/C1/p{TS.replace('.', '')}|open the thread>" in entry
        assert "Ann &lt;!here&gt;" in entry and not _RAW_ANGLE.search(entry.replace("<#C1>", ""))


async def test_assistant_thread_gets_prompts_status_and_an_answer(harness: Harness) -> None:
    started = event("", event_id="EvS", kind="assistant_thread_started")
    started["event"] = {
        "type": "assistant_thread_started",
        "event_ts": "1700000005.000001",
        "assistant_thread": {
            "user_id": "U1",
            "channel_id": "D9",
            "thread_ts": "1700000005.000001",
            "context": {},
        },
    }
    assert await harness.post(started) == 200
    await harness.settle()
    (prompts,) = harness.slack.calls["assistant.threads.setSuggestedPrompts"]
    assert "Summarize a topic for me" in str(prompts["prompts"])
    question = event(
        "what can you do?",
        event_id="EvQ",
        kind="message",
        channel="D9",
        channel_type="im",
        ts="1700000006.000001",
        thread_ts="1700000005.000001",
    )
    await harness.post(question)
    await harness.settle()
    statuses = [c.get("status") for c in harness.slack.calls["assistant.threads.setStatus"]]
    assert statuses == ["is thinking…"]
    loading = harness.slack.statuses[("D9", "1700000005.000001")][1]
    assert loading == list(progress("en").loading_messages)  # rotating under the status
    shown = harness.slack.visible("D9", "1700000005.000001")
    assert shown[0].startswith("Hi! I'm Dolphin") and shown[-1] == "You said: what can you do?"
    assert PLACEHOLDER not in shown  # the status, not a placeholder
    assert len(harness.tgi.prompts) == 1


async def test_dm_thread_without_assistant_status_still_shows_progress(harness: Harness) -> None:
    harness.slack.failing["assistant.threads.setStatus"] = "channel_not_found"
    question = event(
        "in a thread",
        kind="message",
        channel="D3",
        channel_type="im",
        ts="1700000008.1",
        thread_ts="1700000007.1",
    )
    await harness.post(question)
    await harness.settle()
    assert harness.slack.calls["chat.postMessage"][0]["text"] == PLACEHOLDER
    assert harness.slack.visible("D3", "1700000007.1") == ["You said: in a thread"]


async def test_concurrent_mentions_in_two_channels_do_not_mix(harness: Harness) -> None:
    harness.tgi.enqueue(
        FakeReply(text="alpha " * 30, token_delay_s=0.01), FakeReply(text="beta " * 30, token_delay_s=0.01)
    )
    await asyncio.gather(
        harness.post(mention("a", event_id="EA", channel="CA")),
        harness.post(mention("b", event_id="EB", channel="CB")),
    )
    await harness.settle()
    shown = harness.slack.visible("CA", TS) + harness.slack.visible("CB", TS)
    assert sorted(s.split()[0] for s in shown) == ["alpha", "beta"]
    assert all(len(set(s.split())) == 1 for s in shown)


async def test_user_lookups_are_shared_cached_and_bounded() -> None:
    """Concurrent lookups of one user share one `users.info` call; the cache keeps the most recently used
    users up to its bound; a failed lookup is retried after a few seconds, not five minutes."""
    now = [0.0]
    async with FakeSlackAPI() as slack:
        client = AsyncWebClient(token="xoxb-test-token", base_url=slack.url)
        users = UserDirectory(client, clock=lambda: now[0], max_users=2)
        found = await asyncio.gather(*(users.get("U1") for _ in range(50)))
        assert {u.id for u in found if u is not None} == {"U1"}
        await users.get("U2")
        await users.get("U1")  # cached, and now the most recently used
        await users.get("U3")  # the cache is full: U2 goes
        await users.get("U1")
        await users.get("U2")
        assert [c["user"] for c in slack.calls["users.info"]] == ["U1", "U2", "U3", "U2"]

        slack.failing["users.info"] = "ratelimited"
        assert await users.get("U9") is None and await users.get("U9") is None
        del slack.failing["users.info"]
        now[0] += 11
        assert (await users.get("U9")) is not None
        assert [c["user"] for c in slack.calls["users.info"]][4:] == ["U9", "U9"]
