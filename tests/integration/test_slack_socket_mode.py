"""`run_slack` as `dolphin-relay slack` runs it: Socket Mode through slack_sdk's real WebSocket client against
the fake's Socket Mode server (URL from `apps.connections.open` on SLACK_API_URL), redeliveries, graceful
shutdown, and the start-up checks that end with one line naming the setting."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)

from bots.slack.app import SlackRelay, run_slack
from bots.slack.commands import HELP
from bots.slack.start import build_client
from core.errors import ConfigurationError
from core.settings import SlackSettings
from tests.fakes.slack_api import TEAM, FakeSlackAPI
from tests.fakes.tgi import FakeReply, FakeTGI
from tests.integration.slack_harness import APP_TOKEN, envelope, mention, open_core
from tests.polling import until
from tests.ports import refused_port

ROOT = Path(__file__).resolve().parents[2]
TS = "1700000001.000100"


async def test_socket_mode_answers_once_and_shuts_down_gracefully(redis_client: aioredis.Redis) -> None:
    async with (
        FakeSlackAPI() as slack,
        FakeTGI() as tgi,
        open_core(redis_client, slack=slack, tgi=tgi, app_token=APP_TOKEN, signing_secret=None) as core,
    ):
        stop = asyncio.Event()
        task = asyncio.create_task(run_slack(core, stop=stop))
        await slack.wait_connected()
        assert slack.socket_tokens == [APP_TOKEN]  # apps.connections.open went to SLACK_API_URL, once

        payload = mention("hello over the socket", event_id="EvSock")
        await slack.push(envelope(payload, "env-1"))
        assert (await slack.wait_ack("env-1")) == {"envelope_id": "env-1"}
        await until(lambda: slack.visible("C1", TS) == ["You said: U1: hello over the socket"])

        # Slack redelivers an envelope it thinks was not acknowledged: same event_id, new envelope id
        await slack.push(envelope(payload, "env-2", retry=1))
        await slack.wait_ack("env-2")
        command = {
            "command": "/dolphin",
            "text": "help",
            "team_id": TEAM,
            "channel_id": "C1",
            "user_id": "U1",
            "trigger_id": "trig-sock",
            "response_url": slack.response_url("sock"),
        }
        await slack.push(envelope(command, "env-3", kind="slash_commands"))
        await slack.wait_ack("env-3")
        await until(lambda: slack.responses() == [HELP])
        assert len(tgi.prompts) == 1

        # SIGTERM with an answer streaming: the socket closes first (Slack redelivers elsewhere), the
        # answer in flight still finishes within the grace period
        tgi.enqueue(FakeReply(text=" ".join(f"w{i}" for i in range(40)), token_delay_s=0.03))
        await slack.push(envelope(mention("long one", event_id="EvLong", ts="1700000002.1"), "env-4"))
        await until(lambda: tgi.in_flight == 1)
        stop.set()
        await until(lambda: not slack._connected.is_set(), timeout_s=5)
        assert tgi.in_flight == 1  # intake stopped while the answer was still being generated
        await asyncio.wait_for(task, 10)
        assert slack.visible("C1", "1700000002.1") == [" ".join(f"w{i}" for i in range(40))]
        assert len(core.tasks) == 0


@pytest.mark.parametrize(
    ("settings", "setting"),
    [
        ({"bot_token": "xoxp-a-user-token"}, "SLACK_BOT_TOKEN"),
        ({"bot_token": "xoxb-revoked"}, "SLACK_BOT_TOKEN"),
        ({"app_token": "xoxb-not-an-app-token"}, "SLACK_APP_TOKEN"),
        ({"app_token": "xapp-revoked"}, "SLACK_APP_TOKEN"),
        ({"api_url": "closed"}, "SLACK_API_URL"),
    ],
)
async def test_bad_credentials_stop_start_up_with_the_setting_named(
    redis_client: aioredis.Redis, settings: dict[str, str], setting: str
) -> None:
    async with FakeSlackAPI() as slack, FakeTGI() as tgi:
        slack.rejected_tokens |= {"xoxb-revoked", "xapp-revoked"}
        if settings.get("api_url") == "closed":
            settings = {"api_url": f"http://127.0.0.1:{refused_port()}/api/"}
        async with open_core(redis_client, slack=slack, tgi=tgi, **settings) as core:
            with pytest.raises(ConfigurationError) as err:
                await asyncio.wait_for(run_slack(core, stop=asyncio.Event(), port=0, host="127.0.0.1"), 10)
    assert err.value.setting == setting
    assert setting in str(err.value) and "\n" not in str(err.value)
    assert "revoked" not in str(err.value)  # no token in the message


async def test_http_mode_refuses_to_start_without_signing_secret() -> None:
    core: Any = type("C", (), {"moderator": None, "key_prefix": "relay"})()
    with pytest.raises(ConfigurationError) as err:
        SlackRelay(core, settings=SlackSettings(bot_token="xoxb-1"), http_mode=True)  # type: ignore[arg-type]
    assert err.value.setting == "SLACK_SIGNING_SECRET"


async def test_the_cli_prints_one_line_and_exits_2(redis_url: str) -> None:
    async with FakeSlackAPI() as slack:
        slack.rejected_tokens.add("xoxb-revoked")
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TGI_", "REDIS_", "METRICS_"))
        }
        env.update(REDIS_URL=redis_url, METRICS_PORT="0", SLACK_API_URL=slack.url)
        for extra, setting in (
            ({"SLACK_BOT_TOKEN": "xoxb-fine"}, "SLACK_SIGNING_SECRET"),
            ({"SLACK_BOT_TOKEN": "xoxb-revoked", "SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
        ):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bots", "--env-file", os.devnull, "slack", "--port", "0",
                cwd=ROOT, env={**env, **extra}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _out, err = await asyncio.wait_for(proc.communicate(), 30)
            lines = [line for line in err.decode().splitlines() if line.startswith("dolphin-relay:")]
            assert proc.returncode == 2, err.decode()[-2000:]
            assert len(lines) == 1 and setting in lines[0], err.decode()[-2000:]
            assert "Traceback" not in err.decode() and "xoxb-revoked" not in err.decode()


def test_the_client_retries_connection_errors_and_waits_out_429s() -> None:
    client = build_client(SlackSettings(bot_token="xoxb-1", api_url="http://127.0.0.1:1/api/"))
    for kind in (AsyncConnectionErrorRetryHandler, AsyncRateLimitErrorRetryHandler):
        assert any(isinstance(h, kind) for h in client.retry_handlers)
    assert client.base_url == "http://127.0.0.1:1/api/"
