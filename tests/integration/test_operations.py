"""Operations, as the admin of one box sees them: /healthz, /readyz and /metrics; real `dolphin-relay`
processes (`all` with Discord and Slack sharing one core, `slack`, and an unconfigured `slack --optional`)
that serve health on METRICS_PORT, finish and store answers in progress on SIGTERM, tell the user when the
grace period runs out (SIGINT), and exit 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from core.alignment.base import AllowAll
from core.builder import build_service, code_settings
from core.errors import ConfigurationError
from core.health import HealthServer
from core.keys import KeySpace
from core.llm import TGIClient, build_model_session
from core.models import ConversationKey, IncomingMessage, Platform
from core.observability import Metrics
from core.settings import TGISettings
from tests.fakes.discord_api import TOKEN as DISCORD_TOKEN
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_payloads import ALICE, BOT_ID, GENERAL, GUILD_ID
from tests.fakes.memory import MemoryGate, MemoryStore, RecordingSink, WordCounter
from tests.fakes.slack_api import TEAM, FakeSlackAPI
from tests.fakes.tgi import FakeReply, FakeTGI
from tests.integration.processes import (
    DISCORD_BOOT,
    bot_env,
    get,
    post_mention,
    start_bot,
    stop_and_wait,
    wait_http,
)
from tests.polling import until
from tests.ports import free_port, refused_port


async def test_health_readiness_and_metrics(redis_client: aioredis.Redis) -> None:
    metrics = Metrics()
    async with FakeTGI() as tgi:
        cfg = TGISettings()
        async with build_model_session(cfg) as http:
            generator = TGIClient(http=http, settings=cfg, base_url=tgi.url)
            async with HealthServer(
                metrics=metrics, redis=redis_client, generator=generator, host="127.0.0.1", port=0
            ) as hs:
                assert (await get(f"{hs.url}/healthz"))[0] == 200
                status, body = await get(f"{hs.url}/readyz")
                assert status == 200 and json.loads(body)["status"] == "ready"
                tgi.healthy = False
                status, body = await get(f"{hs.url}/readyz")
                assert status == 503 and json.loads(body)["model"] == "unavailable"
                tgi.healthy = True

                service = build_service(
                    code_settings(tgi=cfg),
                    store=MemoryStore(),
                    gate=MemoryGate(),
                    generator=generator,
                    counter=WordCounter(),
                    moderator=AllowAll(),
                    metrics=metrics,
                )
                key = ConversationKey(Platform.DISCORD, "g", "c")
                msg = IncomingMessage(key=key, message_id="1", author_id="u", author_name="U", text="hi")
                await service.handle(msg, RecordingSink())
                _, text = await get(f"{hs.url}/metrics")
                assert 'dolphin_relay_messages_total{outcome="answered",platform="discord"} 1.0' in text
                assert "dolphin_relay_time_to_first_token_seconds_bucket" in text
                for line in text.splitlines():  # bounded labels only: never an id
                    assert 'channel="' not in line and 'user="' not in line and 'guild="' not in line

        down = aioredis.Redis(host="127.0.0.1", port=refused_port(), retry=Retry(NoBackoff(), 0))
        async with build_model_session(TGISettings()) as http:
            generator = TGIClient(http=http, settings=TGISettings(), base_url=tgi.url)
            async with HealthServer(
                metrics=metrics, redis=down, generator=generator, host="127.0.0.1", port=0
            ) as hs:
                status, body = await get(f"{hs.url}/readyz")
                assert status == 503 and json.loads(body)["redis"] == "unreachable"
        await down.aclose()


async def test_readyz_says_stopping_once_shutdown_begins(redis_client: aioredis.Redis) -> None:
    stopping = False
    async with FakeTGI() as tgi, build_model_session(TGISettings()) as http:
        generator = TGIClient(http=http, settings=TGISettings(), base_url=tgi.url)
        async with HealthServer(
            metrics=Metrics(),
            redis=redis_client,
            generator=generator,
            host="127.0.0.1",
            port=0,
            stopping=lambda: stopping,
        ) as hs:
            assert (await get(f"{hs.url}/readyz"))[0] == 200
            stopping = True
            status, body = await get(f"{hs.url}/readyz")
            assert status == 503 and json.loads(body)["status"] == "stopping"
            assert (await get(f"{hs.url}/healthz"))[0] == 200  # still alive while it drains


async def test_readiness_checks_are_short_when_the_model_server_hangs(redis_client: aioredis.Redis) -> None:
    """A model server that accepts the connection and never answers: /readyz says so within its own check
    timeout (~2 s), while the model server still sits on the request."""

    release = asyncio.Event()
    unanswered: list[bytes] = []  # the first line of each request the server sat on

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        unanswered.append(await reader.readline())
        await release.wait()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, build_model_session(TGISettings()) as http:
        generator = TGIClient(http=http, settings=TGISettings(), base_url=f"http://127.0.0.1:{port}")
        async with HealthServer(
            metrics=Metrics(), redis=redis_client, generator=generator, host="127.0.0.1", port=0
        ) as hs:
            status, body = await get(f"{hs.url}/readyz")
            assert status == 503 and json.loads(body) == {
                "redis": "ok",
                "model": "unavailable",
                "status": "not ready",
            }
            # answered while the model server had not answered (a wait for it would end at pytest's timeout)
            assert [line.split(b" ")[:2] for line in unanswered] == [[b"GET", b"/health"]]
        release.set()


async def test_all_runs_both_adapters_on_one_core_and_sigterm_finishes_both_answers(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    """`dolphin-relay all`: one process, Discord and Slack answering at the same time from one core;
    /healthz, /readyz and /metrics on METRICS_PORT; SIGTERM while both answers are streaming: intake stops,
    /readyz turns 503, both answers finish and are stored, the process exits 0 within the grace period."""
    secret, slack_port, metrics_port = "shutdown-secret", free_port(), free_port()
    slow = " ".join(f"w{i}" for i in range(40))  # 40 tokens x 0.05 s: about 2 s each
    async with FakeSlackAPI() as slack, FakeTGI() as tgi, FakeDiscord() as discord_api:
        tgi.enqueue(FakeReply(text=slow, token_delay_s=0.05), FakeReply(text=slow, token_delay_s=0.05))
        env = bot_env(
            DISCORD_TOKEN=DISCORD_TOKEN,
            SLACK_BOT_TOKEN="xoxb-shutdown-test",
            SLACK_SIGNING_SECRET=secret,
            SLACK_API_URL=slack.url,
            TGI_URL=tgi.url,
            REDIS_URL=redis_url,
            METRICS_PORT=str(metrics_port),
            METRICS_HOST="127.0.0.1",
            RUNTIME_SHUTDOWN_GRACE_S="20",
        )
        proc = await start_bot(
            sys.executable, "-c", DISCORD_BOOT, discord_api.api_base, discord_api.gateway_url,
            "--env-file", os.devnull, "all", "--port", str(slack_port), env=env,
        )  # fmt: skip
        health = f"http://127.0.0.1:{metrics_port}"
        try:
            assert await wait_http(f"{health}/healthz") == 200
            await asyncio.wait_for(discord_api.guild_created.wait(), 20)
            await wait_http(f"http://127.0.0.1:{slack_port}/")
            assert (await get(f"{health}/readyz"))[0] == 200

            await post_mention(slack_port, secret, event_id="EvStop", ts="1.1", text="long one")
            asked = discord_api.message_create(
                f"<@{BOT_ID}> long one too", author=ALICE, channel=GENERAL, mentions=[BOT_ID]
            )
            await discord_api.dispatch("MESSAGE_CREATE", asked)
            await until(lambda: tgi.in_flight == 2)
            _, metrics = await get(f"{health}/metrics")
            assert "dolphin_relay_messages_in_flight 2.0" in metrics

            proc.send_signal(signal.SIGTERM)
            for _ in range(20):  # draining: not ready (once the signal is handled), still alive
                status, body = await get(f"{health}/readyz")
                if status == 503:
                    break
                await asyncio.sleep(0.05)
            assert status == 503 and json.loads(body)["status"] == "stopping"
            _out, err_bytes = await asyncio.wait_for(proc.communicate(), 40)
            err = err_bytes.decode()
            assert proc.returncode == 0, err[-2000:]
            assert '"tasks.cancelled_at_deadline"' not in err  # both finished within the grace period
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        texts = slack.texts("chat.update") + slack.texts("chat.postMessage")
        assert any("w39" in t for t in texts), texts[-3:]
        assert discord_api.visible(GENERAL)[-1].rstrip().endswith("w39")
        keys = KeySpace("relay")
        slack_turns = await redis_client.lrange(
            keys.turns(ConversationKey(Platform.SLACK, TEAM, "C1", "1.1").id), 0, -1
        )
        discord_turns = await redis_client.lrange(
            keys.turns(ConversationKey(Platform.DISCORD, str(GUILD_ID), str(GENERAL)).id), 0, -1
        )
        assert len(slack_turns) == 1 and b"w39" in slack_turns[0]
        assert len(discord_turns) == 1 and b"w39" in discord_turns[0]
        for secret_value in ("xoxb-shutdown-test", secret, DISCORD_TOKEN):
            assert secret_value not in err
        assert "long one" not in err and "w39" not in err  # at INFO, no question or answer text is logged
        assert '"event": "shutdown.complete"' in err


async def test_sigint_past_the_grace_period_tells_the_user_and_stores_nothing(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    """An answer longer than RUNTIME_SHUTDOWN_GRACE_S: on SIGINT the process still exits 0 soon after
    the grace period, the user sees a notice instead of a half answer that never ends, nothing is stored."""
    secret, port = "grace-secret", free_port()
    async with FakeSlackAPI() as slack, FakeTGI() as tgi:
        tgi.enqueue(FakeReply(text=" ".join(f"w{i}" for i in range(400)), token_delay_s=0.05))  # ~20 s
        env = bot_env(
            SLACK_BOT_TOKEN="xoxb-grace-test",
            SLACK_SIGNING_SECRET=secret,
            SLACK_API_URL=slack.url,
            TGI_URL=tgi.url,
            REDIS_URL=redis_url,
            METRICS_PORT="0",
            RUNTIME_SHUTDOWN_GRACE_S="1",
        )
        proc = await start_bot(
            sys.executable, "-m", "bots", "--env-file", os.devnull, "slack", "--port", str(port), env=env
        )
        try:
            await wait_http(f"http://127.0.0.1:{port}/")
            await post_mention(port, secret, event_id="EvGrace", ts="2.2", text="very long")
            await until(lambda: bool(slack.texts("chat.update")))  # the answer is visibly streaming
            _elapsed, err = await stop_and_wait(proc, signal.SIGINT)
            assert proc.returncode == 0, err[-2000:]
            # The grace period, then the answer was cancelled: the process went away while the model was
            # still streaming it, not after the ~20 s it takes.
            assert tgi.disconnects == 1 and not any("w399" in t for t in slack.texts("chat.update"))
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        last = (slack.texts("chat.update") or [""])[-1]
        assert "restarted before it could finish" in last, last
        stored = await redis_client.lrange(
            KeySpace("relay").turns(ConversationKey(Platform.SLACK, TEAM, "C1", "2.2").id), 0, -1
        )
        assert stored == []
        assert '"outcome": "interrupted"' in err and '"event": "shutdown.complete"' in err


async def test_an_unconfigured_platform_stays_idle_instead_of_crash_looping(redis_url: str) -> None:
    """The compose `slack` service of an admin who only set up Discord: `slack --optional` without any
    Slack token says so once, stays healthy, and exits 0 on SIGTERM. Without --optional it exits 2 with
    the setting to fix; `all` with no platform at all names both settings."""
    metrics_port = free_port()
    env = bot_env(REDIS_URL=redis_url, TGI_URL="http://127.0.0.1:9", METRICS_PORT=str(metrics_port))
    proc = await start_bot(
        sys.executable, "-m", "bots", "--env-file", os.devnull, "slack", "--optional", env=env
    )
    try:
        assert await wait_http(f"http://127.0.0.1:{metrics_port}/healthz") == 200
        _elapsed, err = await stop_and_wait(proc, signal.SIGTERM)
        assert proc.returncode == 0 and '"event": "shutdown.complete"' in err, err[-2000:]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    idle = [json.loads(line) for line in err.splitlines() if '"adapters.idle"' in line]
    assert idle and idle[0]["reason"] == "SLACK_BOT_TOKEN is not set"

    for args, setting in (
        (["slack"], "SLACK_BOT_TOKEN"),
        (["all"], "neither DISCORD_TOKEN nor SLACK_BOT_TOKEN"),
    ):
        proc = await start_bot(sys.executable, "-m", "bots", "--env-file", os.devnull, *args, env=env)
        _out, err_bytes = await asyncio.wait_for(proc.communicate(), 30)
        err = err_bytes.decode()
        assert proc.returncode == 2, err[-2000:]
        assert setting in err and "Traceback" not in err
        assert err.count("dolphin-relay:") == 1 and "dolphin-relay: dolphin-relay" not in err, err


@pytest.mark.parametrize(
    ("args", "settings", "named"),
    [
        (["discord"], {}, "DISCORD_TOKEN is not set: create a bot in the Developer Portal"),
        (["slack"], {}, "SLACK_BOT_TOKEN is not set: install the app"),
        (["slack"], {"SLACK_BOT_TOKEN": "xoxp-a-user-token"}, "SLACK_BOT_TOKEN is not a bot token"),
        (["slack"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is required in HTTP mode"),
        (["all"], {"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN is not set"),
        (["discord"], {"DISCORD_TOKEN": "t", "DISCORD_SHARD_IDS": "0"}, "DISCORD_SHARD_IDS needs"),
    ],
)
async def test_a_missing_token_is_said_before_anything_is_contacted(
    args: list[str], settings: dict[str, str], named: str
) -> None:
    """A platform's own settings are checked first: a missing or malformed token is one line naming the
    setting and the fix, exit 2, and neither Redis nor the model server has been contacted."""
    from aiohttp import web

    asked: list[str] = []  # what reached the model server
    connected: list[str] = []  # connections Redis got

    async def model(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.json_response({}, status=503)

    async def redis_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.append(str(writer.get_extra_info("peername")))
        writer.close()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", model)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    model_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    redis = await asyncio.start_server(redis_server, "127.0.0.1", 0)
    redis_port = redis.sockets[0].getsockname()[1]
    try:
        env = bot_env(
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            TGI_URL=f"http://127.0.0.1:{model_port}",
            **settings,
        )
        proc = await start_bot(sys.executable, "-m", "bots", "--env-file", os.devnull, *args, env=env)
        _out, err_bytes = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        redis.close()
        await runner.cleanup()
    err = err_bytes.decode()
    assert proc.returncode == 2, err[-2000:]
    (line,) = [line for line in err.splitlines() if line.startswith("dolphin-relay:")]
    assert named in line and "Traceback" not in err, err[-2000:]
    assert asked == [] and connected == []


def test_all_runs_the_configured_adapters_and_optional_never_fails() -> None:
    from bots.__main__ import adapters_to_run
    from core.settings import DiscordSettings, Settings, SlackSettings

    discord_only = Settings(_env_file=None, discord=DiscordSettings(token="t"))  # type: ignore[call-arg,arg-type]
    slack_partial = Settings(_env_file=None, slack=SlackSettings(app_token="xapp-1"))  # type: ignore[call-arg,arg-type]
    nothing = Settings(_env_file=None)  # type: ignore[call-arg]
    assert adapters_to_run("all", discord_only, optional=False) == ["discord"]
    assert adapters_to_run("slack", discord_only, optional=True) == []
    assert adapters_to_run("slack", discord_only, optional=False) == [
        "slack"
    ]  # fails later, naming the token
    assert adapters_to_run("all", slack_partial, optional=True) == ["slack"]  # a half setup is reported
    assert adapters_to_run("all", nothing, optional=True) == []
    with pytest.raises(ConfigurationError, match="neither DISCORD_TOKEN nor SLACK_BOT_TOKEN"):
        adapters_to_run("all", nothing, optional=False)


async def test_a_port_another_process_holds_is_one_line_naming_what_to_change(redis_url: str) -> None:
    """Two bots started by hand on one machine both want METRICS_PORT 9100; an HTTP-mode Slack bot wants
    its --port: a port already taken stops start-up with one line naming the setting or option, exit 2."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        async with FakeSlackAPI() as slack, FakeTGI() as tgi:
            common = dict(REDIS_URL=redis_url, TGI_URL=tgi.url, METRICS_HOST="127.0.0.1")
            cases = (
                (bot_env(**common, METRICS_PORT=str(port)), ("discord", "--optional"), "METRICS_PORT"),
                (
                    bot_env(
                        **common,
                        METRICS_PORT="0",
                        SLACK_BOT_TOKEN="xoxb-port-test",
                        SLACK_SIGNING_SECRET="s",
                        SLACK_API_URL=slack.url,
                    ),
                    ("slack", "--port", str(port)),
                    "--port",
                ),
            )
            for env, args, named in cases:
                proc = await start_bot(sys.executable, "-m", "bots", "--env-file", os.devnull, *args, env=env)
                _out, err_bytes = await asyncio.wait_for(proc.communicate(), 60)
                err = err_bytes.decode()
                assert proc.returncode == 2, err[-2000:]
                (line,) = [x for x in err.splitlines() if x.startswith("dolphin-relay:")]
                assert line.startswith(f"dolphin-relay: {named}") and str(port) in line, line
                assert "Traceback" not in err and "xoxb-port-test" not in err
