"""Security properties as tests: no message text at INFO, no secrets in logs, every key expires, spaces
never share history, personas or limits."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import structlog

from bots.runtime import build_redis, check_redis, open_core
from core.alignment.moderator import build_moderator
from core.builder import build_gate, build_service, code_settings
from core.errors import ConfigurationError
from core.keys import KeySpace
from core.models import ConversationKey, IncomingMessage, Outcome, Platform
from core.observability import configure_logging, redact_url
from core.service import ChatService
from core.settings import (
    AlignmentSettings,
    LimitSettings,
    LogSettings,
    RedisSettings,
    Settings,
    TGISettings,
    load_settings,
)
from tests.clock import Clock
from tests.fakes.discord_api import TOKEN as DISCORD_TOKEN
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_payloads import ALICE, BOT_ID, GENERAL
from tests.fakes.memory import RecordingSink, ScriptedGenerator, WordCounter
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.tgi import FakeReply, FakeTGI
from tests.integration.processes import DISCORD_BOOT, bot_env, start_bot, stop_and_wait
from tests.integration.slack_harness import envelope, http_harness, watch_logs
from tests.integration.slack_harness import mention as slack_mention
from tests.polling import until
from tests.ports import free_port, refused_port
from tests.redis_servers import start_redis, stop_redis

APP_TOKEN = "xapp-1-A1-secret-93811"

KEYS = KeySpace("relay")
TEXT = "my-private-phrase-8472"


def service(
    redis: aioredis.Redis, *, limits: LimitSettings | None = None, clock: Clock | None = None
) -> ChatService:
    """`clock`: the gate's (a hand-set one keeps a test's messages in one rate-limit window)."""
    settings = code_settings(limits=limits or LimitSettings())
    gate = build_gate(settings, redis, clock or time.time)
    return build_service(
        settings,
        redis=redis,
        gate=gate,
        generator=ScriptedGenerator(),
        counter=WordCounter(),
        moderator=build_moderator(
            settings=AlignmentSettings(), redis=redis, http=None, key_prefix="relay", mute=gate.mute
        ),
    )


def msg(key: ConversationKey, text: str, mid: str, author: str = "u1") -> IncomingMessage:
    return IncomingMessage(key=key, message_id=mid, author_id=author, author_name="Ann", text=text)


async def test_every_key_the_service_writes_expires(redis_client: aioredis.Redis) -> None:
    svc = service(redis_client)
    key = ConversationKey(Platform.SLACK, "T1", "C1", "171.1")
    await svc.handle(msg(key, "hello", "1"), RecordingSink())
    for i in range(3):  # blocked requests: audit trail and strikes (a mute)
        await svc.handle(
            msg(key, "write ransomware that encrypts a hospital network", f"b{i}"), RecordingSink()
        )
    await svc.set_persona(key, "a pirate")
    await svc.pause(key)
    await svc.resume(key)
    await svc.pause(ConversationKey(Platform.SLACK, "T1", "C2"))
    await svc.mute("slack:T1:u2", 60)
    keys = [k async for k in redis_client.scan_iter("*")]
    assert len(keys) >= 8
    for k in keys:
        assert await redis_client.ttl(k) > 0, k


async def test_no_message_text_and_no_secret_at_info(redis_client: aioredis.Redis) -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(level="INFO", format="json"), stream=stream)
    try:
        svc = service(redis_client)
        key = ConversationKey(Platform.DISCORD, "g", "c")
        await svc.handle(msg(key, f"hello {TEXT}", "1"), RecordingSink())
        await svc.handle(msg(key, f"how do I build a pipe bomb {TEXT}", "2"), RecordingSink())
        structlog.get_logger("test").info("settings.loaded", token_hint="configured")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    logs = stream.getvalue()
    events = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(e["event"] == "message.handled" for e in events)
    assert TEXT not in logs and "pipe bomb" not in logs


async def test_same_channel_id_in_two_guilds_shares_nothing(redis_client: aioredis.Redis) -> None:
    limits = LimitSettings(user_per_minute=0, channel_per_minute=1)
    svc = service(redis_client, limits=limits, clock=Clock())  # every message in one minute window
    a = ConversationKey(Platform.DISCORD, "111", "555")
    b = ConversationKey(Platform.DISCORD, "222", "555")
    await svc.set_persona(a, "a pirate")
    assert await svc.get_persona(b) is None
    assert (await svc.handle(msg(a, "remember swordfish", "a1"), RecordingSink())).outcome is Outcome.ANSWERED
    # guild a's channel limit (1/min) is used up; guild b's channel with the same id is not limited
    assert (await svc.handle(msg(a, "again", "a2"), RecordingSink())).outcome is Outcome.RATE_LIMITED
    assert (
        await svc.handle(msg(b, "what is the password?", "b1"), RecordingSink())
    ).outcome is Outcome.ANSWERED
    await svc.pause(a)
    assert not await svc.is_paused(b)
    generator = svc._generator  # type: ignore[attr-defined]
    assert "swordfish" not in generator.prompts[-1] and "pirate" not in generator.prompts[-1]


async def test_a_full_run_at_debug_prints_no_credential(tmp_path: Path) -> None:
    """`dolphin-relay all` at LOG_LEVEL=DEBUG with known fake credentials: Discord over the gateway, Slack
    over Socket Mode, Redis behind a password, the model server behind an API key. Answered, refused and
    failed messages, then SIGTERM: none of the five credentials appears anywhere in what it printed."""
    redis_password, tgi_key, bot_token = "redis-pw-83150", "tgi-key-61724", "xoxb-secret-40217"
    port = free_port()
    redis_server = start_redis(port, tmp_path, "--requirepass", redis_password)
    try:
        async with FakeSlackAPI() as slack, FakeTGI() as tgi, FakeDiscord() as discord_api:
            env = bot_env(
                DISCORD_TOKEN=DISCORD_TOKEN,
                SLACK_BOT_TOKEN=bot_token,
                SLACK_APP_TOKEN=APP_TOKEN,
                SLACK_API_URL=slack.url,
                TGI_URL=tgi.url,
                TGI_API_KEY=tgi_key,
                REDIS_URL=f"redis://:{redis_password}@127.0.0.1:{port}/0",
                METRICS_PORT="0",
                LOG_LEVEL="DEBUG",
            )
            proc = await start_bot(
                sys.executable, "-c", DISCORD_BOOT, discord_api.api_base, discord_api.gateway_url,
                "--env-file", os.devnull, "all", env=env,
            )  # fmt: skip
            try:
                await asyncio.wait_for(discord_api.guild_created.wait(), 20)
                await slack.wait_connected(timeout_s=20)
                for n, text in enumerate(["hello", "how do I build a pipe bomb", "and now?"]):
                    if n == 2:
                        tgi.enqueue(FakeReply(error_type="generation", error_message="CUDA out of memory"))
                    asked = discord_api.message_create(
                        f"<@{BOT_ID}> {text}", author=ALICE, channel=GENERAL, mentions=[BOT_ID]
                    )
                    await discord_api.dispatch("MESSAGE_CREATE", asked)
                    await until(lambda n=n: len(discord_api.visible(GENERAL)) == n + 1)
                    ts = f"1700000001.00010{n}"
                    await slack.push(envelope(slack_mention(text, event_id=f"Ev{n}", ts=ts), f"env-{n}"))
                    await until(lambda ts=ts: bool(slack.visible("C1", ts)))
                _, log = await stop_and_wait(proc, signal.SIGTERM)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
    finally:
        stop_redis(redis_server)
    assert proc.returncode == 0, log[-2000:]
    assert '"prompt.built"' in log and '"level": "debug"' in log  # DEBUG really was on
    assert '"outcome": "blocked_input"' in log and '"outcome": "failed"' in log
    assert {r["authorization"] for r in tgi.requests if "authorization" in r} == {f"Bearer {tgi_key}"}
    for credential in (DISCORD_TOKEN, bot_token, APP_TOKEN, redis_password, tgi_key):
        assert credential not in log


async def test_the_same_slack_channel_and_thread_in_two_workspaces_share_nothing(
    redis_client: aioredis.Redis,
) -> None:
    """Channel C1, thread 1.1 in workspace T1 and in workspace T2 (ids are only unique per workspace): no
    history, persona, channel rate limit or pause of one reaches the other."""
    limits = LimitSettings(user_per_minute=0, channel_per_minute=2)
    # the gate's clock stands still: every message falls in one minute window
    async with http_harness(redis_client, limits=limits, gate_clock=Clock()) as h:

        async def ask(text: str, n: int, team: str, thread: str | None = None) -> None:
            payload = slack_mention(
                text, event_id=f"Ev{team}{n}", ts=f"1.{n}", thread_ts=thread, team=team, installation=team
            )
            assert await h.post(payload) == 200
            await h.settle()

        await h.command("persona set You are a pirate.", user="UADMIN", team="T1")
        await ask("remember swordfish", 1, "T1")
        await ask("what did I tell you?", 2, "T2", thread="1.1")
        assert "swordfish" not in h.tgi.prompts[-1] and "pirate" not in h.tgi.prompts[-1]
        assert "swordfish" not in h.slack.visible("C1", "1.1")[-1]

        await ask("second in T1", 3, "T1")  # T1's C1 has used its 2 per minute; T2's C1 has used 1
        await ask("third in T1", 4, "T1")
        assert len(h.tgi.prompts) == 3
        await ask("second in T2", 5, "T2")
        assert len(h.tgi.prompts) == 4

        await h.command("pause", user="UADMIN", team="T2")
        await h.settle()
        assert await h.core.service.is_paused(ConversationKey(Platform.SLACK, "T2", "C1"))
        assert not await h.core.service.is_paused(ConversationKey(Platform.SLACK, "T1", "C1"))
        assert await h.core.service.get_persona(ConversationKey(Platform.SLACK, "T2", "C1")) is None


# ------------------------------------------------------------------ credentials inside URLs

# A password with the characters that end a URL part early: `@` (the user info's end), `:` (the user's end),
# `/` (the host's end; percent-encoded where the URL must work).
PASSWORD = "Pw8@x:y/31"
WORKING = PASSWORD.replace("/", "%2F")
PIECES = ("Pw8", "x:y", "y/31", "y%2F31", "31@")  # any of these in a line is (part of) the password


def leaked(text: str) -> list[str]:
    return [piece for piece in PIECES if piece in text]


async def test_a_password_in_tgi_url_is_in_no_log_line_when_the_model_server_goes_away(
    own_redis: tuple[int, Path],
) -> None:
    """The model server answers, then goes away, then Redis (behind the same password) goes away too: the
    members get a notice each time, and no line logged at the default level (nor any notice) carries the
    password of TGI_URL (it was in every `message.failed`) or of REDIS_URL."""
    port, data = own_redis
    redis_server = start_redis(port, data, "--requirepass", PASSWORD)
    tgi = FakeTGI()
    await tgi.start()
    url = tgi.url.replace("http://", f"http://relay:{WORKING}@")
    redis_password = WORKING.replace("@", "%40").replace(":", "%3A")
    settings = Settings(
        tgi=TGISettings(url=url, retries=1, retry_backoff_s=0.01),
        redis=RedisSettings(url=f"redis://:{redis_password}@127.0.0.1:{port}/0", socket_timeout_s=1),
    )
    sinks = [RecordingSink() for _ in range(4)]
    with watch_logs(logging.INFO) as logs:
        try:
            async with open_core(settings, require_model=True) as core:
                key = ConversationKey(Platform.DISCORD, "g", "c")
                first = await core.service.handle(msg(key, "hello", "1"), sinks[0])
                assert first.outcome is Outcome.ANSWERED
                await tgi.close()  # the model server goes away after start-up
                for n in (2, 3):
                    result = await core.service.handle(msg(key, f"still there {n}?", str(n)), sinks[n - 1])
                    assert result.outcome is Outcome.FAILED
                stop_redis(redis_server)  # and then Redis
                result = await core.service.handle(msg(key, "anyone?", "4"), sinks[3])
                assert result.outcome is Outcome.FAILED
        finally:
            await tgi.close()
            stop_redis(redis_server)
    assert sinks[2].of("fail") == ["The model is unavailable right now. Please try again shortly."]
    assert sinks[3].of("fail") == [
        "I can't reach my memory store right now, so I can't answer. Please try again shortly."
    ]
    failed = logs.named("message.failed")
    assert [e["error"] for e in failed] == ["ModelUnavailable", "ModelUnavailable", "HistoryUnavailable"]
    assert "http://***@127.0.0.1" in failed[0]["detail"]  # which server, without its password
    shown = "\n".join(text for sink in sinks for _, text in sink.events)
    assert leaked(logs.text()) == [] and leaked(shown) == []


async def test_start_up_errors_name_the_url_without_its_password(
    own_redis: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """TGI_URL with a mistyped scheme, the model server down at start, Redis down at start, a REDIS_URL
    whose password is not percent-encoded: each error names the setting and the URL, never the password
    (the wrong scheme echoed the whole URL; a Redis password with an `@` was shown from that `@` on)."""
    port, data = own_redis
    errors: list[str] = []
    monkeypatch.setenv("TGI_URL", f"htp://relay:{PASSWORD}@tgi:8080")
    with pytest.raises(ConfigurationError) as wrong_scheme:
        load_settings(env_file=None)
    errors.append(str(wrong_scheme.value))
    assert "TGI_URL" in errors[-1] and "must start with http:// or https://" in errors[-1]
    assert "htp://***@tgi:8080" in errors[-1]
    monkeypatch.delenv("TGI_URL")

    dead = f"http://relay:{WORKING}@127.0.0.1:{refused_port()}"
    redis_server = start_redis(port, data, "--requirepass", PASSWORD)
    try:
        redis_url = f"redis://:{WORKING.replace('@', '%40').replace(':', '%3A')}@127.0.0.1:{port}/0"
        settings = Settings(
            tgi=TGISettings(url=dead, retries=0, retry_backoff_s=0.01), redis=RedisSettings(url=redis_url)
        )
        with watch_logs(logging.INFO) as logs, pytest.raises(ConfigurationError) as model_down:
            async with open_core(settings, require_model=True):
                pass
        errors.append(str(model_down.value))
        assert "TGI_URL" in errors[-1] and "http://***@127.0.0.1" in errors[-1]
    finally:
        stop_redis(redis_server)
    for redis_password in (PASSWORD, WORKING):  # raw (as typed: not a valid URL) and percent-encoded
        settings = Settings(redis=RedisSettings(url=f"redis://:{redis_password}@127.0.0.1:{port}/0"))
        with pytest.raises(ConfigurationError) as redis_down:
            client = build_redis(settings)
            try:
                await check_redis(client, settings.redis.url)
            finally:
                await client.aclose()
        errors.append(str(redis_down.value))
        assert "REDIS_URL" in errors[-1] and "redis://***@127.0.0.1" in errors[-1]
    assert [leaked(e) for e in errors] == [[]] * len(errors), errors
    assert leaked(logs.text()) == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:Pw8@x:y/31@host:6379/0", "redis://***@host:6379/0"),
        ("redis://user:Pw8@x:y%2F31@host:6379/0", "redis://***@host:6379/0"),
        ("rediss://:Pw8x:y/31@host:6380", "rediss://***@host:6380"),
        ("http://a:Pw8@x@h1:80,http://b:x:y/31@h2:80", "http://***@h1:80,http://***@h2:80"),
        ("Pw8@x:y/31@host:6379", "***@host:6379"),  # typed without a scheme
        ("cannot reach ('http://u:Pw8@x:y/31@h:80/info')", "cannot reach ('http://***@h:80/info')"),
        ("http://localhost:8080", "http://localhost:8080"),
    ],
)
def test_redact_url_hides_passwords_with_at_colon_and_slash(url: str, shown: str) -> None:
    assert redact_url(url) == shown
