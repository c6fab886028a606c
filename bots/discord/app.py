"""The Discord bot: triggers, access control, streamed answers, application commands, shutdown.

`run_discord(core, stop=…)` is what `dolphin-relay discord` runs. Message handling never blocks the
gateway: each answer runs in a tracked task (`core.tasks`), drained on shutdown. A gateway event that
discord.py cannot parse (a field missing or of the wrong type) is dropped with one warning: discord.py
would otherwise let the error out of `connect()` and end the gateway session, and with it the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import discord
import structlog
from discord import app_commands

from bots.discord.sink import (
    NO_PINGS,
    DiscordTransport,
    InteractionSink,
    describe_error,
    relative_time,
)
from bots.discord.translate import (
    allowed_context,
    can_administer,
    conversation_key,
    is_adult,
    is_allowed,
    mentions_bot,
    new_thread_key,
    should_answer,
    thread_name,
    to_incoming,
)
from bots.runtime import Core
from core import i18n
from core.alignment.audit import AuditEvent, stop_serving
from core.commands import MUTE_DURATIONS, CommandReply, Commands, Notation, language_of
from core.errors import ConfigurationError
from core.keys import KeySpace
from core.models import IncomingMessage, Outcome, Platform
from core.reply import DeliveryFailed, StreamingReply
from core.service import MAX_PERSONA_CHARS
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
RESTARTING = "I'm restarting: please ask again in a minute."


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES)


def intents() -> discord.Intents:
    i = discord.Intents.none()
    i.guilds = True
    i.guild_messages = True
    i.dm_messages = True
    i.message_content = True  # privileged: enable it in the Developer Portal (docs/discord.md)
    return i


Spawn = Callable[[Coroutine[Any, Any, Any]], Any]
Parser = Callable[[Any], None]
# What a malformed payload makes discord.py's parsers or our translation raise (a missing key, a field of
# the wrong type or value).
MALFORMED: tuple[type[Exception], ...] = (AttributeError, LookupError, TypeError, ValueError)
# Reconnecting after a gateway frame that could not be read: 1, 2, 4 … 30 s; back to 1 s after 5 quiet minutes.
GATEWAY_RETRY_MAX_S = 30.0
GATEWAY_RETRY_RESET_S = 300.0


def raised_at(exc: BaseException) -> str:
    """Where an exception was raised (`message.py:2161`), to report a parser bug without its payload."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


def dropping(event: str, parse: Parser, *, on_drop: Callable[[], None]) -> Parser:
    """`parse`, except that an event it cannot parse is dropped with one warning line that names the
    gateway event and the error (never the payload: it holds message text), and the session stays up."""

    def parse_or_drop(data: Any) -> None:
        try:
            parse(data)
        except Exception as exc:  # the per-event boundary: nothing of a bad event may end the session
            log.warning(
                "discord.event_dropped", gateway_event=event, error=type(exc).__name__, at=raised_at(exc)
            )
            on_drop()

    return parse_or_drop


class DiscordModFeed:
    """Posts moderation events to the mod-log channel, with a jump link to the message.

    Posted in a background task (an answer never waits for the mod log) through a partial channel, so that
    every process of a sharded bot can post there, whichever shard has the mod-log's server."""

    def __init__(self, client: discord.Client, channel_id: int, *, spawn: Spawn) -> None:
        self._client = client
        self._channel_id = channel_id
        self._spawn = spawn

    async def publish(self, event: AuditEvent) -> None:
        """One event of this platform's `ModFeedQueue` (it holds this platform's events only)."""
        self._spawn(self._post(format_mod_event(event)))

    async def _post(self, text: str) -> None:
        channel = self._client.get_partial_messageable(self._channel_id)
        try:
            await channel.send(text, allowed_mentions=NO_PINGS)
        except (discord.HTTPException, OSError) as exc:
            log.warning(
                "discord.mod_log_failed",
                fix="check DISCORD_MOD_LOG_CHANNEL and that the bot may view and send messages there",
                **describe_error(exc),
            )


def format_mod_event(event: AuditEvent) -> str:
    """One mod-log line: what happened, to whom, where, a jump link, and the excerpt behind a spoiler."""
    user = event.user_id.rsplit(":", 1)[-1]
    where = "in a direct message"
    link = ""
    if event.space != "@dm":
        # A thread's first message lives in the parent channel (the thread has the message's id).
        in_thread = bool(event.thread) and event.thread != event.message_id
        channel = event.thread if in_thread else event.channel
        where = f"in <#{channel}>"
        if event.message_id.isdigit():
            link = f" · [jump to message](https://discord.com/channels/{event.space}/{channel}/{event.message_id})"
        elif event.message_id.startswith("i"):
            where += " via /ask"
    category = " ".join(part for part in (event.category, event.category_name) if part) or "—"
    language = f" · language {event.language}" if event.language else ""
    head = (
        f"**{event.action}** ({event.stage}) · category **{discord.utils.escape_markdown(category)}** · layer "
        f"{event.layer or '—'}{language} · <@{user}> {where}{link}"
    )
    if not event.excerpt:
        return head[:2000]
    excerpt = discord.utils.escape_markdown(" ".join(event.excerpt.split()))[:300].replace("||", "|\u200b|")
    return f"{head[:1680]}\n> ||{excerpt}||"


class RelayTree(app_commands.CommandTree["RelayClient"]):
    async def interaction_check(self, interaction: discord.Interaction[RelayClient], /) -> bool:
        if not self.client.accepting:
            await respond(interaction, RESTARTING)
            return False
        return True

    async def on_error(
        self, interaction: discord.Interaction[RelayClient], error: app_commands.AppCommandError, /
    ) -> None:
        """Any unexpected failure in a command: logged with context, and the user gets a fixed notice."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        expected = isinstance(cause, discord.HTTPException | OSError)  # Discord failed: no traceback
        log.warning(
            "discord.command_error",
            command=interaction.command.qualified_name if interaction.command else None,
            error=type(cause).__name__,
            exc_info=None if expected else cause,
        )
        with contextlib.suppress(discord.HTTPException, OSError):
            await respond(interaction, i18n.translate("command.failed", locale_language(interaction)))


class RelayClient(discord.Client):
    """The bot. `ShardedRelayClient` is the same on `AutoShardedClient` (DISCORD_SHARD_COUNT set)."""

    def __init__(self, core: Core, *, settings: DiscordSettings, **options: Any) -> None:
        super().__init__(
            intents=intents(),
            allowed_mentions=NO_PINGS,
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT_S,
            **options,
        )
        self.core = core
        self.settings = settings
        self.keys = KeySpace(core.key_prefix)
        self.tree = RelayTree(self)
        self.accepting = True
        self.mod_log: asyncio.Task[None] | None = None  # serves the core's feed for the mod-log channel
        _register_commands(self)

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
            feed = self.core.mod_feed(Platform.DISCORD)
            if feed is None:
                log.warning("discord.mod_log_unavailable", reason="moderation is disabled")
            else:
                poster = DiscordModFeed(self, self.settings.mod_log_channel, spawn=self._spawn)
                self.mod_log = asyncio.create_task(feed.serve(poster.publish), name="mod-log-discord")

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
        await self.core.service.handle(incoming, StreamingReply(transport, notice_gate=gate))

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


def locale_language(interaction: discord.Interaction[Any]) -> str:
    """The catalog language of the member's Discord client (core/i18n.py falls back to English)."""
    return language_of(str(interaction.locale))


async def respond(interaction: discord.Interaction[Any], text: str) -> None:
    """An ephemeral answer to a command, whether or not it was deferred."""
    text = text[:2000]
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)


Command = Callable[[Commands, IncomingMessage], Awaitable[CommandReply]]
# The core words the command replies (core/commands.py); this is how Discord writes what they name.
NOTATION = Notation(
    moderators="command.moderators.discord",
    command=lambda name: f"`/relay {name}`",
    user=lambda user_id: f"<@{user_id}>",
    time=relative_time,
)


async def forget_everywhere(core: Core, user_id: int) -> int:
    """Delete a member's stored turns in every server and in DMs (the core keeps an index of the spaces
    where each author has turns)."""
    return await core.service.forget_author(Platform.DISCORD, str(user_id))


def _register_commands(client: RelayClient) -> None:
    """The application commands: each maps its options to core/commands.py, which authorizes and words
    the reply. /relay is shown only to members with Manage Server unless moderators are configured."""
    tree, settings, core = client.tree, client.settings, client.core
    commands = Commands(service=core.service, notation=NOTATION)

    def caller(interaction: discord.Interaction[Any], text: str = "") -> IncomingMessage:
        return IncomingMessage(
            key=conversation_key(interaction.channel, interaction.guild),
            message_id=f"i{interaction.id}",  # an interaction, not a message: no jump link in the mod log
            author_id=str(interaction.user.id),
            author_name=interaction.user.display_name,
            text=text,
            is_direct=interaction.guild is None,
            can_administer=can_administer(interaction.user, settings=settings),
            adult_channel=is_adult(interaction.channel),
        )

    async def run(interaction: discord.Interaction[Any], command: Command) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        speaking = commands.in_language(locale_language(interaction))
        await respond(interaction, (await command(speaking, caller(interaction))).text)

    @tree.command(name="ask", description="Ask the assistant a question")
    @app_commands.describe(prompt="Your question", ephemeral="Only you see the answer")
    async def ask(interaction: discord.Interaction[Any], prompt: str, ephemeral: bool = False) -> None:
        if interaction.guild is None and not settings.respond_to_dms:
            await respond(interaction, "I don't answer in direct messages here.")
            return
        if not allowed_context(interaction.guild, interaction.channel, interaction.user, settings=settings):
            await respond(interaction, i18n.translate("command.not_enabled", locale_language(interaction)))
            return
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        msg = caller(interaction, prompt)
        sink = InteractionSink(interaction, ephemeral=ephemeral, edit_interval_s=settings.edit_interval_s)
        core.tasks.spawn(_ask(interaction, msg, sink), name=f"discord-ask-{interaction.id}")

    async def _ask(
        interaction: discord.Interaction[Any], msg: IncomingMessage, sink: InteractionSink
    ) -> None:
        result = await core.service.handle(msg, sink)
        if sink.sent or result.outcome not in (Outcome.IGNORED, Outcome.DUPLICATE):
            return
        # Nothing was posted (a paused channel, an empty prompt): "thinking…" must not stay forever.
        paused = bool(msg.text.strip()) and await core.service.is_paused(msg.key)
        notice = (
            i18n.translate("command.paused_here", locale_language(interaction))
            if paused
            else "Please ask something after /ask."
        )
        with contextlib.suppress(discord.HTTPException, OSError):
            await interaction.edit_original_response(content=notice, allowed_mentions=NO_PINGS)

    @tree.command(name="reset", description="Clear this channel's (or thread's) conversation history")
    async def reset(interaction: discord.Interaction[Any]) -> None:
        await run(interaction, lambda c, msg: c.reset(msg))

    persona = app_commands.Group(name="persona", description="This channel's persona (system prompt)")

    @persona.command(name="set", description="Set this channel's persona (its threads use it too)")
    @app_commands.describe(text="How the assistant should behave here, e.g. 'You are a patient tutor.'")
    async def persona_set(
        interaction: discord.Interaction[Any], text: app_commands.Range[str, 1, MAX_PERSONA_CHARS]
    ) -> None:
        await run(interaction, lambda c, msg: c.persona_set(msg, text))

    @persona.command(name="show", description="Show the persona used here")
    async def persona_show(interaction: discord.Interaction[Any]) -> None:
        await run(interaction, lambda c, msg: c.persona_show(msg))

    @persona.command(name="clear", description="Remove the persona set here")
    async def persona_clear(interaction: discord.Interaction[Any]) -> None:
        await run(interaction, lambda c, msg: c.persona_clear(msg))

    tree.add_command(persona)

    @tree.command(
        name="forget-me", description="Delete everything you said to the bot, in every server and DM"
    )
    async def forget_me(interaction: discord.Interaction[Any]) -> None:
        await run(interaction, lambda c, msg: c.forget_me(msg, everywhere=True))

    moderated = settings.moderator_roles or settings.moderator_users
    relay = app_commands.Group(
        name="relay",
        description="Moderator controls",
        guild_only=True,
        # Configured moderators without Manage Server must see /relay too; else Discord hides it from members.
        default_permissions=None if moderated else discord.Permissions(manage_guild=True),
    )

    @relay.command(name="pause", description="Stop answering in this channel and its threads")
    async def pause(interaction: discord.Interaction[Any]) -> None:
        await run(interaction, lambda c, msg: c.pause(msg))

    @relay.command(name="resume", description="Resume answering in this channel and its threads")
    async def resume(interaction: discord.Interaction[Any]) -> None:
        await run(interaction, lambda c, msg: c.resume(msg))

    @relay.command(name="mute", description="Stop answering a member for a while")
    @app_commands.describe(user="The member to mute", duration="For how long")
    @app_commands.choices(duration=[app_commands.Choice(name=k, value=k) for k in MUTE_DURATIONS])
    async def mute(interaction: discord.Interaction[Any], user: discord.User, duration: str) -> None:
        await run(interaction, lambda c, msg: c.mute(msg, str(user.id), duration))

    @relay.command(name="unmute", description="Answer a muted member again")
    @app_commands.describe(user="The member to unmute")
    async def unmute(interaction: discord.Interaction[Any], user: discord.User) -> None:
        await run(interaction, lambda c, msg: c.unmute(msg, str(user.id)))

    tree.add_command(relay)


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


async def stay_connected(client: RelayClient) -> None:
    """`client.connect()`, connected again after a gateway frame discord.py could not read before any parser
    ran (a malformed READY or RESUMED: the error leaves `connect()` and would end the process). Every other
    error ends it as before: discord.py reconnects by itself after network errors, and its own refusals
    (a revoked token, a missing intent) are configuration errors. The sharded client closes itself on such
    a frame, so there the error still ends the process (and its restart policy starts it again)."""
    failures, last_failure = 0, 0.0
    while True:
        try:
            await client.connect(reconnect=True)
            return
        except MALFORMED as exc:
            if client.is_closed():  # the sharded client closes itself on such an error: it cannot go on
                raise
            now = time.monotonic()
            failures = 1 if now - last_failure > GATEWAY_RETRY_RESET_S else failures + 1
            last_failure = now
            delay = min(GATEWAY_RETRY_MAX_S, 2.0 ** (failures - 1))
            log.warning(
                "discord.gateway_frame_dropped", error=type(exc).__name__, at=raised_at(exc), retry_in_s=delay
            )
            client._count_dropped()
            if client.ws is not None:
                with contextlib.suppress(Exception):  # the old socket, whatever state it is in
                    await client.ws.close(code=4000)
            await asyncio.sleep(delay)


async def run_discord(core: Core, *, stop: asyncio.Event) -> None:
    settings = core.settings.discord
    if settings.token is None:
        raise ConfigurationError(
            "DISCORD_TOKEN is not set: create a bot in the Developer Portal and put its token in .env",
            setting="DISCORD_TOKEN",
        )
    _check_shards(settings)
    options: dict[str, Any] = {}
    if settings.shard_count:
        options["shard_count"] = settings.shard_count
        if settings.shard_ids:
            options["shard_ids"] = sorted(set(settings.shard_ids))
    client = (ShardedRelayClient if settings.shard_count else RelayClient)(core, settings=settings, **options)
    try:
        await client.login(settings.token.get_secret_value())
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
        await core.tasks.drain(core.settings.runtime.shutdown_grace_s)
        await stop_serving(client.mod_log)
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
