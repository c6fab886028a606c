"""`DiscordReplySink`: typing until the first text, one message edited in place at most once per interval,
continued in new messages past 2,000 characters with code fences balanced, never a ping, never empty.

Discord failures stay here and become outcomes, never tracebacks:

- 403 Forbidden (the bot lacks a permission in that channel): a reply is retried once without its reply
  reference (a reply needs Read Message History); if sending still fails, the answer stops, one warning
  names the missing permission, and nothing more is attempted in that channel for this answer.
- 404 Not Found (a moderator deleted the answer being streamed, or the channel or thread is gone): the
  answer stops quietly; nothing is re-posted and the exchange is not stored.
- 429 (discord.py waits and retries by itself; `RateLimited` when Discord asks for a longer wait than the
  client's `max_ratelimit_timeout`), 5xx and network errors: an intermediate edit is skipped (the next one
  carries newer text); on the final text the answer fails with a short notice.

Each of these reaches the core as `DeliveryFailed` (a `RelayError`), so the core logs one warning line, stores
nothing, and calls `fail()`, which then posts the notice only where that can still work.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import structlog

from core import i18n
from core.errors import Muted, RateLimited, RelayError
from core.models import SinkLimits
from core.streaming import split_message

log = structlog.get_logger(__name__)

MAX_CHARS = 2000
NO_PINGS = discord.AllowedMentions.none()
REMOVED = "*(removed)*"  # what a message shows when it could not be deleted after a withheld answer
_TRANSIENT: tuple[type[BaseException], ...] = (
    discord.RateLimited,
    discord.DiscordServerError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    OSError,
)
# What a Discord call can fail with (one tuple: mypy does not check a starred `except` clause).
_FAILURES: tuple[type[BaseException], ...] = (discord.HTTPException, *_TRANSIENT)

# (error) -> whether its notice should be shown now; the adapter shares it across processes (Redis).
NoticeGate = Callable[[RelayError], Awaitable[bool]]


class DeliveryFailed(RelayError):
    """Discord refused or lost the answer's message; `.fatal` when nothing more can be posted there."""

    notice = "Sorry, I couldn't post my answer. Please try again."
    notice_id = ""  # shown as is

    def __init__(self, message: str, *, fatal: bool) -> None:
        super().__init__(message)
        self.fatal = fatal


def relative_time(unix_s: float) -> str:
    """A Discord timestamp that every reader sees in their own time zone, counting down (`in 42 seconds`)."""
    return discord.utils.format_dt(dt.datetime.fromtimestamp(unix_s, tz=dt.UTC), "R")


def discord_notice(error: RelayError, *, now: float | None = None) -> str | None:
    """Cooldown notices that say when, as a live Discord timestamp, in the language of the member's message
    (`error.language`); None keeps the core's wording."""
    now = time.time() if now is None else now
    if isinstance(error, RateLimited):
        when = relative_time(now + max(1.0, error.retry_after_s))
        scope = "user" if error.scope == "user" else "channel"
        return i18n.translate(f"rate_limited.{scope}.relative", error.language, when=when)
    if isinstance(error, Muted):
        return i18n.translate("muted.relative", error.language, when=relative_time(error.until))
    return None


def describe_error(exc: BaseException) -> dict[str, Any]:
    """Log fields of a Discord failure: its HTTP status and Discord error code, or its type."""
    if isinstance(exc, discord.HTTPException):
        return {"status": exc.status, "code": exc.code}
    return {"error": type(exc).__name__}


class DiscordReplySink:
    """Answers one message. `channel` is where to send (the message's channel or a thread); `reply_to` is
    the asker's message, referenced by every message sent (a reply, without pinging its author).
    `open_channel`, when given, is awaited once before the first message to get the channel (the adapter
    uses it to start a thread only when there is an answer to put in it); `fallback` is where notices go
    while no such channel exists. `notice_gate` decides whether a cooldown notice is shown (once per
    cooldown, not once per message)."""

    def __init__(
        self,
        *,
        channel: Any,
        reply_to: discord.Message | None,
        edit_interval_s: float,
        open_channel: Callable[[], Awaitable[Any]] | None = None,
        notice_gate: NoticeGate | None = None,
    ) -> None:
        self._channel = channel
        self._reply_to = reply_to
        self._replying = channel is not None  # a given channel is the asker's: every message a reply
        self._open_channel = open_channel
        self._notice_gate = notice_gate
        self.limits = SinkLimits(max_chars=MAX_CHARS, min_edit_interval_s=edit_interval_s)
        self._messages: list[Any] = []  # sent messages, in order
        self._shown: list[str] = []  # their current contents
        self._typing: asyncio.Task[None] | None = None
        self._first_text = asyncio.Event()
        self._opening = asyncio.Lock()
        self._error: RelayError | None = None  # the error whose notice `fail()` is about to show
        self.dead = False  # nothing more can be posted (403, or the answer/channel was deleted)

    @property
    def sent(self) -> list[Any]:
        return list(self._messages)

    # ---------------------------------------------------------------- ReplySink

    def render_notice(self, error: RelayError) -> str | None:
        """Called by the core right before `fail()` (optional ReplySink hook)."""
        self._error = error
        return discord_notice(error)

    async def typing(self) -> None:
        if self._typing is not None or self._first_text.is_set() or self.dead:
            return
        channel = await self._target()  # the thread is started here: the answer is on its way
        if channel is not None:
            self._typing = asyncio.get_running_loop().create_task(
                self._keep_typing(channel), name="discord-typing"
            )

    async def update(self, text_so_far: str) -> None:
        try:
            await self._show(split_message(text_so_far, max_chars=MAX_CHARS))
        except DeliveryFailed as exc:
            if exc.fatal:
                raise
            log.warning("discord.edit_skipped", reason=str(exc))  # the next update carries newer text

    async def finish(self, text: str) -> None:
        chunks = [c for c in split_message(text, max_chars=MAX_CHARS) if c.strip()]
        if not chunks:  # nothing to show: keep what is shown (Discord rejects an empty message)
            await self._stop_typing()
            return
        await self._show(chunks)
        for message in self._messages[len(chunks) :]:  # an earlier split left more messages than now
            await self._remove(message)
        del self._messages[len(chunks) :], self._shown[len(chunks) :]
        await self._stop_typing()

    async def fail(self, notice: str) -> None:
        await self._stop_typing()
        if self.dead:
            return
        error, self._error = self._error, None
        if (
            isinstance(error, RateLimited | Muted)
            and self._notice_gate is not None
            and not await self._notice_gate(error)
        ):
            log.info("discord.notice_suppressed", reason=type(error).__name__)
            return
        notice = notice.strip() or "Something went wrong."
        if not self._messages:
            await self._send(notice, fallback=True)
            return
        # The answer shown so far is replaced: the first message becomes the notice, the others go.
        first, *rest = self._messages
        for message in rest:
            await self._remove(message)
        self._messages, self._shown = [first], [self._shown[0]]
        try:
            await self._edit(0, notice)
        except DeliveryFailed:
            await self._remove(first)
            self._messages, self._shown = [], []
            if not self.dead:
                await self._send(notice)

    # ---------------------------------------------------------------- internals

    async def _keep_typing(self, channel: Any) -> None:
        with contextlib.suppress(*_FAILURES):
            async with channel.typing():  # discord.py renews the 10-second indicator every 5 s
                await self._first_text.wait()

    async def _stop_typing(self) -> None:
        self._first_text.set()
        if self._typing is not None:
            task, self._typing = self._typing, None
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(task, timeout=2)

    async def _target(self) -> Any:
        async with self._opening:
            if self._channel is None and self._open_channel is not None:
                opener, self._open_channel = self._open_channel, None
                self._channel = await opener()
                # A reply reference is valid only in the asker's channel (the opener may fall back to it).
                self._replying = self._channel is self._reply_channel()
        return self._channel

    async def _show(self, chunks: list[str]) -> None:
        chunks = [c for c in chunks if c.strip()]  # Discord rejects empty messages (50006)
        if not chunks or self.dead:
            return
        if not self._messages:
            await self._stop_typing()  # so that no typing request lands after the first message
        for i, chunk in enumerate(chunks):
            if i < len(self._messages):
                if self._shown[i] != chunk:
                    await self._edit(i, chunk)
            else:
                await self._send(chunk)

    async def _send(self, content: str, *, fallback: bool = False) -> None:
        if fallback and self._channel is None:  # a notice while no thread was started: in the channel
            channel, replying = self._fallback_channel(), True
        else:
            channel, replying = await self._target(), self._replying
        if channel is None:
            self.dead = True
            raise DeliveryFailed("no channel to send to", fatal=True)
        kwargs: dict[str, Any] = {"allowed_mentions": NO_PINGS}
        reply_to = self._reply_to if replying else None
        if reply_to is not None:
            kwargs["reference"] = reply_to.to_reference(fail_if_not_exists=False)
            kwargs["mention_author"] = False
        try:
            try:
                message = await self._post(channel, content, kwargs)
            except discord.Forbidden:
                if "reference" not in kwargs:
                    raise
                # A reply needs Read Message History; without it, a plain message still reaches the asker.
                log.warning("discord.reply_forbidden", channel_id=getattr(channel, "id", None))
                kwargs.pop("reference"), kwargs.pop("mention_author")
                message = await self._post(channel, content, kwargs)
        except _FAILURES as exc:
            raise self._failure("send", exc, channel) from None
        self._messages.append(message)
        self._shown.append(content)

    async def _post(self, channel: Any, content: str, kwargs: dict[str, Any]) -> Any:
        return await channel.send(content, **kwargs)

    def _reply_channel(self) -> Any:
        """The channel where a reply reference is valid (the asker's message's channel)."""
        return self._reply_to.channel if self._reply_to is not None else None

    def _fallback_channel(self) -> Any:
        return self._reply_channel()

    async def _edit(self, index: int, content: str) -> None:
        message = self._messages[index]
        try:
            await message.edit(content=content, allowed_mentions=NO_PINGS)
        except _FAILURES as exc:
            raise self._failure("edit", exc, getattr(message, "channel", None)) from None
        self._shown[index] = content

    async def _remove(self, message: Any) -> None:
        """Delete one of the bot's messages; if Discord refuses, blank it out instead."""
        try:
            await message.delete()
            return
        except discord.NotFound:
            return
        except _FAILURES as exc:
            log.warning("discord.delete_failed", **describe_error(exc))
        with contextlib.suppress(*_FAILURES):
            await message.edit(content=REMOVED, allowed_mentions=NO_PINGS)

    def _failure(self, action: str, exc: BaseException, channel: Any) -> DeliveryFailed:
        channel_id = getattr(channel, "id", None)
        if isinstance(exc, discord.Forbidden):
            self.dead = True
            log.warning(
                "discord.missing_permissions",
                action=action,
                channel_id=channel_id,
                fix="give the bot View Channel, Send Messages, Send Messages in Threads and Read Message "
                "History in this channel (docs/discord.md)",
                **describe_error(exc),
            )
            return DeliveryFailed(f"{action} forbidden ({exc.code})", fatal=True)
        if isinstance(exc, discord.NotFound):
            self.dead = True
            log.info("discord.answer_gone", action=action, channel_id=channel_id, **describe_error(exc))
            return DeliveryFailed(f"{action}: message or channel gone ({exc.code})", fatal=True)
        log.warning("discord.delivery_failed", action=action, channel_id=channel_id, **describe_error(exc))
        return DeliveryFailed(f"{action} failed ({type(exc).__name__})", fatal=False)


class InteractionSink(DiscordReplySink):
    """For `/ask`: the deferred response ("thinking…") is the first message; more chunks are follow-ups,
    ephemeral when the command asked for it. Interaction responses cannot carry a reply reference: they
    are shown attached to the command already."""

    def __init__(self, interaction: discord.Interaction, *, ephemeral: bool, edit_interval_s: float) -> None:
        super().__init__(channel=None, reply_to=None, edit_interval_s=edit_interval_s)
        self._interaction = interaction
        self._ephemeral = ephemeral

    def render_notice(self, error: RelayError) -> str | None:
        self._error = None  # an interaction must be answered: no cooldown notice is suppressed
        return discord_notice(error)

    async def typing(self) -> None:
        return None  # the deferred response already shows "thinking…"

    async def _send(self, content: str, *, fallback: bool = False) -> None:
        message: Any
        try:
            if not self._messages:
                message = await self._interaction.edit_original_response(
                    content=content, allowed_mentions=NO_PINGS
                )
            else:
                message = await self._interaction.followup.send(
                    content, allowed_mentions=NO_PINGS, ephemeral=self._ephemeral, wait=True
                )
        except _FAILURES as exc:
            raise self._failure("send", exc, self._interaction.channel) from None
        self._messages.append(message)
        self._shown.append(content)
