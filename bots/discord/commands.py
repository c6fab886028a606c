"""Discord's application commands: each maps its options to core/commands.py, which authorizes and words
the reply; `/ask` streams an answer into the interaction (bots/discord/sink.py `InteractionSink`)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
import structlog
from discord import app_commands

from bots.discord.report import register_report
from bots.discord.sink import NO_PINGS, InteractionSink, relative_time
from bots.discord.translate import allowed_context, can_administer, conversation_key, is_adult
from core import i18n
from core.commands import MUTE_DURATIONS, CommandReply, Commands, Notation, language_of
from core.models import IncomingMessage, Outcome
from core.service import MAX_PERSONA_CHARS

if TYPE_CHECKING:
    from bots.discord.app import RelayClient

log = structlog.get_logger(__name__)

RESTARTING = "I'm restarting: please ask again in a minute."


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


def register_commands(client: RelayClient) -> None:
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

    @tree.command(name="usage", description="What you and this server have left of today's token budgets")
    async def usage(interaction: discord.Interaction[Any]) -> None:
        await run(interaction, lambda c, msg: c.usage(msg))

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
    register_report(client)
