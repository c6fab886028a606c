"""The Slack app end to end over loopback: signed events into bolt's real HTTP endpoint, answers into a
fake Web API, the real core on real Redis and the fake TGI."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.runtime import Core
from bots.slack.app import SlackRelay, start_http
from bots.slack.sink import MAX_BYTES
from bots.slack.translate import MrkdwnRenderer, clean_text
from bots.tasks import TaskTracker
from core.alignment.base import AllowAll
from core.errors import ConfigurationError
from core.gate import RedisGate
from core.history import RedisConversationStore
from core.keys import KeySpace
from core.llm import TGIClient, build_http_client
from core.observability import Metrics
from core.service import ChatService
from core.settings import ChatSettings, HistorySettings, LimitSettings, Settings, SlackSettings, TGISettings
from core.tokens import EstimatingCounter
from tests.fakes.slack_api import BOT_USER, TEAM, FakeSlackAPI
from tests.fakes.tgi import FakeReply, FakeTGI

SECRET = "test-signing-secret"


class Harness:
    def __init__(self, slack: FakeSlackAPI, tgi: FakeTGI, relay: SlackRelay, url: str, core: Core) -> None:
        self.slack, self.tgi, self.relay, self.url, self.core = slack, tgi, relay, url, core

    async def post(
        self,
        payload: dict[str, Any],
        *,
        secret: str = SECRET,
        age_s: float = 0,
        headers: dict[str, str] | None = None,
        form: bool = False,
    ) -> int:
        body = json.dumps(payload) if not form else "&".join(f"{k}={v}" for k, v in payload.items())
        ts = str(int(time.time() - age_s))
        signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        h = {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded" if form else "application/json",
            **(headers or {}),
        }
        async with aiohttp.ClientSession() as session, session.post(self.url, data=body, headers=h) as resp:
            return resp.status

    async def settle(self) -> None:
        for _ in range(200):
            await asyncio.sleep(0.02)
            if len(self.core.tasks) == 0:
                return


def event(
    text: str,
    *,
    event_id: str = "Ev1",
    channel: str = "C1",
    ts: str = "1700000001.000100",
    thread_ts: str | None = None,
    kind: str = "app_mention",
    channel_type: str = "channel",
    user: str = "U1",
    team: str = TEAM,
) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "type": kind,
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "team": team,
        "channel_type": channel_type,
        "event_ts": ts,
    }
    if thread_ts:
        ev["thread_ts"] = thread_ts
    return {
        "token": "x",
        "team_id": team,
        "api_app_id": "A1",
        "event": ev,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
    }


@pytest.fixture
async def harness(redis_client: aioredis.Redis) -> AsyncIterator[Harness]:
    async with FakeSlackAPI() as slack, FakeTGI() as tgi:
        settings = Settings(
            slack=SlackSettings(
                bot_token="xoxb-test-token",
                signing_secret=SECRET,
                api_url=slack.url,  # type: ignore[arg-type]
                update_interval_s=0.5,
                admin_users="UADMIN",
            ),
        )
        keys = KeySpace("relay")
        cfg = TGISettings()
        async with build_http_client(cfg) as http:
            generator = TGIClient(http=http, settings=cfg, base_url=tgi.url)
            service = ChatService(
                store=RedisConversationStore(redis=redis_client, keys=keys, settings=HistorySettings()),
                gate=RedisGate(redis=redis_client, keys=keys, limits=LimitSettings(), dedupe_ttl_s=600),
                generator=generator,
                counter=EstimatingCounter(),
                moderator=AllowAll(),
                chat=ChatSettings(),
                tgi=cfg,
            )
            core = Core(
                settings=settings,
                service=service,
                redis=redis_client,
                http=http,
                generator=generator,
                moderator=AllowAll(),
                metrics=Metrics(),
                key_prefix="relay",
                tasks=TaskTracker(),
            )
            relay = SlackRelay(core, settings=settings.slack, http_mode=True)
            runner, url = await start_http(relay.app, host="127.0.0.1", port=0)
            try:
                yield Harness(slack, tgi, relay, url, core)
                await core.tasks.drain(5)
            finally:
                await runner.cleanup()


async def test_bad_signature_and_stale_timestamp_are_rejected(harness: Harness) -> None:
    assert await harness.post(event("hi"), secret="wrong") == 401
    assert await harness.post(event("hi"), age_s=6 * 60) == 401
    await harness.settle()
    assert harness.tgi.prompts == []


async def test_mention_gets_a_threaded_streamed_answer(harness: Harness) -> None:
    assert await harness.post(event(f"<@{BOT_USER}> hello there")) == 200
    await harness.settle()
    posts = harness.slack.calls["chat.postMessage"]
    assert posts and all(p["thread_ts"] == "1700000001.000100" for p in posts)
    final = (harness.slack.texts("chat.update") or harness.slack.texts("chat.postMessage"))[-1]
    assert final == "You said: U1: hello there"


async def test_retried_event_is_answered_once(harness: Harness) -> None:
    payload = event(f"<@{BOT_USER}> once please", event_id="EvSame")
    assert await harness.post(payload) == 200
    assert (
        await harness.post(
            payload, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        )
        == 200
    )
    await harness.settle()
    assert len(harness.tgi.prompts) == 1
    assert len(harness.slack.calls["chat.postMessage"]) == 1


async def test_follow_up_in_the_bots_thread_needs_no_mention(harness: Harness) -> None:
    await harness.post(event(f"<@{BOT_USER}> my number is 42", event_id="Ev1"))
    await harness.settle()
    follow = event(
        "what is my number?",
        event_id="Ev2",
        kind="message",
        ts="1700000002.000100",
        thread_ts="1700000001.000100",
    )
    await harness.post(follow)
    await harness.settle()
    assert len(harness.tgi.prompts) == 2
    assert "my number is 42" in harness.tgi.prompts[1]
    # a thread the bot is not part of is ignored
    await harness.post(event("unrelated", event_id="Ev3", kind="message", thread_ts="1699999999.000001"))
    await harness.settle()
    assert len(harness.tgi.prompts) == 2


async def test_direct_message_is_answered(harness: Harness) -> None:
    await harness.post(event("hi in private", kind="message", channel="D1", channel_type="im"))
    await harness.settle()
    assert harness.slack.calls["chat.postMessage"][0]["channel"] == "D1"
    assert "<|im_start|>user\nhi in private<|im_end|>" in harness.tgi.prompts[0]


async def test_bot_messages_edits_and_own_events_are_ignored(harness: Harness) -> None:
    edited = event("edited", event_id="Ev5", kind="message", channel="D1", channel_type="im")
    edited["event"]["subtype"] = "message_changed"
    bot = event("beep", event_id="Ev6", kind="message", channel="D1", channel_type="im")
    bot["event"]["bot_id"] = "B2"
    own = event("me", event_id="Ev7", kind="message", channel="D1", channel_type="im", user=BOT_USER)
    for payload in (edited, bot, own):
        await harness.post(payload)
    await harness.settle()
    assert harness.tgi.prompts == []


async def test_generated_channel_ping_arrives_escaped(harness: Harness) -> None:
    harness.tgi.enqueue(FakeReply(text="Hey <!channel> and <@U999> & <!here> [x](!everyone)"))
    await harness.post(event(f"<@{BOT_USER}> ping everyone"))
    await harness.settle()
    for method in ("chat.postMessage", "chat.update"):
        for text in harness.slack.texts(method):
            assert "<!" not in text and "<@" not in text
    final = (harness.slack.texts("chat.update") or harness.slack.texts("chat.postMessage"))[-1]
    assert "&lt;!channel&gt;" in final and "&amp;" in final


async def test_long_answer_arrives_in_valid_chunks(harness: Harness) -> None:
    words = [f"word{i:03d}-ünïcödé-{'x' * 24}" for i in range(260)]  # 9,000+ characters in 260 tokens
    harness.tgi.enqueue(FakeReply(text=" ".join(words)))
    await harness.post(event(f"<@{BOT_USER}> write a lot"))
    await harness.settle()
    posts = harness.slack.calls["chat.postMessage"]
    latest: dict[int, str] = {i: p["text"] for i, p in enumerate(posts)}
    ts_index = {f"1700000000.{i + 1:06d}": i for i in range(len(posts))}
    for update in harness.slack.calls["chat.update"]:
        latest[ts_index[update["ts"]]] = update["text"]
    chunks = [latest[i] for i in sorted(latest)]
    assert len(chunks) >= 3
    assert all(0 < len(c.encode()) <= MAX_BYTES for c in chunks)
    assert " ".join(chunks).split() == words


async def test_admin_only_subcommands_refuse_a_non_admin(harness: Harness) -> None:
    for text in ("reset", "pause", "persona set You are a pirate.", "resume"):
        payload = {
            "command": "/dolphin",
            "text": text.replace(" ", "+"),
            "team_id": TEAM,
            "channel_id": "C1",
            "user_id": "U1",
            "user_name": "ann",
            "trigger_id": f"t-{text[:5]}",
            "response_url": "x",
        }
        assert await harness.post(payload, form=True) == 200
    await harness.settle()
    refusals = harness.slack.texts("chat.postEphemeral")
    assert len(refusals) == 4 and all("Only workspace admins" in t for t in refusals)
    assert await harness.core.service.get_persona(_key("C1")) is None
    harness.slack.admins.add("U2")  # a workspace admin per users.info
    payload = {
        "command": "/dolphin",
        "text": "persona+set+You+are+a+pirate.",
        "team_id": TEAM,
        "channel_id": "C1",
        "user_id": "U2",
        "user_name": "boss",
        "trigger_id": "t-ok",
        "response_url": "x",
    }
    await harness.post(payload, form=True)
    await harness.settle()
    assert await harness.core.service.get_persona(_key("C1")) == "You are a pirate."


async def test_same_channel_in_two_workspaces_shares_nothing(harness: Harness) -> None:
    await harness.post(event(f"<@{BOT_USER}> secret is swordfish", event_id="EvA", team="T1"))
    await harness.settle()
    await harness.post(
        event(f"<@{BOT_USER}> what is the secret?", event_id="EvB", team="T2", ts="1700000001.000100")
    )
    await harness.settle()
    assert "swordfish" not in harness.tgi.prompts[-1]


async def test_http_mode_refuses_to_start_without_signing_secret() -> None:
    core: Any = type("C", (), {"moderator": AllowAll(), "key_prefix": "relay"})()
    with pytest.raises(ConfigurationError) as err:
        SlackRelay(core, settings=SlackSettings(bot_token="xoxb-1"), http_mode=True)  # type: ignore[arg-type]
    assert err.value.setting == "SLACK_SIGNING_SECRET"


async def test_rate_limited_web_api_is_waited_out(harness: Harness) -> None:
    harness.slack.rate_limited["chat.postMessage"] = 1
    await harness.post(event(f"<@{BOT_USER}> hi"))
    await harness.settle()
    await asyncio.sleep(1.2)
    await harness.settle()
    assert harness.slack.calls["chat.postMessage:429"] and harness.slack.calls["chat.postMessage"]


def _key(channel: str):  # type: ignore[no-untyped-def]
    from core.models import ConversationKey, Platform

    return ConversationKey(Platform.SLACK, TEAM, channel, None)


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=200),
    st.sampled_from(
        ["<!channel>", "<!here>", "<@U1>", "<#C1>", "<!everyone>", "[a](!here)", "<!subteam^S1>"]
    ),
)
def test_escaping_never_lets_a_ping_through(text: str, ping: str) -> None:
    out = MrkdwnRenderer().render(text + ping + text)
    assert "<!" not in out and "<@" not in out and "<#" not in out


def test_incoming_markup_is_readable() -> None:
    text = clean_text(
        f"<@{BOT_USER}> ask <@U2|bob> in <#C9|general> see <https://x.y|site> &lt;tag&gt;",
        bot_user_id=BOT_USER,
    )
    assert text == "ask @bob in #general see site <tag>"


async def test_assistant_thread_gets_prompts_status_and_an_answer(harness: Harness) -> None:
    started = {
        "token": "x",
        "team_id": TEAM,
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": "EvS",
        "event_time": int(time.time()),
        "event": {
            "type": "assistant_thread_started",
            "event_ts": "1700000005.000001",
            "assistant_thread": {
                "user_id": "U1",
                "channel_id": "D9",
                "thread_ts": "1700000005.000001",
                "context": {},
            },
        },
    }
    assert await harness.post(started) == 200
    await harness.settle()
    assert harness.slack.calls["assistant.threads.setSuggestedPrompts"]
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
    assert "is thinking…" in statuses
    answers = [
        p for p in harness.slack.calls["chat.postMessage"] if p.get("thread_ts") == "1700000005.000001"
    ]
    assert any("what can you do?" in p["text"] for p in answers)
    assert len(harness.tgi.prompts) == 1
