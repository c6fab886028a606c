"""Run the real bot (`run_discord` over the real core: Redis, the fake TGI) against the loopback fake Discord,
and build MESSAGE_CREATE and INTERACTION_CREATE payloads. Shared by the Discord integration tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import discord
import discord.webhook.async_
import yarl

from bots.discord.app import run_discord
from bots.runtime import Core, open_core
from core.keys import KeySpace
from core.models import ConversationKey, Platform
from core.settings import (
    AlignmentSettings,
    BudgetSettings,
    DiscordSettings,
    LimitSettings,
    RedisSettings,
    RuntimeSettings,
    Settings,
    TGISettings,
)
from tests.fakes.discord_api import TOKEN, FakeDiscord
from tests.fakes.discord_payloads import ALICE, BOT_ID, GENERAL, GUILD_ID, MOD, user
from tests.fakes.tgi import FakeTGI

EDIT_INTERVAL_S = 0.25
MANAGE_GUILD = 1 << 5
CHANNEL_KEY = ConversationKey(Platform.DISCORD, str(GUILD_ID), str(GENERAL))  # #general's conversation


@contextlib.contextmanager
def pointed_at(api: FakeDiscord) -> Any:
    """discord.py's REST base (also used by interaction webhooks) and gateway URL, pointed at the fake."""
    saved = (
        discord.http.Route.BASE,
        discord.webhook.async_.Route.BASE,
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
    discord.http.Route.BASE = api.api_base
    discord.webhook.async_.Route.BASE = api.api_base  # type: ignore[misc]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(api.gateway_url)
    try:
        yield
    finally:
        (
            discord.http.Route.BASE,
            discord.webhook.async_.Route.BASE,  # type: ignore[misc]
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
        ) = saved


@dataclass
class Bot:
    api: FakeDiscord
    tgi: FakeTGI
    core: Core
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def turns(self, key: ConversationKey) -> list[bytes]:
        return await self.core.redis.lrange(KeySpace(self.core.key_prefix).turns(key.id), 0, -1)  # type: ignore[no-any-return]

    async def settled(self, timeout_s: float = 10.0) -> None:
        """Wait until the client has read every event sent so far and every task it started for them has
        finished: discord.py's event handlers and command invocations, then what the adapter spawned
        (answers, commands, mod-log posts)."""
        await self.api.caught_up(timeout_s=timeout_s)
        for _ in range(200):
            busy = [t for t in asyncio.all_tasks() if _handling(t.get_name()) and not t.done()]
            if not busy:
                return
            await asyncio.wait(busy, timeout=timeout_s)


def _handling(name: str) -> bool:
    """A task that handles an event: discord.py's (`discord.py: on_message`, `CommandTree-invoker`) or one
    the adapter spawned (`discord-…`, except the long-lived gateway, stop and typing tasks)."""
    if name.startswith(("discord.py: ", "CommandTree-invoker")):
        return True
    return name.startswith("discord-") and name not in ("discord-gateway", "discord-stop", "discord-typing")


def settings_for(
    api: FakeDiscord,
    tgi: FakeTGI,
    redis_url: str,
    *,
    limits: LimitSettings | None = None,
    tgi_settings: TGISettings | None = None,
    budget: BudgetSettings | None = None,
    **discord_: Any,
) -> Settings:
    """The bot's settings: Discord's token and options, Redis at `redis_url`, the model server at `tgi`
    (unless `tgi_settings` says otherwise)."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        redis=RedisSettings(url=redis_url),
        tgi=tgi_settings or TGISettings(url=tgi.url),
        discord=DiscordSettings(token=TOKEN, edit_interval_s=EDIT_INTERVAL_S, **discord_),  # type: ignore[arg-type]
        limits=limits or LimitSettings(),
        budget=budget or BudgetSettings(),
        runtime=RuntimeSettings(shutdown_grace_s=3),
        # Strict streaming with a short look-ahead: the tests' short answers stream in several updates.
        alignment=AlignmentSettings(stream_lookahead_chars=40, stream_chunk_chars=20),
    )


@contextlib.asynccontextmanager
async def bot_running(
    api: FakeDiscord,
    tgi: FakeTGI,
    settings: Settings,
    *,
    sessions: int = 1,
    gate_clock: Callable[[], float] = time.time,
) -> AsyncIterator[Bot]:
    """One bot process (its own core and Redis client) connected to `api`; stopped and drained on exit.
    `gate_clock`: the clock of the rate limits' windows (a `tests.clock.Clock` keeps a test's messages in
    one window)."""
    async with open_core(settings, gate_clock=gate_clock) as core:
        stop = asyncio.Event()
        task = asyncio.create_task(run_discord(core, stop=stop), name="test-discord")
        try:
            await api.wait_until(lambda: api.ready_sessions >= sessions, timeout_s=10)
            yield Bot(api, tgi, core, stop, task)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 15)


@contextlib.asynccontextmanager
async def discord_bot(
    redis_url: str,
    engine: str = "tgi",
    gate_clock: Callable[[], float] = time.time,
    **overrides: Any,
) -> AsyncIterator[Bot]:
    """The `bot` fixture of the Discord tests: a fake Discord and a fake model server (TGI, or the vLLM or
    SGLang stand-in: `engine`), and the bot connected to them, with `settings_for`'s overrides (`limits`,
    `tgi_settings`, `budget`, any DiscordSettings field) and `bot_running`'s `gate_clock`."""
    async with FakeDiscord() as api, FakeTGI(token_delay_s=0.002, dialect=engine) as tgi:
        if engine != "tgi":
            overrides.setdefault("tgi_settings", TGISettings(url=tgi.url, backend=engine))  # type: ignore[arg-type]
        with pointed_at(api):
            settings = settings_for(api, tgi, redis_url, **overrides)
            async with bot_running(api, tgi, settings, gate_clock=gate_clock) as b:
                yield b


def mention(
    api: FakeDiscord, text: str, *, author: int = ALICE, channel: int = GENERAL, **kw: Any
) -> dict[str, Any]:
    """A MESSAGE_CREATE in which a member mentions the bot."""
    return api.message_create(f"<@{BOT_ID}> {text}", author=author, channel=channel, mentions=[BOT_ID], **kw)


# ---------------------------------------------------------------- interactions


def _option_types(definition: dict[str, Any], path: list[str]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The (sub)command's option list in the synced definition, and the types of its options by name."""
    options = definition.get("options", [])
    for part in path:
        options = next(o for o in options if o["name"] == part).get("options", [])
    return options, {o["name"]: o["type"] for o in options}


def slash(
    api: FakeDiscord,
    name: str,
    *,
    member_id: int,
    options: dict[str, Any] | None = None,
    channel: dict[str, Any] | None = None,
    dm: bool = False,
    permissions: int | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    """An INTERACTION_CREATE for a synced command ("persona set", "relay mute"), as Discord sends it;
    `locale`: the member's client language."""
    top, *path = name.split()
    scope = next(iter(api.commands))
    definition = next(c for c in api.commands[scope] if c["name"] == top)
    _, types = _option_types(definition, path)
    resolved: dict[str, Any] = {}
    given = []
    for key, value in (options or {}).items():
        kind = types[key]
        if kind == 6:  # USER: its id, with the user (and member) in `resolved`
            member = next((m for m in api.guild["members"] if int(m["user"]["id"]) == value), None)
            resolved.setdefault("users", {})[str(value)] = (
                member["user"] if member else user(value, "someone")
            )
            if member is not None:
                rest = {k: v for k, v in member.items() if k != "user"}
                resolved.setdefault("members", {})[str(value)] = {**rest, "permissions": "0"}
            value = str(value)
        given.append({"name": key, "type": kind, "value": value})
    data: dict[str, Any] = {"id": definition["id"], "name": top, "type": 1}
    inner = given
    for part in reversed(path):
        inner = [{"name": part, "type": 1, "options": inner}]
    data["options"] = inner
    if resolved:
        data["resolved"] = resolved
    return interaction(
        api, data, member_id=member_id, channel=channel, dm=dm, permissions=permissions, locale=locale
    )


def interaction(
    api: FakeDiscord,
    data: dict[str, Any],
    *,
    member_id: int,
    channel: dict[str, Any] | None = None,
    dm: bool = False,
    permissions: int | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    """An INTERACTION_CREATE of type APPLICATION_COMMAND with `data`, run by a member of the fake guild in
    `channel` (default #general), or in a DM with the bot."""
    payload: dict[str, Any] = {
        "id": str(api.snowflake()),
        "application_id": str(BOT_ID),
        "type": 2,
        "token": f"interaction-token-{api.snowflake()}",
        "version": 1,
        "app_permissions": "0",
        "attachment_size_limit": 10485760,
        "locale": locale,
        "entitlements": [],
        "data": data,
    }
    if dm:
        author = next((m["user"] for m in api.guild["members"] if int(m["user"]["id"]) == member_id), None)
        author = author or user(member_id, "stranger")
        payload.update(
            channel_id="6000",
            channel={"id": "6000", "type": 1, "recipients": [author]},
            user=author,
            authorizing_integration_owners={"0": "0"},
            context=1,
        )
        return payload
    member = next(m for m in api.guild["members"] if int(m["user"]["id"]) == member_id)
    perms = permissions if permissions is not None else (MANAGE_GUILD if member_id == MOD else 1024)
    channel = channel or {"id": str(GENERAL), "type": 0, "guild_id": str(GUILD_ID), "name": "general"}
    payload.update(
        guild_id=str(GUILD_ID),
        channel_id=channel["id"],
        channel=channel,
        member={**member, "permissions": str(perms)},
        guild_locale="en-US",
        authorizing_integration_owners={"0": str(GUILD_ID)},
        context=0,
    )
    return payload


def message_command(
    api: FakeDiscord,
    name: str,
    message: dict[str, Any],
    *,
    member_id: int,
    channel: dict[str, Any] | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    """An INTERACTION_CREATE for a synced message command run from the Apps menu of `message` (a message
    object as Discord sends it) in `channel` (default #general): `data.type` 3 (MESSAGE), `target_id`, and
    the message in `data.resolved.messages`, as Discord sends it (no Message Content intent needed)."""
    definition = next(c for c in api.commands[next(iter(api.commands))] if c["name"] == name)
    assert definition["type"] == 3, definition  # a MESSAGE command, not a slash command
    data = {
        "id": definition["id"],
        "name": name,
        "type": 3,
        "target_id": message["id"],
        "resolved": {"messages": {message["id"]: message}},
    }
    return interaction(api, data, member_id=member_id, channel=channel, locale=locale)


def ephemeral_texts(api: FakeDiscord, token: str) -> list[str]:
    """What the invoker of one interaction was shown: the immediate answer, edits and follow-ups."""
    out = []
    for r in api.interaction_log:
        if r["token"] != token:
            continue
        body = r["body"]
        if r["kind"] == "callback" and body.get("type") == 4:
            out.append(body["data"]["content"])
        elif r["kind"] in ("edit_original", "followup") and body.get("content"):
            out.append(body["content"])
    return out
