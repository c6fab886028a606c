"""The Discord bot: triggers, access control, streamed answers, application commands, shutdown.

`run_discord(core, stop=…)` is what `dolphin-relay discord` runs. Message handling never blocks the
gateway: each answer runs in a tracked task (`core.tasks`), drained on shutdown. A gateway event that
discord.py cannot parse (a field missing or of the wrong type) is dropped with one warning: discord.py
would otherwise let the error out of `connect()` and end the gateway session, and with it the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

import aiohttp
import discord
import structlog
from pydantic import SecretStr

from bots.discord.commands import RESTARTING, RelayTree, register_commands
from bots.discord.feed import DiscordModFeed
from bots.discord.gateway import MALFORMED, dropping, raised_at, stay_connected
from bots.discord.sink import NO_PINGS, DiscordTransport, answer_budget, describe_error
from bots.discord.translate import (
    is_allowed,
    mentions_bot,
    new_thread_key,
    should_answer,
    thread_name,
    to_incoming,
)
from bots.runtime import Core
from core.errors import ConfigurationError
from core.keys import KeySpace
from core.models import Platform
from core.observability import Metrics
from core.reply import DeliveryFailed, StreamingReply
from core.settings import DiscordSettings

log = structlog.get_logger(__name__)

# What the bot does in a channel, and nothing more: read it, answer (also inside threads), start a thread
# for an answer (DISCORD_AUTO_THREAD), and reply to the asker (a reply needs Read Message History).
# It sends no embeds, files or reactions, and never manages messages, members or roles.
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    read_message_history=True,
)
INVITE_SCOPES = ("bot", "applications.commands")
MAX_RATELIMIT_WAIT_S = 30.0  # a longer wait asked by Discord fails the message instead of stalling it


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES)


def intents() -> discord.Intents:
    i = discord.Intents.none()
    i.guilds = True
    i.guild_messages = True
    i.dm_messages = True
    i.message_content = True  # privileged: enable it in the Developer Portal (docs/discord.md)
    return i


_ID = re.compile(r"/\d+")
# An interaction's (or webhook's) token follows its id in the path: a secret, and one label value per token.
_TOKEN = re.compile(r"^/(webhooks|interactions)/\{id\}/[^/]+")


def count_rate_limits(metrics: Metrics) -> aiohttp.TraceConfig:
    """discord.py waits out 429s itself; this counts them per route (ids as {id}, tokens as {token}) in
    /metrics."""

    async def on_end(session: Any, context: Any, params: aiohttp.TraceRequestEndParams) -> None:
        if params.response.status == 429:
            path = _ID.sub("/{id}", params.url.path.split("/api/v10", 1)[-1])
            path = _TOKEN.sub(r"/\1/{id}/{token}", path)
            metrics.platform_rate_limited.labels(platform="discord", route=f"{params.method} {path}").inc()

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_end)
    return trace


class RelayClient(discord.Client):
    """The bot. `ShardedRelayClient` is the same on `AutoShardedClient` (DISCORD_SHARD_COUNT set)."""

    def __init__(self, core: Core, *, settings: DiscordSettings, **options: Any) -> None:
        super().__init__(
            intents=intents(),
            allowed_mentions=NO_PINGS,
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT_S,
            http_trace=count_rate_limits(core.metrics),
            **options,
        )
        self.core = core
        self.settings = settings
        self.keys = KeySpace(core.key_prefix)
        self.tree = RelayTree(self)
        self.accepting = True
        self.mod_log: asyncio.Task[None] | None = None  # serves the core's feed for the mod-log channel
        register_commands(self)

    def _get_state(self, **options: Any) -> Any:
        """The connection state (discord.py's, or the sharded one), its event parsers made to drop an event
        they cannot parse. Each gateway connection reads `state.parsers` when it opens."""
        state = super()._get_state(**options)
        state.parsers = {
            event: dropping(event, parse, on_drop=self._count_dropped)
            for event, parse in state.parsers.items()
        }
        return state

    def _count_dropped(self) -> None:
        self.core.metrics.errors.labels(kind="DiscordEventDropped").inc()

    @property
    def syncs_commands(self) -> bool:
        """One process syncs the commands: the one running shard 0 (or the only one)."""
        return not self.settings.shard_ids or 0 in self.settings.shard_ids

    async def setup_hook(self) -> None:
        if self.syncs_commands:
            await self._sync_commands()
        if self.settings.mod_log_channel:
            poster = DiscordModFeed(self, self.settings.mod_log_channel, spawn=self._spawn)
            self.mod_log = self.core.serve_mod_log(Platform.DISCORD, poster.publish)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.core.tasks.spawn(coro, name="discord-mod-log")

    async def _sync_commands(self) -> None:
        guild_id = self.settings.dev_guild_id
        try:
            if guild_id:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
            else:
                synced = await self.tree.sync()
        except (discord.HTTPException, OSError) as exc:
            if guild_id and isinstance(exc, discord.Forbidden):
                raise ConfigurationError(
                    f"Discord refused to register commands in server {guild_id}: invite the bot there with "
                    "the applications.commands scope, or unset DISCORD_DEV_GUILD_ID",
                    setting="DISCORD_DEV_GUILD_ID",
                ) from None
            # The commands of the last successful sync stay registered; answering mentions works anyway.
            log.warning("discord.command_sync_failed", error=type(exc).__name__)
            return
        log.info("discord.commands_synced", count=len(synced), guild_id=guild_id)

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info(
            "discord.ready",
            guilds=len(self.guilds),
            shards=self.shard_count,
            invite_url=invite_url(self.application_id or self.user.id),
        )

    async def on_message(self, message: discord.Message) -> None:
        if self.user is None:
            return
        if not should_answer(message, bot_id=self.user.id, settings=self.settings):
            return
        if not is_allowed(message, settings=self.settings):
            return
        if not self.accepting or self.core.tasks.closing:
            with contextlib.suppress(discord.HTTPException, OSError):
                await message.reply(RESTARTING, mention_author=False, allowed_mentions=NO_PINGS)
            return
        self.core.tasks.spawn(self._answer(message), name=f"discord-{message.id}")

    async def _answer(self, message: discord.Message) -> None:
        assert self.user is not None
        try:
            incoming = to_incoming(message, bot_id=self.user.id, settings=self.settings)
        except MALFORMED as exc:  # e.g. a content that is not a string: nothing sensible to answer
            log.warning(
                "discord.message_dropped", message_id=message.id, error=type(exc).__name__, at=raised_at(exc)
            )
            self._count_dropped()
            return
        gate = self.core.notices.gate(incoming)  # cooldown notices once per cooldown, in every process
        interval = self.settings.edit_interval_s
        if (
            self.settings.auto_thread
            and incoming.text
            and isinstance(message.channel, discord.TextChannel)
            and mentions_bot(message, bot_id=self.user.id)
        ):
            # The thread is started only once the answer is on its way (the sink's first typing): a paused
            # channel, a muted or rate-limited member or a refused question gets no empty thread.
            name = thread_name(incoming.text)
            incoming = replace(incoming, key=new_thread_key(message))

            async def start_thread() -> Any:
                return await self._start_thread(message, name)

            transport = DiscordTransport(
                channel=None, reply_to=message, edit_interval_s=interval, open_channel=start_thread
            )
        else:
            transport = DiscordTransport(channel=message.channel, reply_to=message, edit_interval_s=interval)
        transport.budget = answer_budget(
            self.core.write_budget,
            keys=self.keys,
            settings=self.settings,
            bot_id=self.user.id,
            channel_id=lambda: transport.channel_id,
        )
        await self.core.service.handle(
            incoming, StreamingReply(transport, notice_gate=gate, budget=transport.budget)
        )

    async def _start_thread(self, message: discord.Message, name: str) -> Any:
        try:
            return await message.create_thread(name=name, auto_archive_duration=1440)
        except (discord.HTTPException, OSError) as exc:
            # The answer then goes to the channel as a reply (it is stored under the thread's key).
            log.warning(
                "discord.thread_failed",
                fix="give the bot Create Public Threads and Send Messages in Threads",
                **describe_error(exc),
            )
            return message.channel


class ShardedRelayClient(RelayClient, discord.AutoShardedClient):
    pass


def _check_shards(settings: DiscordSettings) -> None:
    if settings.shard_ids and not settings.shard_count:
        raise ConfigurationError(
            "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the total number of shards across all processes)",
            setting="DISCORD_SHARD_IDS",
        )
    if settings.shard_count and any(i >= settings.shard_count for i in settings.shard_ids):
        raise ConfigurationError(
            f"DISCORD_SHARD_IDS must be between 0 and {settings.shard_count - 1} "
            f"(DISCORD_SHARD_COUNT={settings.shard_count})",
            setting="DISCORD_SHARD_IDS",
        )


def check_settings(settings: DiscordSettings) -> SecretStr:
    """What start-up needs is set (the token, a consistent sharding), before anything is contacted; the
    token."""
    if settings.token is None:
        raise ConfigurationError(
            "DISCORD_TOKEN is not set: create a bot in the Developer Portal and put its token in .env",
            setting="DISCORD_TOKEN",
        )
    _check_shards(settings)
    return settings.token


async def run_discord(core: Core, *, stop: asyncio.Event) -> None:
    settings = core.settings.discord
    token = check_settings(settings)
    options: dict[str, Any] = {}
    if settings.shard_count:
        options["shard_count"] = settings.shard_count
        if settings.shard_ids:
            options["shard_ids"] = sorted(set(settings.shard_ids))
    client = (ShardedRelayClient if settings.shard_count else RelayClient)(core, settings=settings, **options)
    try:
        await client.login(token.get_secret_value())
    except discord.LoginFailure:
        await client.close()
        raise ConfigurationError(
            "DISCORD_TOKEN was rejected by Discord: reset the token in the Developer Portal",
            setting="DISCORD_TOKEN",
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError, discord.DiscordServerError) as exc:
        # No route, DNS, a firewall or Discord down: one line, like Slack's start-up (once connected,
        # discord.py itself reconnects with backoff when the network goes away).
        await client.close()
        raise ConfigurationError(
            f"cannot reach the Discord API at {discord.http.Route.BASE} ({type(exc).__name__}): check the "
            "network (DNS, a firewall or an HTTPS proxy) and start again",
            setting="DISCORD_TOKEN",
        ) from None
    except BaseException:  # e.g. the command sync failed or Discord is unreachable: close the HTTP session
        await client.close()
        raise
    connection = asyncio.create_task(stay_connected(client), name="discord-gateway")
    stopper = asyncio.create_task(stop.wait(), name="discord-stop")
    try:
        done, _ = await asyncio.wait({connection, stopper}, return_when=asyncio.FIRST_COMPLETED)
        failure = connection.exception() if connection in done else None
        if failure is not None:
            if isinstance(failure, discord.PrivilegedIntentsRequired):
                raise ConfigurationError(
                    "Discord refused the Message Content intent: enable it under Bot → Privileged Gateway "
                    "Intents in the Developer Portal (docs/discord.md)",
                    setting="DISCORD_TOKEN",
                ) from None
            raise failure
    finally:
        client.accepting = False
        await core.wind_down(client.mod_log)
        # discord.py's close() leaves the "wait for guilds, then dispatch ready" task running; it would
        # dispatch on a closed client when we stop within guild_ready_timeout of connecting.
        ready = getattr(client._connection, "_ready_task", None)
        if ready is not None:
            ready.cancel()
        await client.close()
        for task in (connection, stopper):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


__all__ = [
    "DeliveryFailed",
    "RelayClient",
    "ShardedRelayClient",
    "invite_url",
    "run_discord",
    "stay_connected",
]
