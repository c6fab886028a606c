"""The mod-log channel on Slack: each moderation event of this platform's `ModFeedQueue` becomes one post with
a permalink to the thread, in the background."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.sink import slack_error
from bots.slack.translate import escape
from core.alignment.audit import AuditEvent
from core.reports import REPORT_ACTION

log = structlog.get_logger(__name__)


class SlackModFeed:
    """Posts moderation events to SLACK_MOD_LOG_CHANNEL with a permalink to the thread, in the background
    (a moderators' channel never slows an answer down), escaped like every other text."""

    def __init__(
        self, client: AsyncWebClient, channel: str, *, spawn: Callable[[Coroutine[Any, Any, None]], Any]
    ) -> None:
        self._client = client
        self._channel = channel
        self._spawn = spawn

    async def publish(self, event: AuditEvent) -> None:
        """One event of this platform's `ModFeedQueue` (it holds this platform's events only)."""
        self._spawn(self.post(event))

    async def post(self, event: AuditEvent) -> None:
        where = "a direct message" if event.channel.startswith("D") else f"<#{escape(event.channel)}>"
        report = event.action == REPORT_ACTION
        # A report links to the reported answer; anything else to the thread of the message.
        linked = event.message_id if report else event.thread
        link = ""
        if linked and event.channel:
            try:
                found = await self._client.chat_getPermalink(channel=event.channel, message_ts=linked)
                label = "open the answer" if report else "open the thread"
                link = f" · <{str(found['permalink']).replace('&', '&amp;')}|{label}>"
            except SlackApiError as exc:
                log.info("slack.permalink_failed", error=slack_error(exc))
        user = event.user_id.rsplit(":", 1)[-1]
        if report:
            reporter = event.reporter.rsplit(":", 1)[-1]
            # names and ids, never <@…>: a mention in the mod log would notify the reporter and the asker
            lines = [
                f"*report* · {escape(event.reporter_name)} (`{escape(reporter)}`) reported an answer to "
                f"{escape(event.author_name)} (`{escape(user)}`) in {where}{link}"
            ]
            lines += _quoted("request", event.prompt, 500) + _quoted(
                "answer", event.text or event.excerpt, 800
            )
        else:
            category = " ".join(part for part in (event.category, event.category_name) if part) or "-"
            language = f" · language {escape(event.language)}" if event.language else ""
            lines = [
                f"*{escape(event.action)}* ({escape(event.stage)}) · category *{escape(category)}* · "
                f"layer {escape(event.layer or '-')}{language}",
                f"{escape(event.author_name)} (`{escape(user)}`) in {where}{link}",
            ]
            lines += [f"> {escape(line)}" for line in event.excerpt[:300].splitlines() if line.strip()]
        try:
            await self._client.chat_postMessage(
                channel=self._channel, text="\n".join(lines), unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as exc:
            log.warning("slack.modfeed_failed", error=slack_error(exc))


def _quoted(label: str, text: str, limit: int) -> list[str]:
    """`text` (up to `limit` characters) as a quote under a label; nothing when there is no text."""
    lines = [f"> {escape(line)}" for line in text[:limit].splitlines() if line.strip()]
    return [f"_{label}:_", *lines] if lines else []
