"""`dolphin-relay doctor`: check the configuration and reach every configured part, then print a table
with ✓ / ✗ and, for each ✗, the fix. Exits non-zero when anything fails. Never prints a secret."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any

import httpx
import redis.asyncio as aioredis

from core.errors import ConfigurationError
from core.observability import redact_url
from core.settings import Settings, load_settings, tgi_urls

DISCORD_API = "https://discord.com/api/v10"
DOLPHIN = "dolphin-2.1-mistral-7b"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def add_doctor_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("doctor", help="check the configuration and every service it names")
    parser.set_defaults(handler=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.env_file)
    except ConfigurationError as exc:
        print_table([Check("configuration", False, str(exc), "correct the setting named above in .env")])
        return 1
    checks = asyncio.run(diagnose(settings))
    print_table(checks)
    return 0 if all(c.ok for c in checks) else 1


def print_table(checks: list[Check]) -> None:
    width = max(len(c.name) for c in checks)
    for c in checks:
        mark = "✓" if c.ok else "✗"
        print(f"{mark} {c.name:<{width}}  {c.detail}")
        if not c.ok and c.fix:
            print(f"  {'':<{width}}  fix: {c.fix}")
    failed = sum(not c.ok for c in checks)
    print(f"\n{len(checks) - failed} passed, {failed} failed")


async def diagnose(settings: Settings, *, discord_api: str = DISCORD_API) -> list[Check]:
    checks = [Check("configuration", True, "settings are valid")]
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as http:
        results = await asyncio.gather(
            _redis(settings),
            _tgi(settings, http),
            _discord(settings, http, discord_api),
            _slack(settings, http),
            _guard(settings, http),
            _policy(settings),
        )
    for r in results:
        checks.extend(r)
    return checks


async def _redis(settings: Settings) -> list[Check]:
    url = redact_url(settings.redis.url)
    client = aioredis.Redis.from_url(settings.redis.url, socket_connect_timeout=3, socket_timeout=3)
    try:
        info = await client.info("server")
        return [Check("redis", True, f"{url} (Redis {info.get('redis_version', '?')})")]
    except Exception as exc:
        return [Check("redis", False, f"{url}: {type(exc).__name__}", "start Redis or set REDIS_URL")]
    finally:
        await client.aclose()


async def _tgi(settings: Settings, http: httpx.AsyncClient) -> list[Check]:
    out = []
    for url in tgi_urls(settings.tgi):
        name = f"model server {redact_url(url)}"
        try:
            resp = await http.get(f"{url}/info")
            resp.raise_for_status()
            info = resp.json()
        except Exception as exc:
            out.append(
                Check(name, False, type(exc).__name__, "start TGI (docker compose up tgi) or set TGI_URL")
            )
            continue
        model = str(info.get("model_id", "?"))
        max_in = info.get("max_input_tokens", info.get("max_input_length"))
        max_total = info.get("max_total_tokens")
        detail = f"{model}, max_input_tokens={max_in}, max_total_tokens={max_total}"
        if DOLPHIN not in model.lower():
            out.append(
                Check(
                    name,
                    False,
                    detail,
                    f"serve cognitivecomputations/{DOLPHIN} (the prompt format is ChatML)",
                )
            )
        elif max_total != 8192:
            out.append(
                Check(name, False, detail, "run TGI with --max-total-tokens 8192 (Dolphin's trained context)")
            )
        else:
            out.append(Check(name, True, detail))
    return out


async def _discord(settings: Settings, http: httpx.AsyncClient, api: str) -> list[Check]:
    token = settings.discord.token
    if token is None:
        return [Check("discord", True, "not configured (DISCORD_TOKEN unset)")]
    try:
        resp = await http.get(
            f"{api}/gateway/bot", headers={"Authorization": f"Bot {token.get_secret_value()}"}
        )
    except httpx.HTTPError as exc:
        return [Check("discord", False, type(exc).__name__, "check the network route to discord.com")]
    if resp.status_code == 401:
        return [
            Check(
                "discord",
                False,
                "token rejected (401)",
                "reset the bot token in the Developer Portal and set DISCORD_TOKEN",
            )
        ]
    if resp.status_code != 200:
        return [Check("discord", False, f"HTTP {resp.status_code}", "try again later; see docs/discord.md")]
    shards = resp.json().get("shards", "?")
    return [Check("discord", True, f"token valid, recommended shards: {shards}")]


async def _slack(settings: Settings, http: httpx.AsyncClient) -> list[Check]:
    s = settings.slack
    if s.bot_token is None:
        return [Check("slack", True, "not configured (SLACK_BOT_TOKEN unset)")]
    out = []
    if s.app_token is None and s.signing_secret is None:
        out.append(
            Check(
                "slack mode",
                False,
                "HTTP mode without a signing secret",
                "set SLACK_SIGNING_SECRET, or SLACK_APP_TOKEN for Socket Mode",
            )
        )
    else:
        out.append(
            Check("slack mode", True, "Socket Mode" if s.app_token else "HTTP mode, signatures verified")
        )
    try:
        resp = await http.post(
            f"{s.api_url.rstrip('/')}/auth.test",
            headers={"Authorization": f"Bearer {s.bot_token.get_secret_value()}"},
        )
        data = resp.json()
    except Exception as exc:
        out.append(
            Check("slack", False, type(exc).__name__, "check SLACK_API_URL and the network route to Slack")
        )
        return out
    if not data.get("ok"):
        out.append(
            Check(
                "slack",
                False,
                f"auth.test: {data.get('error')}",
                "reinstall the app and copy the Bot User OAuth Token to SLACK_BOT_TOKEN",
            )
        )
    else:
        out.append(Check("slack", True, f"bot {data.get('user')} in team {data.get('team')}"))
    return out


async def _guard(settings: Settings, http: httpx.AsyncClient) -> list[Check]:
    url = settings.alignment.guard_url
    if not url:
        return []
    try:
        resp = await http.get(f"{url.rstrip('/')}/info")
        resp.raise_for_status()
        return [Check("guard model", True, str(resp.json().get("model_id", "?")))]
    except Exception as exc:
        return [
            Check(
                "guard model",
                False,
                type(exc).__name__,
                "start it (docker compose --profile guard up) or unset ALIGNMENT_GUARD_URL",
            )
        ]


async def _policy(settings: Settings) -> list[Check]:
    from core.alignment.policy import load_policy

    if not settings.alignment.enabled:
        return [Check("moderation policy", True, "moderation disabled (ALIGNMENT_ENABLED=false)")]
    try:
        policy = load_policy(settings.alignment.policy_file)
    except ConfigurationError as exc:
        return [Check("moderation policy", False, str(exc), "fix the policy file at the line named")]
    blocked = sum(1 for c in policy.categories.values() if c.action.value == "block")
    return [
        Check(
            "moderation policy",
            True,
            f"{blocked} categories blocked, guard {'on' if settings.alignment.guard_url else 'off'}",
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bots.doctor")
    parser.add_argument("--env-file", default=".env")
    return run_doctor(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
