"""`SlackReplySink`: a placeholder (or the assistant status) at once, then `chat.update` at most about once
a second, continued in further thread messages past Slack's limit (budgeted in bytes), in mrkdwn with
nothing that can notify anyone.

Why `chat.update` rather than `chat.startStream`/`appendStream`/`stopStream`: the streaming methods only
append, so an answer that the output check blocks mid-stream could not be replaced by the notice, and a
long answer could not be re-split into several messages; they also need newer workspaces and scopes.
`chat.update` is Tier 3 (50+ per minute per workspace), comfortably above one edit per second per answer
for a handful of concurrent answers; slack_sdk's rate-limit retry handler waits out 429s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.translate import MrkdwnRenderer
from core.models import SinkLimits
from core.streaming import split_message

log = structlog.get_logger(__name__)

# Slack truncates `text` past 40,000 characters and recommends 4,000; it counts bytes in practice, and
# escaping (&amp;) grows the text after the split, so leave headroom.
MAX_BYTES = 3800
PLACEHOLDER = "…"


class SlackReplySink:
    def __init__(
        self,
        *,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str | None,
        update_interval_s: float,
        renderer: MrkdwnRenderer,
        set_status: Callable[[str], Awaitable[Any]] | None = None,
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._renderer = renderer
        self._set_status = set_status
        self.limits = SinkLimits(
            max_chars=MAX_BYTES, min_edit_interval_s=update_interval_s, max_bytes=MAX_BYTES
        )
        self._ts: list[str] = []  # posted messages, in order
        self._shown: list[str] = []

    @property
    def posted(self) -> list[str]:
        return list(self._shown)

    async def typing(self) -> None:
        if self._set_status is not None:
            with contextlib.suppress(SlackApiError):
                await self._set_status("is thinking…")
        elif not self._ts:
            await self._post(PLACEHOLDER)

    async def update(self, text_so_far: str) -> None:
        await self._show(text_so_far)

    async def finish(self, text: str) -> None:
        await self._show(text)

    async def fail(self, notice: str) -> None:
        notice = self._renderer.render(notice.strip() or "Something went wrong.")
        if self._ts:
            await self._edit(0, notice)
            for ts in self._ts[1:]:
                with contextlib.suppress(SlackApiError):
                    await self._client.chat_delete(channel=self._channel, ts=ts)
            self._ts, self._shown = self._ts[:1], [notice]
        else:
            await self._post(notice)

    async def _show(self, markdown: str) -> None:
        rendered = self._renderer.render(markdown)
        chunks = split_message(rendered, max_chars=self.limits.max_chars, max_bytes=MAX_BYTES)
        for i, chunk in enumerate(chunks):
            if i < len(self._ts):
                if self._shown[i] != chunk:
                    await self._edit(i, chunk)
            else:
                await self._post(chunk)

    async def _post(self, text: str) -> None:
        kwargs: dict[str, Any] = {"channel": self._channel, "text": text, "unfurl_links": False}
        if self._thread_ts is not None:
            kwargs["thread_ts"] = self._thread_ts
        response = await self._client.chat_postMessage(**kwargs)
        self._ts.append(str(response["ts"]))
        self._shown.append(text)

    async def _edit(self, index: int, text: str) -> None:
        await self._client.chat_update(channel=self._channel, ts=self._ts[index], text=text)
        self._shown[index] = text
