"""`SlackReplySink`: progress at once (the assistant status, else a placeholder), then `chat.update` at most
about once a second, continued in further thread messages past Slack's limit (budgeted in bytes), in mrkdwn
with nothing that can notify anyone. Why `chat.update` and not Slack's streaming methods: docs/decisions.md.

What a user sees when things go wrong:
- an update that fails mid-stream (a 429 that outlasted the retries, a network blip) is skipped: the next
  update or the final text catches up; only the final text's failure ends the answer;
- `fail(notice)` puts the notice in the first message and removes every continuation already posted
  (deleted, or overwritten with the notice where deleting fails), so no part of a blocked answer stays up;
- no call ever sends an empty `text` (Slack rejects it with `no_text`);
- a cooldown's notice (rate limited, muted) is posted once per cooldown, as on Discord: `notice_gate`
  (core/gate.py `NoticeThrottle`) decides; a member's burst of 200 messages used to get 194 notices.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.translate import MrkdwnRenderer
from core.errors import Muted, RateLimited, RelayError
from core.gate import NoticeGate
from core.models import SinkLimits
from core.streaming import split_message

log = structlog.get_logger(__name__)

# Slack recommends at most 4,000 characters of `text` (it truncates past 40,000 and shows long messages
# folded); it counts bytes in practice, so every chunk is budgeted in UTF-8 bytes, with headroom.
# The split runs on the rendered (escaped) text, so `&amp;` and friends count too.
MAX_BYTES = 3800
PLACEHOLDER = "…"
STATUS = "is thinking…"
FALLBACK_NOTICE = "Something went wrong."


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (`ratelimited`, `not_in_channel`, …): what the logs say, never the response."""
    response: Any = exc.response
    try:
        return str(response.get("error") or "unknown")
    except AttributeError:
        return "unknown"


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
        notice_gate: NoticeGate | None = None,
    ) -> None:
        self._client = client
        self._notice_gate = notice_gate
        self._error: RelayError | None = None  # the error whose notice `fail()` is about to show
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
        """What each posted message shows now."""
        return list(self._shown)

    @property
    def message_ts(self) -> list[str]:
        return list(self._ts)

    async def typing(self) -> None:
        if self._set_status is not None:
            try:
                await self._set_status(STATUS)
                return
            except SlackApiError as exc:  # not an assistant thread after all, or no assistant:write
                log.info("slack.set_status_failed", error=slack_error(exc))
        if not self._ts:
            await self._post(PLACEHOLDER)

    async def update(self, text_so_far: str) -> None:
        try:
            await self._show(text_so_far)
        except SlackApiError as exc:
            log.warning("slack.update_skipped", error=slack_error(exc))

    async def finish(self, text: str) -> None:
        await self._show(text)

    def render_notice(self, error: RelayError) -> str | None:
        """Called by the core right before `fail()` (optional ReplySink hook): the error, for the gate;
        the notice's text stays the core's."""
        self._error = error
        return None

    async def fail(self, notice: str) -> None:
        error, self._error = self._error, None
        if (
            not self._ts  # nothing posted yet that the notice would replace
            and isinstance(error, RateLimited | Muted)
            and self._notice_gate is not None
            and not await self._notice_gate(error)
        ):
            log.info("slack.notice_suppressed", reason=type(error).__name__)
            return
        notice = self._renderer.render(notice.strip() or FALLBACK_NOTICE) or FALLBACK_NOTICE
        if not self._ts:
            await self._post(notice)
            return
        first_error: SlackApiError | None = None
        try:
            await self._edit(0, notice)
        except SlackApiError as exc:
            first_error = exc
            log.warning("slack.fail_edit_failed", error=slack_error(exc))
        for index in range(len(self._ts) - 1, 0, -1):
            await self._retract(index, notice)
        if first_error is not None:  # the first message still shows part of the answer: say so below it
            try:
                await self._retract(0, notice)
            finally:
                await self._post(notice)

    async def _show(self, markdown: str) -> None:
        rendered = self._renderer.render(markdown)
        chunks = split_message(rendered, max_chars=self.limits.max_chars, max_bytes=MAX_BYTES)
        if not chunks:
            return
        for i, chunk in enumerate(chunks):
            if i < len(self._ts):
                if self._shown[i] != chunk:
                    await self._edit(i, chunk)
            else:
                await self._post(chunk)
        for index in range(len(self._ts) - 1, len(chunks) - 1, -1):  # the text now needs fewer messages
            await self._retract(index, PLACEHOLDER)

    async def _retract(self, index: int, fallback: str) -> None:
        """Take message `index` down: delete it, or overwrite it with `fallback` where Slack refuses."""
        ts = self._ts[index]
        try:
            await self._client.chat_delete(channel=self._channel, ts=ts)
        except SlackApiError as exc:
            log.warning("slack.delete_failed", error=slack_error(exc))
            try:
                await self._edit(index, fallback)
                return
            except SlackApiError as exc2:
                log.warning("slack.retract_failed", error=slack_error(exc2))
                return
        del self._ts[index]
        del self._shown[index]

    async def _post(self, text: str) -> None:
        text = text if text.strip() else PLACEHOLDER
        kwargs: dict[str, Any] = {
            "channel": self._channel,
            "text": text,
            "unfurl_links": False,  # no previews of links the model made up
            "unfurl_media": False,  # … nor of images it points to
        }
        if self._thread_ts is not None:
            kwargs["thread_ts"] = self._thread_ts
        response = await self._client.chat_postMessage(**kwargs)
        self._ts.append(str(response["ts"]))
        self._shown.append(text)

    async def _edit(self, index: int, text: str) -> None:
        text = text if text.strip() else PLACEHOLDER
        await self._client.chat_update(channel=self._channel, ts=self._ts[index], text=text)
        self._shown[index] = text
