"""Discord's side of an answer: `DiscordTransport`, under the core's `StreamingReply` (core/reply.py): typing
until the first text, one message edited in place at most once per interval, continued in new messages past 2,000
characters (the core splits, reconciles and replaces), never a ping.

Discord failures stay here and become outcomes, never tracebacks:

- 403 Forbidden (the bot lacks a permission in that channel): a reply is retried once without its reply
  reference (a reply needs Read Message History); if sending still fails, the answer stops, one warning
  names the missing permission, and nothing more is attempted in that channel for this answer.
- 404 Not Found (a moderator deleted the answer being streamed, or the channel or thread is gone): the
  answer stops quietly; nothing is re-posted and the exchange is not stored.
- 429 (discord.py waits and retries by itself; `RateLimited` when Discord asks for a longer wait than the
  client's `max_ratelimit_timeout`), 5xx and network errors: an intermediate edit is skipped (the next one
  carries newer text); on the final text the answer fails with a short notice.

Each of these reaches the core as `DeliveryFailed` (core/reply.py), so the core logs one warning line, stores
nothing, and shows the notice only where that can still work.

Two more of Discord's rules:

- The first message of an answer carries a nonce derived from the asker's message id, with `enforce_nonce`
  (discord.py sends it with every nonce): Discord returns the message already created with that nonce for a
  few minutes instead of creating another. discord.py resends a request itself after a 500, 502, 504 or a
  reset connection (with the same nonce); a send that fails to us (a 503, a timeout) while Discord did
  create the message is sent again by the next update, and an answer started twice for one message sends
  it again too: with the same nonce every time, the answer's first message is posted once.
- A message older than an hour can no longer be edited (error 30046, "Maximum number of edits to messages
  older than 1 hour reached"): the transport's limits say so (`max_edit_age_s`, a little under the hour, as
  our clock starts when the send returned), and a 30046 from Discord is `DeliveryFailed(stale=True)`;
  either way the answer continues in a new message (core/reply.py) instead of failing.
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
from core.errors import Muted, OverBudget, RateLimited, RelayError
from core.keys import KeySpace
from core.models import Platform, SinkLimits
from core.reply import DeliveryFailed, ReplyTransport, StreamingReply
from core.settings import DiscordSettings
from core.write_budget import AnswerBudget, Priority, Window, WriteBudget

log = structlog.get_logger(__name__)

MAX_CHARS = 2000
CHANNEL_WINDOW_S = 5.0  # Discord's message buckets: per channel, per 5 seconds
TYPING_RETRY_S = 1.0  # a typing indicator the budget had no room for is tried again after this
EDIT_WINDOW_CODE = 30046  # "Maximum number of edits to messages older than 1 hour reached"
MAX_EDIT_AGE_S = 3600.0 - 120.0  # Discord counts the hour from its own timestamp: stop two minutes early
NO_PINGS = discord.AllowedMentions.none()
REMOVED = "*(removed)*"  # what a message shows when it could not be deleted after a withheld answer
_TRANSIENT: tuple[type[BaseException], ...] = (
    discord.RateLimited,
    discord.DiscordServerError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    OSError,
)
_FAILURES: tuple[type[BaseException], ...] = (discord.HTTPException, *_TRANSIENT)


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
    if isinstance(error, OverBudget):
        when = relative_time(error.resets_at)
        return i18n.translate(f"budget.exhausted.{error.scope}.relative", error.language, when=when)
    return None


def answer_nonce(message_id: int) -> str:
    """The nonce of the first message answering `message_id`: the same for every attempt at that answer (at
    most 25 characters, as Discord allows)."""
    return f"a{message_id}"


def describe_error(exc: BaseException) -> dict[str, Any]:
    """Log fields of a Discord failure: its HTTP status and Discord error code, or its type."""
    if isinstance(exc, discord.HTTPException):
        return {"status": exc.status, "code": exc.code}
    return {"error": type(exc).__name__}


def answer_budget(
    budget: WriteBudget,
    *,
    keys: KeySpace,
    settings: DiscordSettings,
    bot_id: int,
    channel_id: Callable[[], int | None],
) -> AnswerBudget | None:
    """One answer's writes for bot `bot_id`: every write against DISCORD_WRITES_PER_S (edits and typing only up
    to DISCORD_INTERMEDIATE_SHARE of it), sends and edits each against the channel's DISCORD_CHANNEL_WRITES_PER_5S
    (keeping one send for a continuation or notice, and one edit for the final text). `channel_id()` is the
    answer's channel once known (a thread may be started for it). None when DISCORD_WRITES_PER_S is 0."""
    if settings.writes_per_s == 0:
        return None
    scope = str(bot_id)
    every = Window(
        "global",
        keys.write_budget(Platform.DISCORD, scope, "global"),
        settings.writes_per_s,
        1.0,
        intermediate_limit=max(1, int(settings.writes_per_s * settings.intermediate_share)),
    )
    per_channel = settings.channel_writes_per_5s

    def windows(write: str) -> tuple[Window, ...]:
        channel = channel_id()
        if write == "open":  # the channel's edits keep a place for the final text from the first edit on
            return ()
        if write not in ("post", "edit") or channel is None:
            return (every,)
        key = keys.write_budget(Platform.DISCORD, scope, f"{write}:{channel}")
        if write == "post":
            return every, Window("channel_post", key, per_channel, CHANNEL_WINDOW_S, per_channel - 1)
        return every, Window("channel_edit", key, per_channel, CHANNEL_WINDOW_S, reserve=True)

    return AnswerBudget(
        budget,
        platform=Platform.DISCORD.value,
        windows=windows,
        max_wait_s=CHANNEL_WINDOW_S,
        metrics=budget.metrics,
    )


class DiscordTransport(ReplyTransport[Any]):
    """Discord's messages for one answer. `channel` is where to send (the message's channel or a thread);
    `reply_to` is the asker's message, referenced by every message sent (a reply, without pinging its
    author). `open_channel`, when given, is awaited once, at the first typing or message, to get the channel
    (the adapter uses it to start a thread only when there is an answer to put in it); a notice while no
    such channel exists goes to the asker's channel."""

    def __init__(
        self,
        *,
        channel: Any,
        reply_to: discord.Message | None,
        edit_interval_s: float,
        open_channel: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.budget: AnswerBudget | None = None  # typing spends from it (set with the reply's budget)
        self._channel = channel
        self._reply_to = reply_to
        self._replying = channel is not None  # a given channel is the asker's: every message a reply
        self._open_channel = open_channel
        # Sent until the first message (answer or notice) is posted: a post whose reply was lost is sent again
        # by the next update with the same nonce, and Discord returns the message it made. Then spent: a
        # later post is another message.
        self._nonce = None if reply_to is None else answer_nonce(reply_to.id)
        self.limits = SinkLimits(
            max_chars=MAX_CHARS, min_edit_interval_s=edit_interval_s, max_edit_age_s=MAX_EDIT_AGE_S
        )
        self._typing: asyncio.Task[None] | None = None
        self._first_text = asyncio.Event()
        self._opening = asyncio.Lock()

    # ---------------------------------------------------------------- ReplyTransport

    def render_notice(self, error: RelayError) -> str | None:
        return discord_notice(error)

    def blank(self, notice: str | None) -> str:
        return REMOVED

    def ref(self, message: Any) -> str | None:
        """A message's id (unique on Discord): "Report answer" on it finds the exchange."""
        message_id = getattr(message, "id", None)
        return str(message_id) if message_id is not None else None

    async def typing(self) -> str | None:
        if self._typing is not None or self._first_text.is_set():
            return None
        channel = await self._target()  # the thread is started here: the answer is on its way
        if channel is not None:
            self._typing = asyncio.get_running_loop().create_task(
                self._keep_typing(channel), name="discord-typing"
            )
        return None

    async def stop_typing(self) -> None:
        self._first_text.set()
        if self._typing is not None:
            task, self._typing = self._typing, None
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(task, timeout=2)

    async def post(self, text: str, *, notice: bool) -> Any:
        if notice and self._channel is None:  # a notice while no thread was started: in the channel
            channel, replying = self._fallback_channel(), True
        else:
            channel, replying = await self._target(), self._replying
        if channel is None:
            raise DeliveryFailed("no channel to send to", fatal=True)
        kwargs: dict[str, Any] = {"allowed_mentions": NO_PINGS}
        if self._nonce is not None:
            kwargs["nonce"] = self._nonce
        reply_to = self._reply_to if replying else None
        if reply_to is not None:
            kwargs["reference"] = reply_to.to_reference(fail_if_not_exists=False)
            kwargs["mention_author"] = False
        try:
            try:
                sent = await channel.send(text, **kwargs)
            except discord.Forbidden:
                if "reference" not in kwargs:
                    raise
                # A reply needs Read Message History; without it, a plain message still reaches the asker.
                log.warning("discord.reply_forbidden", channel_id=getattr(channel, "id", None))
                kwargs.pop("reference"), kwargs.pop("mention_author")
                sent = await channel.send(text, **kwargs)
        except _FAILURES as exc:
            raise self._failure("send", exc, channel) from None
        if self._nonce is not None and getattr(sent, "content", text) != text:
            # Discord returned the message it made for this nonce earlier (its reply had been lost), with
            # the text of then: bring it up to date.
            await self.edit(sent, text)
        self._nonce = None
        return sent

    async def edit(self, message: Any, text: str) -> None:
        try:
            await message.edit(content=text, allowed_mentions=NO_PINGS)
        except _FAILURES as exc:
            raise self._failure("edit", exc, getattr(message, "channel", None)) from None

    async def delete(self, message: Any) -> None:
        try:
            await message.delete()
        except discord.NotFound:
            return
        except _FAILURES as exc:
            log.warning("discord.delete_failed", **describe_error(exc))
            raise DeliveryFailed(f"delete failed ({type(exc).__name__})", fatal=False) from None

    # ---------------------------------------------------------------- internals

    @property
    def channel_id(self) -> int | None:
        """The id of the channel the answer goes to, once known."""
        channel_id = getattr(self._channel, "id", None)
        return channel_id if isinstance(channel_id, int) else None

    async def _keep_typing(self, channel: Any) -> None:
        with contextlib.suppress(*_FAILURES):
            # With a write budget, typing is an intermediate write: shown only when there is room for it.
            while self.budget is not None and not await self.budget.spend("typing", Priority.INTERMEDIATE):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._first_text.wait(), TYPING_RETRY_S)
                if self._first_text.is_set():
                    return
            async with channel.typing():  # discord.py renews the 10-second indicator every 5 s
                await self._first_text.wait()

    async def _target(self) -> Any:
        async with self._opening:
            if self._channel is None and self._open_channel is not None:
                opener, self._open_channel = self._open_channel, None
                self._channel = await opener()
                # A reply reference is valid only in the asker's channel (the opener may fall back to it).
                self._replying = self._channel is self._reply_channel()
        return self._channel

    def _reply_channel(self) -> Any:
        """The channel where a reply reference is valid (the asker's message's channel)."""
        return self._reply_to.channel if self._reply_to is not None else None

    def _fallback_channel(self) -> Any:
        return self._reply_channel()

    def _failure(self, action: str, exc: BaseException, channel: Any) -> DeliveryFailed:
        channel_id = getattr(channel, "id", None)
        if isinstance(exc, discord.Forbidden):
            log.warning(
                "discord.missing_permissions",
                action=action,
                channel_id=channel_id,
                fix="give the bot View Channel, Send Messages, Send Messages in Threads and Read Message "
                "History in this channel (docs/discord.md)",
                **describe_error(exc),
            )
            return DeliveryFailed(f"{action} forbidden ({exc.code})", fatal=True)
        if isinstance(exc, discord.HTTPException) and exc.code == EDIT_WINDOW_CODE:
            log.info("discord.edit_window_closed", action=action, channel_id=channel_id)
            return DeliveryFailed(f"{action}: message older than an hour", fatal=False, stale=True)
        if isinstance(exc, discord.NotFound):
            log.info("discord.answer_gone", action=action, channel_id=channel_id, **describe_error(exc))
            return DeliveryFailed(f"{action}: message or channel gone ({exc.code})", fatal=True)
        log.warning("discord.delivery_failed", action=action, channel_id=channel_id, **describe_error(exc))
        return DeliveryFailed(f"{action} failed ({type(exc).__name__})", fatal=False)


class InteractionTransport(DiscordTransport):
    """For `/ask`: the deferred response ("thinking…") is the first message; more chunks are follow-ups,
    ephemeral when the command asked for it. Interaction responses cannot carry a reply reference: they
    are shown attached to the command already."""

    def __init__(self, interaction: discord.Interaction, *, ephemeral: bool, edit_interval_s: float) -> None:
        super().__init__(channel=None, reply_to=None, edit_interval_s=edit_interval_s)
        self._interaction = interaction
        self._ephemeral = ephemeral
        self._responded = False

    async def typing(self) -> str | None:
        return None  # the deferred response already shows "thinking…"

    async def post(self, text: str, *, notice: bool) -> Any:
        message: Any
        try:
            if not self._responded:
                message = await self._interaction.edit_original_response(
                    content=text, allowed_mentions=NO_PINGS
                )
            else:
                message = await self._interaction.followup.send(
                    text, allowed_mentions=NO_PINGS, ephemeral=self._ephemeral, wait=True
                )
        except _FAILURES as exc:
            raise self._failure("send", exc, self._interaction.channel) from None
        self._responded = True
        return message


class InteractionSink(StreamingReply[Any]):
    """Answers `/ask` (see `InteractionTransport`); an interaction must be answered, so no cooldown notice is
    held back."""

    def __init__(self, interaction: discord.Interaction, *, ephemeral: bool, edit_interval_s: float) -> None:
        transport = InteractionTransport(interaction, ephemeral=ephemeral, edit_interval_s=edit_interval_s)
        super().__init__(transport)
