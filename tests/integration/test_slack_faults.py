"""Faults as a Slack user sees them, through the real slack-bolt path (signed HTTP requests into bolt's
endpoint, or slack_sdk's Socket Mode client): malformed platform payloads are dropped with one warning and
the next mention is still answered; the model server dying mid-stream or down, Redis going away and coming
back. The core-level versions are in test_faults.py; these read the thread, the store and the logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from bots.runtime import build_redis
from core.errors import HistoryUnavailable, ModelUnavailable, StreamCutOff
from core.keys import KeySpace
from core.models import Platform
from core.settings import RedisSettings, Settings, TGISettings
from tests.fakes.slack_api import TEAM
from tests.fakes.tgi import FakeReply
from tests.integration.slack_harness import (
    Harness,
    envelope,
    event,
    http_harness,
    key,
    mention,
    socket_harness,
    stored_texts,
    watch_logs,
)
from tests.polling import until
from tests.ports import refused_port
from tests.redis_servers import start_redis, stop_redis

KEYS = KeySpace("relay")
TS = "1700000001.000100"
NEXT_TS = "1700000009.000100"
SECRET = "the secret words"  # in every malformed payload: it must not reach a log line


@pytest.fixture
async def harness(redis_client: aioredis.Redis) -> AsyncIterator[Harness]:
    async with http_harness(redis_client) as h:
        yield h


# ------------------------------------------------------------------------------------------ malformed


def mention_with(**fields: Any) -> dict[str, Any]:
    payload = mention(SECRET)
    payload["event"].update(fields)
    return payload


def mention_without(*names: str) -> dict[str, Any]:
    payload = mention(SECRET)
    for name in names:
        del payload["event"][name]
    return payload


def body_with(**fields: Any) -> dict[str, Any]:
    return {**mention(SECRET), **fields}


def dm_with(**fields: Any) -> dict[str, Any]:
    payload = event(SECRET, kind="message", channel="D1", channel_type="im")
    payload["event"].update(fields)
    for name, value in fields.items():
        if value is None:
            del payload["event"][name]
    return payload


def command_without(*names: str, **fields: str) -> dict[str, str]:
    payload = {
        "command": "/dolphin",
        "text": f"ask {SECRET}",
        "team_id": TEAM,
        "channel_id": "C1",
        "user_id": "U1",
        "user_name": "u1",
        "trigger_id": "trig-1",
        "response_url": "http://127.0.0.1:9/response/trig-1",
        "api_app_id": "A1",
        **fields,
    }
    return {k: v for k, v in payload.items() if k not in names}


HTTP_CASES = [
    # (payload, HTTP status, event_type, a piece of the reason)
    pytest.param(f"this is not JSON: {SECRET}", 400, "request", "not JSON", id="body-not-json"),
    pytest.param(json.dumps([SECRET]), 400, "request", "not a JSON object", id="body-a-json-array"),
    pytest.param("", 400, "request", "empty", id="body-empty"),
    # nested deeper than Python's recursion limit: json raised RecursionError, a 500 and a traceback
    pytest.param("[" * 200_000 + "]" * 200_000, 400, "request", "nested too deeply", id="body-nested-deep"),
    pytest.param(
        '{"type": "event_callback", "event": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001,
        400,
        "request",
        "nested too deeply",
        id="objects-nested-deep",
    ),
    pytest.param(  # deep enough to worry bolt's own parse, which runs deeper in the stack than ours
        body_with(blocks=[json.loads("[" * 500 + "]" * 500)]),
        400,
        "request",
        "nested too deeply",
        id="event-nested-500-deep",
    ),
    pytest.param(
        {k: v for k, v in mention(SECRET).items() if k != "event"},
        200,
        "event_callback",
        "no event",
        id="callback-without-event",
    ),
    pytest.param(body_with(event=SECRET), 200, "event_callback", "not an object", id="event-a-string"),
    pytest.param(mention_without("type"), 200, "event_callback", "event.type", id="event-without-type"),
    pytest.param(
        body_with(authorizations=TEAM), 200, "app_mention", "authorizations", id="authorizations-a-string"
    ),
    pytest.param(mention_without("user"), 200, "app_mention", "event.user", id="mention-without-user"),
    pytest.param(
        mention_without("channel"), 200, "app_mention", "event.channel", id="mention-without-channel"
    ),
    pytest.param(mention_without("ts"), 200, "app_mention", "event.ts", id="mention-without-ts"),
    pytest.param(mention_without("text"), 200, "app_mention", "event.text", id="mention-without-text"),
    pytest.param(mention_with(text=42), 200, "app_mention", "event.text", id="text-a-number"),
    pytest.param(mention_with(text=[SECRET]), 200, "app_mention", "event.text", id="text-a-list"),
    pytest.param(mention_with(text=None), 200, "app_mention", "event.text", id="text-null"),
    pytest.param(mention_with(user=7), 200, "app_mention", "event.user", id="user-a-number"),
    pytest.param(mention_with(ts="yesterday"), 200, "app_mention", "event.ts", id="ts-not-a-timestamp"),
    pytest.param(mention_with(thread_ts={"ts": TS}), 200, "app_mention", "thread_ts", id="thread-ts-object"),
    pytest.param(dm_with(user=None), 200, "message", "event.user", id="message-without-user"),
    pytest.param(dm_with(text=3.5), 200, "message", "event.text", id="message-text-a-number"),
    pytest.param(dm_with(subtype=5), 200, "message", "event.subtype", id="message-subtype-a-number"),
    pytest.param(
        dm_with(subtype="message_changed", user=None, message={"user": 5, "text": SECRET}),
        200,
        "message",
        "event.message.user",
        id="edit-with-a-broken-message",
    ),
    pytest.param(
        mention_with(type="reaction_added"), 200, "reaction_added", "unhandled event", id="unknown-event-type"
    ),
    pytest.param(
        {"type": "app_rate_limited", "team_id": TEAM, "minute_rate_limited": 1, "api_app_id": "A1"},
        200,
        "app_rate_limited",
        "unhandled payload",
        id="unknown-payload-type",
    ),
    pytest.param(
        command_without("channel_id"), 200, "slash_command", "channel_id", id="command-without-channel"
    ),
    pytest.param(command_without("team_id"), 200, "slash_command", "team_id", id="command-without-team"),
    pytest.param(
        command_without("response_url"), 200, "slash_command", "response_url", id="command-without-url"
    ),
    pytest.param(command_without("text"), 200, "slash_command", "text", id="command-without-text"),
    pytest.param(
        command_without(command="/other"), 200, "slash_command", "unknown command", id="unknown-command"
    ),
]


@pytest.mark.parametrize(("payload", "status", "event_type", "reason"), HTTP_CASES)
async def test_malformed_request_is_dropped_with_one_warning_and_the_next_mention_answered(
    harness: Harness, payload: dict[str, Any] | str | bytes, status: int, event_type: str, reason: str
) -> None:
    form = isinstance(payload, dict) and "command" in payload
    with watch_logs() as logs:
        # 2xx for what Slack would only resend as it is (it resends on anything else, three times); 400
        # with "don't resend" for a body that is not even a JSON object
        assert await harness.post(payload, form=form) == status
        if status == 400:
            assert harness.response_headers.get("X-Slack-No-Retry") == "1"
        await harness.settle()
        assert harness.slack.calls["chat.postMessage"] == [] and harness.slack.responses() == []
        assert harness.tgi.prompts == []
        assert await harness.core.redis.keys("*") == []  # nothing stored, no event id claimed
        assert await harness.post(mention("and now a real one", event_id="EvNext", ts=NEXT_TS)) == 200
        await harness.settle()
    assert harness.slack.visible("C1", NEXT_TS) == ["You said: U1: and now a real one"]
    (dropped,) = logs.named("slack.event_dropped")
    assert dropped["log_level"] == "warning" and dropped["transport"] == "http"
    assert dropped["event_type"] == event_type and reason in dropped["reason"], dropped
    assert logs.tracebacks() == []
    assert "secret words" not in logs.text()


async def test_requests_that_cannot_be_verified_get_401_and_leave_no_text_in_the_logs(
    harness: Harness,
) -> None:
    with watch_logs(logging.INFO) as logs:
        assert await harness.post(mention(SECRET), secret="wrong") == 401  # e.g. SLACK_SIGNING_SECRET wrong
        assert await harness.post(mention(SECRET), headers={"X-Slack-Request-Timestamp": "soon"}) == 401
        assert await harness.post(b"\xff\xfe" + SECRET.encode()) == 401  # not UTF-8: not from Slack
        await harness.settle()
    assert harness.tgi.prompts == [] and harness.slack.calls["chat.postMessage"] == []
    assert len(logs.named("slack.request_rejected")) == 3
    assert logs.tracebacks() == []
    # bolt's own check logged the whole body at INFO: every user's message, with a wrong signing secret
    assert "secret words" not in logs.text()


async def test_fields_the_app_does_not_read_and_odd_subtypes_are_no_reason_to_drop(harness: Harness) -> None:
    im = {"kind": "message", "channel": "D1", "channel_type": "im"}
    with watch_logs() as logs:
        # blocks, files and attachments are never read: garbage there changes nothing
        junk = mention("hello anyway", blocks="garbage", files={"id": 5}, attachments=7)
        assert await harness.post(junk) == 200
        # well-formed messages that are not a person's new message: ignored as always, without a warning
        for i, subtype in enumerate(("me_message", "huddle_thread", "some_future_subtype", "")):
            assert await harness.post(event("hm", event_id=f"EvS{i}", subtype=subtype, **im)) == 200
        assert await harness.post(event("beep", event_id="EvB", user="", bot_id="B9", **im)) == 200
        await harness.settle()
    assert harness.slack.visible("C1", TS) == ["You said: U1: hello anyway"]
    assert harness.slack.visible("D1") == [] and len(harness.tgi.prompts) == 1
    assert logs.named("slack.event_dropped") == [] and logs.tracebacks() == []


SOCKET_CASES = [
    # (frame, the envelope id acknowledged (None: there is none to acknowledge), event_type, reason)
    pytest.param(SECRET, None, "frame", "not JSON", id="frame-not-json"),
    pytest.param('{"type": "events_api", "payload": ' + SECRET, None, "frame", "not JSON", id="broken-json"),
    pytest.param(json.dumps([SECRET]), None, "frame", "not a JSON object", id="frame-a-json-array"),
    pytest.param("[" * 200_000 + "]" * 200_000, None, "frame", "nested too deeply", id="frame-nested-deep"),
    pytest.param(
        json.dumps(envelope(body_with(blocks=json.loads("[" * 500 + "]" * 500)), "env-bad")),
        "env-bad",
        "events_api",
        "nested too deeply",
        id="envelope-nested-500-deep",
    ),
    pytest.param(
        json.dumps({"envelope_id": "env-bad", "type": "events_api"}),
        "env-bad",
        "events_api",
        "no payload",
        id="envelope-without-payload",
    ),
    pytest.param(
        json.dumps({"type": "events_api", "payload": mention(SECRET)}),
        None,
        "events_api",
        "envelope_id",
        id="envelope-without-id",
    ),
    pytest.param(
        json.dumps(envelope([SECRET], "env-bad")),
        "env-bad",
        "events_api",
        "not an object",
        id="payload-a-list",
    ),
    pytest.param(
        json.dumps(envelope(body_with(event=SECRET), "env-bad")),
        "env-bad",
        "event_callback",
        "not an object",
        id="event-a-string",
    ),
    pytest.param(
        json.dumps(envelope(mention_with(user=7), "env-bad")),
        "env-bad",
        "app_mention",
        "event.user",
        id="user-a-number",
    ),
    pytest.param(
        json.dumps(envelope(mention_without("channel"), "env-bad")),
        "env-bad",
        "app_mention",
        "event.channel",
        id="mention-without-channel",
    ),
    pytest.param(
        json.dumps(envelope(mention_with(text=[SECRET]), "env-bad")),
        "env-bad",
        "app_mention",
        "event.text",
        id="text-a-list",
    ),
    pytest.param(
        json.dumps(envelope(mention_with(type="reaction_added"), "env-bad")),
        "env-bad",
        "reaction_added",
        "unhandled event",
        id="unknown-event-type",
    ),
    pytest.param(
        json.dumps(envelope({"command": "/dolphin", "text": SECRET}, "env-bad", kind="slash_commands")),
        "env-bad",
        "slash_command",
        "team_id",
        id="command-without-fields",
    ),
]


@pytest.mark.parametrize(("frame", "acked", "event_type", "reason"), SOCKET_CASES)
async def test_malformed_socket_mode_frame_is_dropped_with_one_warning_and_the_next_mention_answered(
    redis_client: aioredis.Redis, frame: str, acked: str | None, event_type: str, reason: str
) -> None:
    with watch_logs() as logs:
        async with socket_harness(redis_client) as h:
            await h.slack.push_raw(frame)
            await until(lambda: logs.named("slack.event_dropped"), timeout_s=5)
            payload = mention("and now a real one", event_id="EvNext", ts=NEXT_TS)
            await h.slack.push(envelope(payload, "env-next"))
            await until(lambda: h.slack.visible("C1", NEXT_TS) == ["You said: U1: and now a real one"])
            await until(lambda: len(h.core.tasks) == 0)
            # a malformed envelope is acknowledged once (else Slack sends it again); the rest cannot be
            acks = [a["envelope_id"] for a in h.slack.acks]
            assert acks == [*([acked] if acked else []), "env-next"]
            assert all(p.get("thread_ts") == NEXT_TS for p in h.slack.calls["chat.postMessage"])
            assert h.slack.responses() == [] and len(h.tgi.prompts) == 1
            keys = await redis_client.keys("*")
            assert [k for k in keys if b":seen:" in k] == [KEYS.seen(Platform.SLACK, "EvNext").encode()]
            assert [k for k in keys if b"{conv:" in k] == [KEYS.turns(key("C1", NEXT_TS).id).encode()]
    (dropped,) = logs.named("slack.event_dropped")
    assert dropped["log_level"] == "warning" and dropped["transport"] == "socket_mode"
    assert dropped["event_type"] == event_type and reason in dropped["reason"], dropped
    assert logs.tracebacks() == []
    assert "secret words" not in logs.text()


# ------------------------------------------------------------------------------------------ the model


async def test_model_dies_mid_stream_the_thread_keeps_the_part_marked_cut_off(harness: Harness) -> None:
    harness.tgi.enqueue(FakeReply(text="one two three four five six", drop_after_tokens=3))
    with watch_logs() as logs:
        await harness.post(mention("count for me", event_id="Ev1"))
        await harness.settle()
    last = harness.slack.calls["chat.update"][-1]["text"]
    assert last.startswith("one two three") and last.endswith(StreamCutOff.notice), last
    assert "four" not in last
    assert harness.slack.visible("C1", TS) == [last]  # one message: the part, marked
    assert await stored_texts(harness.core.redis, key("C1", TS)) == []
    assert logs.tracebacks() == []
    (handled,) = logs.named("message.handled")
    assert handled["outcome"] == "cut_off"

    # the next mention in the thread is answered and stored as usual; the model never sees the cut answer
    await harness.post(mention("again please", event_id="Ev2", ts="1700000002.000100", thread_ts=TS))
    await harness.settle()
    assert harness.slack.visible("C1", TS) == [last, "You said: U1: again please"]
    assert "one two three" not in harness.tgi.prompts[1]
    assert await stored_texts(harness.core.redis, key("C1", TS)) == ["again please"]


async def test_model_server_down_the_thread_gets_the_unavailable_notice(redis_client: aioredis.Redis) -> None:
    closed = f"http://127.0.0.1:{refused_port()}"
    cfg = TGISettings(retries=1, retry_backoff_s=0.01)
    async with http_harness(redis_client, tgi_url=closed, tgi_settings=cfg) as h:
        with watch_logs() as logs:
            assert await h.post(mention("anyone there?")) == 200
            await h.settle()
        assert h.slack.visible("C1", TS) == [ModelUnavailable.notice]
        assert await stored_texts(redis_client, key("C1", TS)) == []
        assert logs.tracebacks() == []
        (handled,) = logs.named("message.handled")
        assert handled["outcome"] == "failed"


# ------------------------------------------------------------------------------------------ Redis


async def test_redis_goes_away_users_get_a_notice_and_the_app_recovers_by_itself(
    own_redis: tuple[int, Path],
) -> None:
    port, data = own_redis
    proc = start_redis(port, data)
    redis = build_redis(Settings(redis=RedisSettings(url=f"redis://127.0.0.1:{port}/0", socket_timeout_s=1)))
    try:
        async with http_harness(redis) as h:
            await h.post(mention("remember the word heron", event_id="Ev1"))
            await h.settle()
            assert h.slack.visible("C1", TS) == ["You said: U1: remember the word heron"]

            stop_redis(proc)  # the AOF is on disk
            with watch_logs() as logs:
                await h.post(mention("are you there?", event_id="Ev2", ts="1700000002.000100"))
                # a follow-up without a mention: whether the thread is the bot's is in Redis, so it is
                # left alone (and logged); a notice there could land in any thread of the channel
                follow = event("and here?", event_id="Ev3", kind="message", ts="1700000003.1", thread_ts=TS)
                await h.post(follow)
                await h.command("persona show")
                await h.settle()
            assert h.slack.visible("C1", "1700000002.000100") == [HistoryUnavailable.notice]
            assert h.slack.responses() == [HistoryUnavailable.notice]
            assert h.slack.visible("C1", TS) == ["You said: U1: remember the word heron"]
            assert logs.tracebacks() == []
            assert logs.named("slack.thread_lookup_failed")
            assert len(h.tgi.prompts) == 1

            proc = start_redis(port, data)
            for attempt in range(10):  # a user asking again; nothing is restarted
                ts = f"1700000004.{attempt:06d}"
                await h.post(mention("what was the word?", event_id=f"Ev4-{attempt}", ts=ts, thread_ts=TS))
                await h.settle()
                if h.slack.visible("C1", TS)[-1] == "You said: U1: what was the word?":
                    break
                await asyncio.sleep(0.2)
            assert h.slack.visible("C1", TS)[-1] == "You said: U1: what was the word?"
            assert "remember the word heron" in h.tgi.prompts[-1]  # the history from before the outage
            assert await stored_texts(redis, key("C1", TS)) == [
                "remember the word heron",
                "what was the word?",
            ]
    finally:
        await redis.aclose()
        stop_redis(proc)
