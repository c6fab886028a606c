"""Faults through the real discord.py client (over the fake gateway and REST API, the real core and Redis):
malformed gateway events, the model server dying or down, Redis going away, Discord's 429s. What the member
sees in the channel, what is stored, what is logged."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from core.errors import HistoryUnavailable, ModelUnavailable, StreamCutOff
from core.settings import TGISettings
from tests.fakes.discord_api import IDENTIFY, FakeDiscord
from tests.fakes.discord_harness import CHANNEL_KEY, Bot, discord_bot, mention, slash
from tests.fakes.discord_payloads import ALICE, GENERAL
from tests.fakes.tgi import FakeReply
from tests.ports import refused_port
from tests.redis_servers import start_redis, stop_redis

PRIVATE = "my-private-words-7f3a"  # in each malformed payload; must never reach a log line


def assert_no_tracebacks(logs: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
    """Neither our log lines nor discord.py's (standard logging, INFO and up) carry a traceback or an error."""
    assert not [e for e in logs if e.get("exc_info") or e["log_level"] in ("error", "critical")], logs
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], caplog.text


async def ask(bot: Bot, text: str, answer: str) -> dict[str, Any]:
    """A member mentions the bot; returns once the answer `answer` is shown and everything has settled."""
    bot.tgi.enqueue(FakeReply(text=answer))
    asked = mention(bot.api, text)
    await bot.api.dispatch("MESSAGE_CREATE", asked)
    await bot.api.wait_until(lambda: bot.api.visible(GENERAL)[-1:] == [answer], timeout_s=5)
    await bot.settled()
    return asked


# ---------------------------------------------------------------- malformed gateway events


def _without_author(api: FakeDiscord) -> dict[str, Any]:
    payload = mention(api, PRIVATE)
    del payload["author"]
    return payload


def _bad_channel_id(api: FakeDiscord) -> dict[str, Any]:
    return {**mention(api, PRIVATE), "channel_id": "not-a-number"}


def _bad_mentions(api: FakeDiscord) -> dict[str, Any]:
    return {**mention(api, "hi"), "mentions": [PRIVATE]}


def _content_not_a_string(api: FakeDiscord) -> dict[str, Any]:
    return {**mention(api, "hi"), "content": 12345}


def _interaction_without_token(api: FakeDiscord) -> dict[str, Any]:
    payload = slash(api, "ask", member_id=ALICE, options={"prompt": PRIVATE})
    del payload["token"]
    return payload


MALFORMED: list[tuple[str, Callable[[FakeDiscord], Any], str | None]] = [
    # (gateway event, payload, the warning expected: None for an event type discord.py does not know)
    ("MESSAGE_CREATE", _without_author, "discord.event_dropped"),
    ("MESSAGE_CREATE", _bad_channel_id, "discord.event_dropped"),
    ("MESSAGE_CREATE", _bad_mentions, "discord.event_dropped"),
    ("MESSAGE_CREATE", lambda api: f"garbage {PRIVATE}", "discord.event_dropped"),  # `d` not an object
    ("MESSAGE_CREATE", _content_not_a_string, "discord.message_dropped"),  # parsed; not translatable
    ("INTERACTION_CREATE", _interaction_without_token, "discord.event_dropped"),
    ("SOMETHING_NEW", lambda api: {"content": PRIVATE}, None),
]


@pytest.mark.parametrize(
    ("event", "payload", "warning"),
    MALFORMED,
    ids=["no-author", "bad-channel-id", "bad-mentions", "d-not-an-object", "content-a-number",
         "interaction-without-token", "unknown-event-type"],
)  # fmt: skip
async def test_a_malformed_event_is_dropped_with_one_warning_and_the_bot_keeps_answering(
    bot: Bot,
    caplog: pytest.LogCaptureFixture,
    event: str,
    payload: Callable[[FakeDiscord], Any],
    warning: str | None,
) -> None:
    api = bot.api
    caplog.set_level(logging.INFO)
    with capture_logs() as logs:
        await api.dispatch(event, payload(api))
        await bot.settled()  # the client read and handled it
        await ask(bot, "are you still there?", "Still here.")

    # the session stayed up: no crash, no reconnect; the next question was answered and stored
    assert not bot.task.done()
    assert api.ready_sessions == 1 and [f["op"] for f in api.gateway_received].count(IDENTIFY) == 1
    assert api.visible(GENERAL) == ["Still here."]
    assert len(await bot.turns(CHANNEL_KEY)) == 1
    assert not api.interaction_log  # nothing was answered for the malformed interaction either

    dropped = [e for e in logs if e["event"] in ("discord.event_dropped", "discord.message_dropped")]
    if warning is None:  # Discord sends event types newer than discord.py: ignored, no warning for each
        assert dropped == []
    else:
        assert [(e["event"], e["log_level"]) for e in dropped] == [(warning, "warning")]
        assert dropped[0].get("gateway_event", event) == event and dropped[0]["error"]
        errors = bot.core.metrics.registry.get_sample_value(
            "dolphin_relay_errors_total", {"kind": "DiscordEventDropped"}
        )
        assert errors == 1
    assert_no_tracebacks(logs, caplog)
    assert not [e for e in logs if PRIVATE in repr(e)]
    assert PRIVATE not in caplog.text


@pytest.mark.parametrize("bot", [{"shard_count": 1}], indirect=True)
async def test_the_sharded_client_drops_a_malformed_event_too(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with capture_logs() as logs:
        await bot.api.dispatch("MESSAGE_CREATE", _without_author(bot.api))
        await ask(bot, "still sharded?", "Yes.")
    assert not bot.task.done() and bot.api.ready_sessions == 1
    assert [e["gateway_event"] for e in logs if e["event"] == "discord.event_dropped"] == ["MESSAGE_CREATE"]
    assert_no_tracebacks(logs, caplog)


@pytest.mark.parametrize("frame", ["READY", "RESUMED"])
async def test_a_malformed_handshake_frame_reconnects_instead_of_ending_the_process(
    bot: Bot, caplog: pytest.LogCaptureFixture, frame: str
) -> None:
    """discord.py reads READY's session id and RESUMED's payload before any parser runs: a malformed one
    leaves `connect()`. The bot connects again (after 1 s) and keeps answering."""
    api = bot.api
    caplog.set_level(logging.INFO)
    with capture_logs() as logs:
        await api.dispatch(frame, {"v": 10} if frame == "READY" else f"garbage {PRIVATE}")
        await api.wait_until(lambda: [f["op"] for f in api.gateway_received].count(IDENTIFY) == 2)
        await ask(bot, "did you come back?", "I did.")
    assert not bot.task.done()
    assert api.visible(GENERAL) == ["I did."]
    assert len(await bot.turns(CHANNEL_KEY)) == 1
    (dropped,) = [e for e in logs if e["event"] == "discord.gateway_frame_dropped"]
    assert dropped["log_level"] == "warning" and dropped["retry_in_s"] == 1.0
    assert_no_tracebacks(logs, caplog)
    assert PRIVATE not in repr(logs) and PRIVATE not in caplog.text


@pytest.mark.parametrize("bot", [{"shard_count": 1}], indirect=True)
async def test_the_sharded_client_ends_on_a_malformed_handshake_frame_with_the_error(bot: Bot) -> None:
    """AutoShardedClient closes itself on such a frame: the error ends `run_discord` (the process exits
    non-zero and its restart policy starts it again) instead of leaving a closed client that looks up."""
    await bot.api.dispatch("READY", {"v": 10})
    await asyncio.wait_for(asyncio.wait({bot.task}), 10)
    assert isinstance(bot.task.exception(), KeyError)


# ---------------------------------------------------------------- the model server


async def test_a_model_that_dies_mid_stream_leaves_the_partial_answer_marked_and_nothing_stored(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    api, tgi = bot.api, bot.tgi
    caplog.set_level(logging.INFO)
    tgi.enqueue(FakeReply(text="Dolphins sleep with half of their brain at a time.", drop_after_tokens=3))
    with capture_logs() as logs:
        asked = mention(api, "how do dolphins sleep?")
        await api.dispatch("MESSAGE_CREATE", asked)
        await api.wait_until(lambda: any(StreamCutOff.notice in m for m in api.visible(GENERAL)))
        await bot.settled()
        assert api.visible(GENERAL) == [f"Dolphins sleep with\n\n{StreamCutOff.notice}"]
        cut = next(iter(api.messages.values()))
        assert cut.reference == int(asked["id"])  # still a reply to the asker
        assert await bot.turns(CHANNEL_KEY) == []

        await ask(bot, "and do they dream?", "Nobody knows.")
    assert api.visible(GENERAL)[-1] == "Nobody knows."
    assert "Dolphins sleep with" not in tgi.prompts[-1]  # the cut-off half is not in the history
    (turn,) = await bot.turns(CHANNEL_KEY)
    assert b"and do they dream?" in turn and b"how do dolphins sleep?" not in turn
    assert_no_tracebacks(logs, caplog)


async def test_with_the_model_server_down_the_bot_starts_and_replies_with_a_notice(
    redis_url: str, redis_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    down = TGISettings(url=f"http://127.0.0.1:{refused_port()}", retry_backoff_s=0.05)  # nothing listens
    with capture_logs() as logs:
        async with discord_bot(redis_url, tgi_settings=down) as bot:  # it starts: connected to the gateway
            api = bot.api
            asked = mention(api, "anyone home?")
            await api.dispatch("MESSAGE_CREATE", asked)
            await api.wait_until(lambda: bool(api.visible(GENERAL)))
            await bot.settled()
            assert api.visible(GENERAL) == [ModelUnavailable.notice]
            (notice,) = api.messages.values()
            assert notice.reference == int(asked["id"])
            assert await bot.turns(CHANNEL_KEY) == []
            assert not bot.task.done()
    assert_no_tracebacks(logs, caplog)


# ---------------------------------------------------------------- Redis


async def test_while_redis_is_away_members_get_a_notice_and_the_bot_recovers_by_itself(
    own_redis: tuple[int, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    port, data = own_redis
    proc = start_redis(port, data)
    caplog.set_level(logging.INFO)
    try:
        with capture_logs() as logs:
            async with discord_bot(f"redis://127.0.0.1:{port}/0") as bot:
                api = bot.api
                await ask(bot, "remember the word coral", "I will remember coral.")

                stop_redis(proc)  # Redis goes away (its AOF is on disk)
                during = mention(api, "are you there?")
                await api.dispatch("MESSAGE_CREATE", during)
                await api.wait_until(lambda: len(api.visible(GENERAL)) == 2)
                await bot.settled()
                assert api.visible(GENERAL)[1] == HistoryUnavailable.notice
                assert list(api.messages.values())[1].reference == int(during["id"])
                assert not bot.task.done() and api.ready_sessions == 1

                proc = start_redis(port, data)  # back on the same port and data: no restart of the bot
                await ask(bot, "which word did I ask you to remember?", "Coral.")
                assert "remember the word coral" in bot.tgi.prompts[-1]  # history from before is intact
                turns = await bot.turns(CHANNEL_KEY)
                assert len(turns) == 2
                assert b"remember the word coral" in turns[0] and b"which word" in turns[1]
                assert len(bot.tgi.requests) == 2  # the question during the outage never reached the model
        assert_no_tracebacks(logs, caplog)
    finally:
        stop_redis(proc)


# ---------------------------------------------------------------- Discord's rate limits


@pytest.mark.parametrize("scope", ["user", "global"])
async def test_a_rate_limited_first_post_is_waited_out_and_the_answer_arrives_once(
    bot: Bot, scope: str, caplog: pytest.LogCaptureFixture
) -> None:
    api = bot.api
    caplog.set_level(logging.INFO)
    limited = api.fail("POST", f"/channels/{GENERAL}/messages", status=429, retry_after_s=0.4, scope=scope)
    with capture_logs() as logs:
        await ask(bot, "hello?", "Hello, patient member.")
    assert limited.times == 0  # Discord did answer 429 to the first post
    first, retry = api.calls("POST", f"/channels/{GENERAL}/messages")  # and discord.py posted once more
    assert retry.at - first.at >= 0.35  # after waiting (about) as long as it was told
    assert retry.json == first.json  # the same reply
    assert api.visible(GENERAL) == ["Hello, patient member."]
    assert len(await bot.turns(CHANNEL_KEY)) == 1
    labels = {
        "platform": "discord",
        "route": "POST /channels/{id}/messages",
    }  # counted in /metrics, per route
    assert (
        bot.core.metrics.registry.get_sample_value("dolphin_relay_platform_rate_limited_total", labels) == 1
    )
    assert_no_tracebacks(logs, caplog)
    if scope == "global":  # discord.py took it for the global limit (it holds every request meanwhile)
        assert "Global rate limit has been hit" in caplog.text


async def test_no_route_to_discord_is_one_line_with_the_fix_and_a_non_zero_exit(redis_url: str) -> None:
    """The real process with discord.py's API base on a loopback port nothing listens on (connection
    refused, as with no route or a firewall): one line naming the API and the fix, never a traceback."""
    import os
    import sys

    from tests.fakes.tgi import FakeTGI
    from tests.integration.test_discord_gateway import BOOT, ROOT

    closed = f"http://127.0.0.1:{refused_port()}/api/v10"
    async with FakeTGI() as tgi:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DISCORD_", "TGI_", "REDIS_", "METRICS_"))
        }
        env.update(
            DISCORD_TOKEN="fake-discord-token",
            TGI_URL=tgi.url,
            REDIS_URL=redis_url,
            METRICS_PORT="0",
            LOG_FORMAT="json",
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", BOOT, closed, f"ws://127.0.0.1:{refused_port()}", os.devnull,
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 2 and out == b""
    logged = [line for line in lines if line.startswith("{")]
    assert all(json.loads(line)["level"] in ("info", "warning") for line in logged)  # every log line JSON
    assert [line for line in lines if line not in logged] == [
        f"dolphin-relay: cannot reach the Discord API at {closed} (ClientConnectorError): check the network "
        "(DNS, a firewall or an HTTPS proxy) and start again"
    ], err.decode()
    assert "voice will NOT be supported" not in err.decode()  # the bot never joins voice: not its concern


# ---------------------------------------------------------------- Discord's nonce and its one-hour edit window


async def test_a_lost_reply_to_the_first_post_is_sent_again_and_discord_keeps_one_message(bot: Bot) -> None:
    """Discord created the answer's first message but answered 503 (a reply lost on the way back, which
    discord.py does not retry): the next update sends it again with the same nonce and enforce_nonce, and
    Discord returns the message it has instead of posting a second one."""
    api = bot.api
    lost = api.fail("POST", f"/channels/{GENERAL}/messages", status=503, applied=True)
    answer = " ".join(f"part{i}" for i in range(40)) + "."
    asked = await ask(bot, "hello?", answer)
    assert lost.times == 0
    posts = api.calls("POST", f"/channels/{GENERAL}/messages")
    assert len(posts) == 2  # the lost one, and the update after it
    assert posts[0].json["nonce"] == posts[1].json["nonce"] == f"a{asked['id']}"
    assert posts[0].json["enforce_nonce"] is True
    assert api.visible(GENERAL) == [answer]
    assert len(api.messages) == 1
    assert len(await bot.turns(CHANNEL_KEY)) == 1


async def test_an_answer_past_discords_edit_window_continues_in_a_new_message(bot: Bot) -> None:
    """A slow answer whose message turns an hour old while it streams: Discord refuses to edit it (30046), so
    the rest of the answer goes into a new message (with a nonce of its own: the first one's would return
    the old message), and the exchange is stored whole."""
    api = bot.api
    answer = " ".join(f"word{i}" for i in range(60)) + "."
    bot.tgi.enqueue(FakeReply(text=answer, token_delay_s=0.05))
    await api.dispatch("MESSAGE_CREATE", mention(api, "tell me slowly"))
    await api.wait_until(lambda: len(api.visible(GENERAL)) == 1, timeout_s=10)
    api.advance(2 * 3600)  # the first message is now two hours old
    await api.wait_until(lambda: "".join(api.visible(GENERAL)).endswith("word59."), timeout_s=15)
    await bot.settled()
    shown = api.visible(GENERAL)
    assert len(shown) == 2, shown
    assert "".join(shown).replace(" ", "") == answer.replace(" ", "")  # nothing lost, nothing repeated
    posts = api.calls("POST", f"/channels/{GENERAL}/messages")
    assert len(posts) == 2
    assert posts[0].json["nonce"].startswith("a") and posts[1].json["nonce"] != posts[0].json["nonce"]
    assert len(await bot.turns(CHANNEL_KEY)) == 1
