"""Helpers for tests that run the real `dolphin-relay` CLI as a separate process against the loopback fakes:
start it with a clean environment, wait for its HTTP ports, post signed Slack events, stop it with a
signal and collect its log (stderr)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sys
import time
from pathlib import Path

import aiohttp

from tests.fakes.slack_api import BOT_USER, TEAM

ROOT = Path(__file__).resolve().parents[2]


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()


def signed(body: str, secret: str) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type": "application/json"}


# Runs the real CLI with discord.py pointed at the loopback fake (as tests/integration/test_discord_gateway.py
# does in-process): argv = [api base, gateway url, dolphin-relay arguments…].
DISCORD_BOOT = """
import sys, yarl, discord.http, discord.gateway, discord.webhook.async_
discord.http.Route.BASE = discord.webhook.async_.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
from bots.__main__ import main
sys.exit(main(sys.argv[3:]))
"""


def bot_env(**settings: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "TGI_", "REDIS_", "METRICS_", "LOG_", "RUNTIME_"))
    }
    env.update(LOG_FORMAT="json", **settings)
    return env


async def start_bot(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def wait_http(url: str, *, timeout_s: float = 20.0) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return (await get(url))[0]
        except aiohttp.ClientError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def post_mention(port: int, secret: str, *, event_id: str, ts: str, text: str) -> None:
    body = json.dumps(
        {
            "team_id": TEAM, "api_app_id": "A1", "type": "event_callback", "event_id": event_id,
            "event_time": int(time.time()),
            "event": {"type": "app_mention", "user": "U1", "text": f"<@{BOT_USER}> {text}", "ts": ts,
                      "channel": "C1", "team": TEAM},
        }
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/slack/events"
    async with aiohttp.ClientSession() as s, s.post(url, data=body, headers=signed(body, secret)) as r:
        assert r.status == 200


async def stop_and_wait(proc: asyncio.subprocess.Process, sig: int) -> tuple[float, str]:
    started = time.monotonic()
    proc.send_signal(sig)
    _out, err = await asyncio.wait_for(proc.communicate(), 40)
    return time.monotonic() - started, err.decode()


async def policy_cli(redis_url: str, prefix: str, *args: str) -> str:
    """`dolphin-relay policy ARGS…` as a process on the audit stream at `redis_url` (REDIS_KEY_PREFIX
    `prefix`), with no .env and none of the shell's ALIGNMENT_, LOG_ or REDIS_ settings; its standard output
    (it must exit 0)."""
    code, out, err = await policy_cli_run(redis_url, prefix, *args)
    assert code == 0, err
    return out


async def policy_cli_run(redis_url: str, prefix: str, *args: str) -> tuple[int | None, str, str]:
    """`policy_cli` whatever the outcome: exit code, standard output, standard error."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIGNMENT_", "LOG_", "REDIS_"))}
    env.update(REDIS_URL=redis_url, REDIS_KEY_PREFIX=prefix, LOG_LEVEL="WARNING")
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bots", "--env-file", os.devnull, "policy", *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()
