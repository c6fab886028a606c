"""Slack's side of an answer: `SlackTransport`, under the core's `StreamingReply` (core/reply.py): progress at
once (the thread's status with its loading messages, else a placeholder), then `chat.update` at most about once a second, continued in further
thread messages past Slack's limit (budgeted in bytes), in mrkdwn with nothing that can notify anyone. Why
`chat.update` and not Slack's streaming methods: docs/decisions.md.

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

from bots.slack.report import feedback_blocks, ref
from bots.slack.translate import MrkdwnRenderer
from core.keys import KeySpace
from core.models import Platform, SinkLimits
from core.reply import DeliveryFailed, ReplyTransport
from core.settings import SlackSettings
from core.write_budget import AnswerBudget, Window, WriteBudget

log = structlog.get_logger(__name__)

# Slack recommends at most 4,000 characters of `text` (it truncates past 40,000 and shows long messages
# folded); it counts bytes in practice, so every chunk is budgeted in UTF-8 bytes, with headroom.
# The split runs on the rendered (escaped) text, so `&amp;` and friends count too.
MAX_BYTES = 3800
PLACEHOLDER = "…"


UPDATE_WINDOW_S = 60.0  # Tier 3 counts chat.update per minute


def answer_budget(
    budget: WriteBudget, *, keys: KeySpace, settings: SlackSettings, team: str, channel: str
) -> AnswerBudget | None:
    """One answer's writes in workspace `team`: `chat.update` against the workspace's SLACK_UPDATES_PER_MINUTE
    (keeping one for the final text of each answer streaming there), `chat.postMessage` against the
    channel's SLACK_POSTS_PER_CHANNEL_PER_S. None when SLACK_UPDATES_PER_MINUTE is 0."""
    if settings.updates_per_minute == 0:
        return None
    update = Window(
        "chat.update",
        keys.write_budget(Platform.SLACK, team, "chat.update"),
        settings.updates_per_minute,
        UPDATE_WINDOW_S,
        reserve=True,
    )
    post = Window(
        "chat.postMessage",
        keys.write_budget(Platform.SLACK, team, f"post:{channel}"),
        settings.posts_per_channel_per_s,
        1.0,
    )
    windows: dict[str, tuple[Window, ...]] = {"edit": (update,), "post": (post,), "open": (update,)}
    return AnswerBudget(
        budget,
        platform=Platform.SLACK.value,
        windows=lambda write: windows.get(write, ()),
        max_wait_s=UPDATE_WINDOW_S,
        metrics=budget.metrics,
    )


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (`ratelimited`, `not_in_channel`, …): what the logs say, never the response."""
    response: Any = exc.response
    try:
        return str(response.get("error") or "unknown")
    except AttributeError:
        return "unknown"


class SlackTransport(ReplyTransport[str]):
    """Slack's messages (their `ts`) for one answer in `channel` (and `thread_ts`). A Web API error is a
    `DeliveryFailed` that is not fatal: an update skips it, the final text fails with a notice."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str | None,
        update_interval_s: float,
        renderer: MrkdwnRenderer,
        show_status: Callable[[], Awaitable[object]] | None = None,
        feedback: bool = True,
    ) -> None:
        """`feedback`: put the feedback buttons under a finished answer (`edit_final`, `post_final`)."""
        self._client = client
        self._feedback = feedback
        self._channel = channel
        self._thread_ts = thread_ts
        self._renderer = renderer
        self._show_status = show_status  # assistant.threads.setStatus for this thread (bolt's set_status)
        self.limits = SinkLimits(
            max_chars=MAX_BYTES, min_edit_interval_s=update_interval_s, max_bytes=MAX_BYTES
        )

    def render(self, markdown: str) -> str:
        return self._renderer.render(markdown)

    async def typing(self) -> str | None:
        if self._show_status is not None:
            try:
                await self._show_status()
                return None
            except SlackApiError as exc:  # not a thread Slack shows a status in after all
                log.info("slack.set_status_failed", error=slack_error(exc))
        return PLACEHOLDER

    async def post(self, text: str, *, notice: bool, blocks: list[dict[str, Any]] | None = None) -> str:
        kwargs: dict[str, Any] = {
            "channel": self._channel,
            "text": text if text.strip() else PLACEHOLDER,
            "unfurl_links": False,  # no previews of links the model made up
            "unfurl_media": False,  # … nor of images it points to
        }
        if self._thread_ts is not None:
            kwargs["thread_ts"] = self._thread_ts
        if blocks is not None:
            kwargs["blocks"] = blocks
        try:
            response = await self._client.chat_postMessage(**kwargs)
        except SlackApiError as exc:
            raise _failed("post", exc) from None
        return str(response["ts"])

    async def edit(self, message: str, text: str, *, blocks: list[dict[str, Any]] | None = None) -> None:
        kwargs: dict[str, Any] = {} if blocks is None else {"blocks": blocks}
        try:
            await self._client.chat_update(
                channel=self._channel, ts=message, text=text if text.strip() else PLACEHOLDER, **kwargs
            )
        except SlackApiError as exc:
            raise _failed("update", exc) from None

    async def delete(self, message: str) -> None:
        try:
            await self._client.chat_delete(channel=self._channel, ts=message)
        except SlackApiError as exc:
            raise _failed("delete", exc) from None

    def ref(self, message: str) -> str | None:
        return ref(self._channel, message)

    async def post_final(self, text: str) -> str:
        """The last message of a finished answer, with the feedback buttons under it (`feedback`)."""
        blocks = self._blocks(text)
        if blocks is not None:
            try:
                return await self.post(text, notice=False, blocks=blocks)
            except DeliveryFailed:  # e.g. invalid_blocks: the answer matters more than its buttons
                log.warning("slack.feedback_buttons_failed")
        return await self.post(text, notice=False)

    def final_edit_needed(self, text: str, *, changed: bool) -> bool:
        """The feedback buttons ride on the final update even when the text is unchanged."""
        return changed or self._blocks(text) is not None

    async def edit_final(self, message: str, text: str, *, changed: bool) -> None:
        """The feedback buttons go under the finished answer's last message (with its text, the same text
        in blocks; `text` stays the notification fallback): in its last update, or one more."""
        blocks = self._blocks(text)
        if blocks is not None:
            try:
                await self.edit(message, text, blocks=blocks)
                return
            except DeliveryFailed:
                log.warning("slack.feedback_buttons_failed")
        if changed:
            await self.edit(message, text)

    def _blocks(self, text: str) -> list[dict[str, Any]] | None:
        return feedback_blocks(text) if self._feedback and text.strip() else None


def _failed(action: str, exc: SlackApiError) -> DeliveryFailed:
    error = slack_error(exc)
    log.warning("slack.delivery_failed", action=action, error=error)
    return DeliveryFailed(f"{action} failed ({error})", fatal=False)
