"""`dolphin-relay doctor` against loopback fakes: all green, and each failure reported with its fix."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bots.doctor import diagnose, print_table
from core.settings import (
    AlignmentSettings,
    DiscordSettings,
    RedisSettings,
    Settings,
    SlackSettings,
    TGISettings,
)
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.tgi import FakeTGI

GOOD_TOKEN = "discord-good-token"


@pytest.fixture
async def discord_api() -> AsyncIterator[str]:
    async def gateway(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bot {GOOD_TOKEN}":
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return web.json_response({"url": "wss://gateway.discord.gg", "shards": 1})

    app = web.Application()
    app.router.add_get("/api/v10/gateway/bot", gateway)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/api/v10"
    await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_all_green(redis_url: str, discord_api: str, capsys: pytest.CaptureFixture[str]) -> None:
    async with (
        FakeTGI() as tgi,
        FakeSlackAPI() as slack,
        FakeTGI(model_id="meta-llama/Llama-Guard-3-1B") as guard,
    ):
        settings = Settings(
            tgi=TGISettings(url=tgi.url),
            redis=RedisSettings(url=redis_url),
            discord=DiscordSettings(token=GOOD_TOKEN),  # type: ignore[arg-type]
            slack=SlackSettings(
                bot_token="xoxb-secret-value", app_token="xapp-secret-value", api_url=slack.url
            ),  # type: ignore[arg-type]
            alignment=AlignmentSettings(guard_url=guard.url),
        )
        checks = await diagnose(settings, discord_api=discord_api)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    names = {c.name.split(" ")[0] for c in checks}
    assert {"configuration", "redis", "model", "discord", "slack", "guard", "moderation"} <= names
    print_table(checks)
    out = capsys.readouterr().out
    assert "✗" not in out and GOOD_TOKEN not in out and "xoxb-secret-value" not in out


async def test_each_failure_names_its_fix(
    redis_url: str, discord_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeSlackAPI() as slack, FakeTGI(model_id="mistralai/Mistral-7B-Instruct-v0.2") as wrong_model:
        settings = Settings(
            tgi=TGISettings(url=f"http://127.0.0.1:{closed_port()},{wrong_model.url}"),
            redis=RedisSettings(url=f"redis://:hunter2@127.0.0.1:{closed_port()}/0"),
            discord=DiscordSettings(token="bad-token"),  # type: ignore[arg-type]
            slack=SlackSettings(bot_token="xoxb-1", api_url=slack.url),  # type: ignore[arg-type]
        )
        checks = await diagnose(settings, discord_api=discord_api)
    failed = {c.name.split(" ")[0]: c for c in checks if not c.ok}
    assert "REDIS_URL" in failed["redis"].fix
    assert "hunter2" not in failed["redis"].detail
    assert "Developer Portal" in failed["discord"].fix
    assert "SLACK_SIGNING_SECRET" in failed["slack"].fix
    model_fixes = [c.fix for c in checks if c.name.startswith("model server") and not c.ok]
    assert any("TGI_URL" in f for f in model_fixes) and any(
        "dolphin-2.1-mistral-7b" in f for f in model_fixes
    )
    print_table(checks)
    out = capsys.readouterr().out
    assert out.count("fix:") == len([c for c in checks if not c.ok]) and "bad-token" not in out
