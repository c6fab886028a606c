"""Slack's agent messaging experience end to end: an app created from slack/manifest*.yml (the fake Web API
behaves as Slack documents it for `agent_view`), signed events into bolt's real HTTP endpoint, the real core
on real Redis and the fake TGI. A member who opens the app's DM is greeted once and offered the suggested
prompts; each top-level DM starts a thread of its own with its own history; `app_context_changed` is
acknowledged and changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml

from bots.runtime import build_redis
from bots.slack.sink import PLACEHOLDER
from core.greeting import greeting, progress
from core.settings import RedisSettings, Settings
from tests.integration.slack_harness import (
    envelope,
    event,
    http_harness,
    key,
    socket_harness,
    stored_texts,
    watch_logs,
)
from tests.polling import until
from tests.redis_servers import start_redis, stop_redis

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = [ROOT / "slack" / "manifest.yml", ROOT / "slack" / "manifest-http.yml"]
PROMPTS = ["Summarize a topic for me", "Help me write a message", "Explain some code"]


def manifest(path: Path = MANIFESTS[0]) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def dm_opened(user: str, channel: str, event_id: str, *, tab: str = "messages") -> dict[str, Any]:
    """`app_home_opened` as Slack sends it when a member opens the app's Messages tab (with the context
    Slack adds once the app subscribes to app_context_changed)."""
    payload = event("", event_id=event_id, kind="app_home_opened", channel=channel, user=user)
    payload["event"] = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": tab,
        "event_ts": "1700000000.000900",
        "context": {"entities": [{"type": "slack#/types/channel_id", "value": "C42", "team_id": "T1"}]},
    }
    return payload


def dm(text: str, event_id: str, *, ts: str, thread_ts: str | None = None, **extra: Any) -> dict[str, Any]:
    return event(
        text,
        event_id=event_id,
        kind="message",
        channel="D1",
        channel_type="im",
        ts=ts,
        thread_ts=thread_ts,
        **extra,
    )


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
async def test_an_app_created_from_the_manifest_greets_a_member_who_opens_its_dm(
    redis_client: aioredis.Redis, path: Path
) -> None:
    async with http_harness(redis_client, manifest=manifest(path)) as h:
        assert h.slack.view == "agent" and h.slack.subscribes("app_home_opened")
        assert await h.post(dm_opened("U1", "D1", "EvO1")) == 200
        await h.settle()
        assert h.slack.visible("D1") == [greeting("Dolphin", "en")]
        assert h.slack.shown_prompts("D1") == PROMPTS  # set without thread_ts: agent view shows them
        # every visit is an event: the prompts again, the greeting only once
        assert await h.post(dm_opened("U1", "D1", "EvO2")) == 200
        await h.settle()
        assert h.slack.visible("D1") == [greeting("Dolphin", "en")]
        calls = h.slack.calls["assistant.threads.setSuggestedPrompts"]
        assert len(calls) == 2 and all("thread_ts" not in c for c in calls)
        # a member whose Slack is in French is greeted in French
        h.slack.users["U2"] = {"name": "zoe", "locale": "fr-FR"}
        await h.post(dm_opened("U2", "D2", "EvO3"))
        # the Home tab (not enabled in the manifests) is not the DM
        await h.post(dm_opened("U3", "D3", "EvO4", tab="home"))
        await h.settle()
        assert h.slack.visible("D2") == [greeting("Dolphin", "fr")]
        assert greeting("Dolphin", "fr").startswith("Bonjour")
        assert h.slack.visible("D3") == [] and h.slack.shown_prompts("D3") == []
        assert h.tgi.prompts == []  # nothing was asked


async def test_socket_mode_app_greets_too_and_answers_the_dm_in_its_thread(
    redis_client: aioredis.Redis,
) -> None:
    async with socket_harness(redis_client, manifest=manifest(MANIFESTS[0])) as h:
        await h.slack.push(envelope(dm_opened("U1", "D1", "EvO1"), "env-1"))
        assert await h.slack.wait_ack("env-1") == {"envelope_id": "env-1"}
        await until(lambda: h.slack.shown_prompts("D1") == PROMPTS)
        assert h.slack.visible("D1") == [greeting("Dolphin", "en")]
        await h.slack.push(envelope(dm("hi over the socket", "EvM", ts="1700000001.000100"), "env-2"))
        await until(lambda: h.slack.visible("D1", "1700000001.000100") == ["You said: hi over the socket"])


async def test_the_greeting_is_shown_once_whichever_replica_gets_the_visit(
    redis_client: aioredis.Redis,
) -> None:
    async with (
        http_harness(redis_client, manifest=manifest()) as one,
        http_harness(redis_client, manifest=manifest()) as two,
    ):
        # Slack delivers two visits close together, one to each replica
        await one.post(dm_opened("U1", "D1", "EvA"))
        await two.post(dm_opened("U1", "D1", "EvB"))
        await one.settle()
        await two.settle()
        greetings = one.slack.visible("D1") + two.slack.visible("D1")
        assert greetings == [greeting("Dolphin", "en")]


async def test_a_member_the_bot_does_not_serve_is_neither_greeted_nor_prompted(
    redis_client: aioredis.Redis,
) -> None:
    async with http_harness(redis_client, manifest=manifest(), blocked_users="U5") as h:
        await h.post(dm_opened("U5", "D5", "EvO1"))
        await h.settle()
        assert h.slack.calls["chat.postMessage"] == []
        assert h.slack.calls["assistant.threads.setSuggestedPrompts"] == []


async def test_each_top_level_dm_starts_a_thread_with_its_own_history(redis_client: aioredis.Redis) -> None:
    first, second = "1700000001.000100", "1700000002.000100"
    async with http_harness(redis_client, manifest=manifest()) as h:
        await h.post(dm("my cat is called Miso", "E1", ts=first))
        await h.settle()
        await h.post(dm("my dog is called Rex", "E2", ts=second))
        await h.settle()
        await h.post(dm("what is my pet called?", "E3", ts="1700000003.000100", thread_ts=first))
        await h.settle()
        # each answer in the thread of the message it answers; nothing from the bot at the DM's top level
        assert h.slack.visible("D1") == []
        assert h.slack.visible("D1", first) == [
            "You said: my cat is called Miso",
            "You said: what is my pet called?",
        ]
        assert h.slack.visible("D1", second) == ["You said: my dog is called Rex"]
        # the model saw each thread's own history only
        assert "Miso" not in h.tgi.prompts[1]
        assert "Miso" in h.tgi.prompts[2] and "Rex" not in h.tgi.prompts[2]
        assert await stored_texts(h.core.redis, key("D1", first)) == [
            "my cat is called Miso",
            "what is my pet called?",
        ]
        assert await stored_texts(h.core.redis, key("D1", second)) == ["my dog is called Rex"]
        # progress: Slack's status with rotating loading messages in each thread, no placeholder message
        shown = progress("en")
        assert h.slack.statuses[("D1", first)] == (shown.status, list(shown.loading_messages))
        assert h.slack.statuses[("D1", second)] == (shown.status, list(shown.loading_messages))
        assert len(shown.loading_messages) >= 2
        assert PLACEHOLDER not in [c["text"] for c in h.slack.calls["chat.postMessage"]]


async def test_the_status_speaks_the_members_language(redis_client: aioredis.Redis) -> None:
    async with http_harness(redis_client, manifest=manifest()) as h:
        await h.post(dm("猫の名前を考えてください。かわいい名前がいいです。", "E1", ts="1700000001.000100"))
        await h.settle()
        status, loading = h.slack.statuses[("D1", "1700000001.000100")]
        assert (status, loading) == (progress("ja").status, list(progress("ja").loading_messages))
        assert status == "考え中…"


async def test_app_context_changed_is_acknowledged_and_changes_nothing(redis_client: aioredis.Redis) -> None:
    async with http_harness(redis_client, manifest=manifest()) as h:
        assert h.slack.subscribes("app_context_changed")
        changed = event("", event_id="EvC", kind="app_context_changed")
        changed["event"] = {  # Slack's reference example
            "type": "app_context_changed",
            "context": {"entities": [{"type": "slack#/types/channel_id", "value": "C0123", "team_id": "T1"}]},
        }
        empty = event("", event_id="EvC2", kind="app_context_changed")
        empty["event"] = {"type": "app_context_changed", "context": {}}
        await h.post(dm("warm up", "E0", ts="1700000000.000100"))  # bolt's auth.test, the user lookup
        await h.settle()
        before = {method: len(calls) for method, calls in h.slack.calls.items()}
        with watch_logs() as logs:
            assert await h.post(changed) == 200
            assert await h.post(empty) == 200
            await h.settle()
            # the context events made no Web API call and asked the model nothing
            assert {method: len(calls) for method, calls in h.slack.calls.items()} == before
            assert len(h.tgi.prompts) == 1
            # a DM then carries the context too; it is answered as any other, and the context stays out
            context = {"entities": [{"type": "slack#/types/channel_id", "value": "C0123", "team_id": "T1"}]}
            await h.post(dm("hello there", "E1", ts="1700000001.000100", context=context))
            await h.settle()
        assert logs.named("slack.event_dropped") == [] and logs.tracebacks() == []
        assert "Unhandled request" not in logs.text()
        assert h.slack.visible("D1", "1700000001.000100") == ["You said: hello there"]
        assert len(h.tgi.prompts) == 2 and "C0123" not in h.tgi.prompts[1]


async def test_with_redis_away_a_visit_gets_the_prompts_and_no_greeting(own_redis: tuple[int, Path]) -> None:
    port, data = own_redis
    proc = start_redis(port, data)
    redis = build_redis(Settings(redis=RedisSettings(url=f"redis://127.0.0.1:{port}/0", socket_timeout_s=1)))
    try:
        async with http_harness(redis, manifest=manifest()) as h:
            stop_redis(proc)  # who was greeted cannot be known: better no greeting than one at every visit
            with watch_logs() as logs:
                assert await h.post(dm_opened("U1", "D1", "EvO1")) == 200
                await h.settle()
            assert h.slack.visible("D1") == []
            assert h.slack.shown_prompts("D1") == PROMPTS
            assert logs.named("slack.greeting_skipped") and logs.tracebacks() == []
    finally:
        await redis.aclose()
        stop_redis(proc)


def assistant_view_manifest() -> dict[str, Any]:
    """The manifest of an app created before agent view (its features and events as they were then)."""
    old = manifest()
    old["features"].pop("agent_view")
    old["features"]["assistant_view"] = {"assistant_description": "Ask Dolphin anything."}
    events = old["settings"]["event_subscriptions"]["bot_events"]
    events[:] = [e for e in events if e not in ("app_home_opened", "app_context_changed")]
    events.append("assistant_thread_started")
    return old


async def test_an_install_still_on_assistant_view_keeps_working(redis_client: aioredis.Redis) -> None:
    thread = "1700000005.000001"
    async with http_harness(
        redis_client, manifest=assistant_view_manifest(), messaging_view="assistant"
    ) as h:
        assert h.slack.view == "assistant" and h.slack.subscribes("assistant_thread_started")
        started = event("", event_id="EvS", kind="assistant_thread_started")
        started["event"] = {
            "type": "assistant_thread_started",
            "event_ts": thread,
            "assistant_thread": {"user_id": "U1", "channel_id": "D1", "thread_ts": thread, "context": {}},
        }
        await h.post(started)
        await h.settle()
        assert h.slack.visible("D1", thread) == ["Hi! I'm Dolphin. Ask me anything."]
        assert h.slack.shown_prompts("D1", thread) == PROMPTS  # the assistant thread's own prompts
        await h.post(dm("in the assistant thread", "E1", ts="1700000006.000001", thread_ts=thread))
        await h.post(dm("at the top level", "E2", ts="1700000007.000001"))
        await h.settle()
        assert h.slack.visible("D1", thread)[-1] == "You said: in the assistant thread"
        assert ("D1", thread) in h.slack.statuses
        assert h.slack.visible("D1") == ["You said: at the top level"]  # one conversation, as before
        assert await stored_texts(h.core.redis, key("D1")) == ["at the top level"]
