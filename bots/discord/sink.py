"""`DiscordReplySink`: typing until the first text, one message edited in place at most once per interval,
continued in new messages past 2,000 characters with code fences balanced, never a ping, never empty."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import discord
import structlog

from core.models import SinkLimits
from core.streaming import split_message

log = structlog.get_logger(__name__)

MAX_CHARS = 2000
NO_PINGS = discord.AllowedMentions.none()


class DiscordReplySink:
    """Answers one message. `channel` is where to send (the message's channel or a new thread); `reply_to`
    is the asker's message, referenced by the first message sent (a reply, without pinging its author)."""

    def __init__(self, *, channel: Any, reply_to: discord.Message | None, edit_interval_s: float) -> None:
        self._channel = channel
        self._reply_to = reply_to
        self.limits = SinkLimits(max_chars=MAX_CHARS, min_edit_interval_s=edit_interval_s)
        self._messages: list[Any] = []  # sent messages, in order
        self._shown: list[str] = []  # their current contents
        self._typing: asyncio.Task[None] | None = None
        self._first_text = asyncio.Event()

    @property
    def sent(self) -> list[Any]:
        return list(self._messages)

    async def typing(self) -> None:
        if self._typing is None:
            self._typing = asyncio.get_running_loop().create_task(self._keep_typing(), name="discord-typing")

    async def _keep_typing(self) -> None:
        with contextlib.suppress(discord.HTTPException):
            async with self._channel.typing():  # renews the 10-second indicator until the first text
                await self._first_text.wait()

    async def _stop_typing(self) -> None:
        self._first_text.set()
        if self._typing is not None:
            task, self._typing = self._typing, None
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=2)

    async def update(self, text_so_far: str) -> None:
        await self._show(split_message(text_so_far, max_chars=MAX_CHARS))

    async def finish(self, text: str) -> None:
        await self._show(split_message(text, max_chars=MAX_CHARS))
        await self._stop_typing()

    async def fail(self, notice: str) -> None:
        await self._stop_typing()
        notice = notice.strip() or "Something went wrong."
        if self._messages:
            await self._edit(0, notice)
            for message in self._messages[1:]:
                with contextlib.suppress(discord.HTTPException):
                    await message.delete()
            self._messages, self._shown = self._messages[:1], [notice]
        else:
            await self._send(notice)

    async def _show(self, chunks: list[str]) -> None:
        chunks = [c for c in chunks if c.strip()]  # Discord rejects empty messages (50006)
        if not chunks:
            return
        self._first_text.set()
        for i, chunk in enumerate(chunks):
            if i < len(self._messages):
                if self._shown[i] != chunk:
                    await self._edit(i, chunk)
            else:
                await self._send(chunk)

    async def _send(self, content: str) -> None:
        kwargs: dict[str, Any] = {"allowed_mentions": NO_PINGS}
        if self._reply_to is not None:
            kwargs["reference"] = self._reply_to.to_reference(fail_if_not_exists=False)
            kwargs["mention_author"] = False
        message = await self._channel.send(content, **kwargs)
        self._messages.append(message)
        self._shown.append(content)

    async def _edit(self, index: int, content: str) -> None:
        await self._messages[index].edit(content=content, allowed_mentions=NO_PINGS)
        self._shown[index] = content


class InteractionSink(DiscordReplySink):
    """For `/ask`: the deferred response is the first message; more chunks are follow-ups."""

    def __init__(self, interaction: discord.Interaction, *, ephemeral: bool, edit_interval_s: float) -> None:
        super().__init__(channel=None, reply_to=None, edit_interval_s=edit_interval_s)
        self._interaction = interaction
        self._ephemeral = ephemeral

    async def typing(self) -> None:
        return None  # the deferred response already shows "thinking…"

    async def _send(self, content: str) -> None:
        message: Any
        if not self._messages:
            message = await self._interaction.edit_original_response(
                content=content, allowed_mentions=NO_PINGS
            )
        else:
            message = await self._interaction.followup.send(
                content, allowed_mentions=NO_PINGS, ephemeral=self._ephemeral, wait=True
            )
        self._messages.append(message)
        self._shown.append(content)
