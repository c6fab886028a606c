"""Discord's "Report answer": a message command (right-click or long-press a message → Apps → Report answer).

It needs no Message Content intent: the member picks the message, Discord sends it with the interaction,
and the core finds the request and the answer by the message's id in the history's answer index
(core/reports.py). The reply is ephemeral: only the reporting member sees it, in their client's language.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bots.discord.translate import is_adult
from core.models import Platform
from core.reports import AnswerReport

if TYPE_CHECKING:
    from bots.discord.app import RelayClient

REPORT_ANSWER = "Report answer"  # the command's name in the message's Apps menu
SOURCE = "discord:context-menu"


def to_report(interaction: discord.Interaction[Any], message: discord.Message) -> AnswerReport:
    """The report of `message` by the member who ran the command (pure)."""
    bot = interaction.client.user
    return AnswerReport(
        platform=Platform.DISCORD,
        ref=str(message.id),  # as bots/discord/sink.py `DiscordTransport.ref` names the bot's messages
        message_id=str(message.id),
        reporter_id=str(interaction.user.id),
        reporter_name=interaction.user.display_name,
        by_bot=bot is not None and message.author.id == bot.id,
        source=SOURCE,
        adult_channel=is_adult(interaction.channel),
    )


def register_report(client: RelayClient) -> None:
    from bots.discord.commands import locale_language, respond

    core = client.core

    @client.tree.context_menu(name=REPORT_ANSWER)  # an app_commands.ContextMenu of type MESSAGE
    async def report_answer(interaction: discord.Interaction[Any], message: discord.Message) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await core.reports.report(
            to_report(interaction, message), language=locale_language(interaction)
        )
        await respond(interaction, reply.text)
