"""The Discord bot: triggers, access control, streamed answers, application commands, shutdown.

`run_discord(core, stop=…)` is what `dolphin-relay discord` runs. Message handling never blocks the
gateway: each answer runs in a tracked task (`core.tasks`), drained on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import discord
import structlog
from discord import app_commands

from bots.discord.sink import NO_PINGS, DiscordReplySink, InteractionSink
from bots.discord.translate import (
    allowed_context,
    can_administer,
    conversation_key,
    is_adult,
    is_allowed,
    should_answer,
    to_incoming,
)
from bots.runtime import Core
from core.alignment.audit import AuditEvent
from core.errors import ConfigurationError, RelayError
from core.models import IncomingMessage, Platform, scoped_user_id
from core.settings import DiscordSettings

log = structlog.get_logger(__name__)

# View Channels, Send Messages, Send Messages in Threads, Create Public Threads, Embed Links,
# Read Message History, Add Reactions: the invite URL's permissions integer (docs/discord.md).
INVITE_PERMISSIONS = 1024 + 2048 + 274877906944 + 34359738368 + 16384 + 65536 + 64
MUTE_CHOICES = {"10m": 600, "1h": 3600, "1d": 86400, "1w": 604800}


def intents() -> discord.Intents:
    i = discord.Intents.none()
    i.guilds = True
    i.guild_messages = True
    i.dm_messages = True
    i.message_content = True  # privileged: enable it in the Developer Portal (docs/discord.md)
    i.members = False
    return i


class DiscordModFeed:
    """Posts moderation events to the configured mod-log channel, with a link to the message."""

    def __init__(self, client: discord.Client, channel_id: int) -> None:
        self._client = client
        self._channel_id = channel_id

    async def publish(self, event: AuditEvent) -> None:
        if event.platform != "discord":
            return
        channel = self._client.get_channel(self._channel_id)
        if channel is None or not hasattr(channel, "send"):
            return
        link = ""
        if event.space != "@dm" and event.message_id.isdigit():
            link = f" — https://discord.com/channels/{event.space}/{event.channel}/{event.message_id}"
        excerpt = f"\n> {event.excerpt[:300]}" if event.excerpt else ""
        text = (
            f"**{event.action}** ({event.stage}) · category **{event.category}** · layer {event.layer} · "
            f"<@{event.user_id.rsplit(':', 1)[-1]}>{link}{excerpt}"
        )
        await channel.send(text[:2000], allowed_mentions=NO_PINGS)


class RelayClient(discord.Client):
    """The bot. `ShardedRelayClient` is the same on `AutoShardedClient` (DISCORD_SHARD_COUNT set)."""

    def __init__(self, core: Core, *, settings: DiscordSettings, **options: Any) -> None:
        super().__init__(intents=intents(), allowed_mentions=NO_PINGS, **options)
        self.core = core
        self.settings = settings
        self.tree = app_commands.CommandTree(self)
        self.accepting = True
        _register_commands(self)
        self.tree.error(self.on_app_command_error)  # the tree's handler (a Client has no such event)

    async def setup_hook(self) -> None:
        if self.settings.dev_guild_id:
            guild = discord.Object(id=self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()
        if self.settings.mod_log_channel:
            feeds = getattr(self.core.moderator, "feeds", None)
            if isinstance(feeds, list):
                feeds.append(DiscordModFeed(self, self.settings.mod_log_channel))

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("discord.ready", guilds=len(self.guilds), shards=self.shard_count)

    async def on_message(self, message: discord.Message) -> None:
        if not self.accepting or self.user is None:
            return
        if not should_answer(message, bot_id=self.user.id, settings=self.settings):
            return
        if not is_allowed(message, settings=self.settings):
            return
        self.core.tasks.spawn(self._answer(message), name=f"discord-{message.id}")

    async def _answer(self, message: discord.Message) -> None:
        assert self.user is not None
        incoming = to_incoming(message, bot_id=self.user.id, settings=self.settings)
        channel: Any = message.channel
        reply_to: discord.Message | None = message
        if (
            self.settings.auto_thread
            and isinstance(message.channel, discord.TextChannel)
            and any(u.id == self.user.id for u in message.mentions)
        ):
            name = (incoming.text or "Question")[:90]
            try:
                thread = await message.create_thread(name=name, auto_archive_duration=1440)
            except discord.HTTPException as exc:
                log.warning("discord.thread_failed", status=exc.status)
            else:
                channel, reply_to = thread, None
                incoming = IncomingMessage(
                    key=conversation_key(thread, message.guild),
                    message_id=incoming.message_id,
                    author_id=incoming.author_id,
                    author_name=incoming.author_name,
                    text=incoming.text,
                    is_direct=False,
                    can_administer=incoming.can_administer,
                    adult_channel=incoming.adult_channel,
                )
        sink = DiscordReplySink(
            channel=channel, reply_to=reply_to, edit_interval_s=self.settings.edit_interval_s
        )
        await self.core.service.handle(incoming, sink)

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Any unexpected failure in a command: logged with context, and the user gets a fixed notice."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        log.warning(
            "discord.command_error",
            command=interaction.command.qualified_name if interaction.command else None,
            error=type(cause).__name__,
            exc_info=cause,
        )
        await _respond(interaction, "Sorry, that command failed. Please try again.")


class ShardedRelayClient(RelayClient, discord.AutoShardedClient):
    pass


async def _respond(interaction: discord.Interaction, text: str) -> None:
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)


def _interaction_key(interaction: discord.Interaction) -> Any:
    return conversation_key(interaction.channel, interaction.guild)


def _user_id(interaction: discord.Interaction, user: discord.abc.User | None = None) -> str:
    """`IncomingMessage.user_id` of a member: scoped to this server (or to DMs)."""
    who = user or interaction.user
    space = str(interaction.guild.id) if interaction.guild else "@dm"
    return scoped_user_id(Platform.DISCORD, space, str(who.id))


def _register_commands(client: RelayClient) -> None:
    tree, settings, core = client.tree, client.settings, client.core

    def admin(interaction: discord.Interaction) -> bool:
        return can_administer(interaction.user, settings=settings)

    async def refuse(interaction: discord.Interaction) -> None:
        await _respond(
            interaction, "Only moderators (Manage Server, or a configured moderator role) can do that."
        )

    async def run(interaction: discord.Interaction, op: Any, done: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await op
        except RelayError as exc:
            await _respond(interaction, exc.notice)
        else:
            await _respond(interaction, done)

    @tree.command(name="ask", description="Ask the assistant a question")
    @app_commands.describe(prompt="Your question", ephemeral="Only you see the answer")
    async def ask(interaction: discord.Interaction, prompt: str, ephemeral: bool = False) -> None:
        if not allowed_context(interaction.guild, interaction.channel, interaction.user, settings=settings):
            await _respond(interaction, "I'm not enabled here.")
            return
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        msg = IncomingMessage(
            key=_interaction_key(interaction),
            message_id=str(interaction.id),
            author_id=str(interaction.user.id),
            author_name=interaction.user.display_name,
            text=prompt,
            is_direct=interaction.guild is None,
            can_administer=admin(interaction),
            adult_channel=is_adult(interaction.channel),
        )
        sink = InteractionSink(interaction, ephemeral=ephemeral, edit_interval_s=settings.edit_interval_s)
        core.tasks.spawn(core.service.handle(msg, sink), name=f"discord-ask-{interaction.id}")

    @tree.command(name="reset", description="Clear this channel's conversation history")
    async def reset(interaction: discord.Interaction) -> None:
        if interaction.guild is not None and not admin(interaction):
            await refuse(interaction)
            return
        await run(
            interaction,
            core.service.reset(_interaction_key(interaction)),
            "History cleared for this channel.",
        )

    persona = app_commands.Group(name="persona", description="This channel's persona (system prompt)")

    @persona.command(name="set", description="Set this channel's persona")
    async def persona_set(interaction: discord.Interaction, text: str) -> None:
        if interaction.guild is not None and not admin(interaction):
            await refuse(interaction)
            return
        await run(interaction, core.service.set_persona(_interaction_key(interaction), text), "Persona set.")

    @persona.command(name="show", description="Show this channel's persona")
    async def persona_show(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            current = await core.service.get_persona(_interaction_key(interaction))
        except RelayError as exc:
            await _respond(interaction, exc.notice)
            return
        await _respond(
            interaction, f"Persona: {current}" if current else "No persona set (the default applies)."
        )

    @persona.command(name="clear", description="Remove this channel's persona")
    async def persona_clear(interaction: discord.Interaction) -> None:
        if interaction.guild is not None and not admin(interaction):
            await refuse(interaction)
            return
        await run(
            interaction, core.service.set_persona(_interaction_key(interaction), None), "Persona cleared."
        )

    tree.add_command(persona)

    @tree.command(name="forget-me", description="Delete everything you said to the bot in this server")
    async def forget_me(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            removed = await core.service.forget_user(_user_id(interaction))
            if interaction.guild is not None:  # and the DMs with the bot
                removed += await core.service.forget_user(
                    scoped_user_id(Platform.DISCORD, "@dm", str(interaction.user.id))
                )
        except RelayError as exc:
            await _respond(interaction, exc.notice)
            return
        await _respond(interaction, f"Done: {removed} stored message(s) of yours were deleted.")

    relay = app_commands.Group(name="relay", description="Moderator controls")

    @relay.command(name="pause", description="Stop answering in this channel")
    async def pause(interaction: discord.Interaction) -> None:
        if not admin(interaction):
            await refuse(interaction)
            return
        await run(
            interaction, core.service.pause(_interaction_key(interaction)), "Paused: I won't answer here."
        )

    @relay.command(name="resume", description="Resume answering in this channel")
    async def resume(interaction: discord.Interaction) -> None:
        if not admin(interaction):
            await refuse(interaction)
            return
        await run(interaction, core.service.resume(_interaction_key(interaction)), "Resumed.")

    @relay.command(name="mute", description="Stop answering a user for a while")
    @app_commands.choices(duration=[app_commands.Choice(name=k, value=k) for k in MUTE_CHOICES])
    async def mute(interaction: discord.Interaction, user: discord.User, duration: str) -> None:
        if not admin(interaction):
            await refuse(interaction)
            return
        seconds = MUTE_CHOICES.get(duration, 3600)
        await run(
            interaction,
            core.service.mute(_user_id(interaction, user), seconds),
            f"Muted {user.display_name} for {duration}.",
        )

    tree.add_command(relay)


async def run_discord(core: Core, *, stop: asyncio.Event) -> None:
    settings = core.settings.discord
    if settings.token is None:
        raise ConfigurationError(
            "DISCORD_TOKEN is not set: create a bot in the Developer Portal and put its token in .env",
            setting="DISCORD_TOKEN",
        )
    options: dict[str, Any] = {}
    if settings.shard_count:
        options["shard_count"] = settings.shard_count
        if settings.shard_ids:
            options["shard_ids"] = list(settings.shard_ids)
    client = (ShardedRelayClient if settings.shard_count else RelayClient)(core, settings=settings, **options)
    try:
        await client.login(settings.token.get_secret_value())
    except discord.LoginFailure:
        await client.close()
        raise ConfigurationError(
            "DISCORD_TOKEN was rejected by Discord: reset the token in the Developer Portal",
            setting="DISCORD_TOKEN",
        ) from None
    except BaseException:  # e.g. the command sync failed or Discord is unreachable: close the HTTP session
        await client.close()
        raise
    connection = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
    stopper = asyncio.create_task(stop.wait(), name="discord-stop")
    try:
        done, _ = await asyncio.wait({connection, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if connection in done and connection.exception() is not None:
            exc = connection.exception()
            if isinstance(exc, discord.PrivilegedIntentsRequired):
                raise ConfigurationError(
                    "Discord refused the Message Content intent: enable it under Bot → Privileged Gateway "
                    "Intents in the Developer Portal (docs/discord.md)",
                    setting="DISCORD_TOKEN",
                ) from None
            raise exc  # type: ignore[misc]
    finally:
        client.accepting = False
        await core.tasks.drain(core.settings.runtime.shutdown_grace_s)
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
