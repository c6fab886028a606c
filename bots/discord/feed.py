"""The mod-log channel on Discord: each moderation event of this platform's `ModFeedQueue` becomes one line
with a jump link to the message, posted in the background."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import discord
import structlog

from bots.discord.sink import NO_PINGS, describe_error
from core.alignment.audit import AuditEvent
from core.reports import REPORT_ACTION

log = structlog.get_logger(__name__)

Spawn = Callable[[Coroutine[Any, Any, Any]], Any]


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
    """One mod-log line: what happened, to whom, where, a jump link, and the excerpt behind a spoiler. A
    member's report: who reported whose answer, a jump link to the answer, the request and the answer."""
    if event.action == REPORT_ACTION:
        return _format_report(event)
    user = event.user_id.rsplit(":", 1)[-1]
    where, link = _where(event, "message")
    if event.space != "@dm" and event.message_id.startswith("i"):
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


def _where(event: AuditEvent, what: str) -> tuple[str, str]:
    """Where an event's message is ("in <#…>") and a jump link to it (" · [jump to what](…)" or "")."""
    if event.space == "@dm":
        return "in a direct message", ""
    # A thread's first message lives in the parent channel (the thread has the message's id).
    in_thread = bool(event.thread) and event.thread != event.message_id
    channel = event.thread if in_thread else event.channel
    link = ""
    if event.message_id.isdigit():
        link = f" · [jump to {what}](https://discord.com/channels/{event.space}/{channel}/{event.message_id})"
    return f"in <#{channel}>", link


def _spoiler(label: str, text: str, limit: int) -> str:
    quoted = discord.utils.escape_markdown(" ".join(text.split()))[:limit].replace("||", "|\u200b|")
    return f"> {label}: ||{quoted}||"


def _format_report(event: AuditEvent) -> str:
    reporter = event.reporter.rsplit(":", 1)[-1]
    asker = event.user_id.rsplit(":", 1)[-1]
    where, link = _where(event, "answer")
    head = f"**report** · <@{reporter}> reported an answer to <@{asker}> {where}{link}"
    lines = [head[:600]]
    if event.prompt:
        lines.append(_spoiler("request", event.prompt, 500))
    if event.text or event.excerpt:
        lines.append(_spoiler("answer", event.text or event.excerpt, 800))
    return "\n".join(lines)[:2000]
