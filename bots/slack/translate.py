"""Pure translation of Slack events: which to answer, `to_incoming()`, and mrkdwn with no pings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from markdown_to_mrkdwn import SlackMarkdownConverter

from core.models import ConversationKey, IncomingMessage, Platform

_USER_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL_MENTION = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(?:channel|here|everyone)(?:\|[^>]*)?>")
_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_ANGLE = re.compile(r"<([^<>]*)>")
_SAFE_LINK = re.compile(r"^(?:https?://|mailto:)[^\s|<>]+(?:\|[^<>]*)?$")
IGNORED_SUBTYPES = {
    "bot_message",
    "message_changed",
    "message_deleted",
    "message_replied",
    "channel_join",
    "channel_leave",
    "channel_topic",
    "channel_purpose",
    "channel_name",
    "group_join",
    "group_leave",
    "thread_broadcast",
    "assistant_app_thread",
    "ekm_access_denied",
    "me_message",
}


def event_team(body: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    return str(event.get("team") or body.get("team_id") or "")


def reply_thread(event: Mapping[str, Any]) -> str:
    """Answers go in the thread: the thread's ts, or the message's own ts to start one."""
    return str(event.get("thread_ts") or event.get("ts"))


def conversation_key(team: str, channel: str, thread_ts: str | None) -> ConversationKey:
    return ConversationKey(Platform.SLACK, team, channel, thread_ts)


def is_from_bot(event: Mapping[str, Any], bot_user_id: str | None) -> bool:
    return bool(
        event.get("bot_id")
        or event.get("subtype") in IGNORED_SUBTYPES
        or (bot_user_id is not None and event.get("user") == bot_user_id)
        or not event.get("user")
    )


def clean_text(text: str, *, bot_user_id: str | None, names: Mapping[str, str] | None = None) -> str:
    """Slack markup → readable text: mentions to names, the bot's own mention removed, links unwrapped."""
    names = names or {}

    def user(m: re.Match[str]) -> str:
        if m.group(1) == bot_user_id:
            return ""
        return f"@{m.group(2) or names.get(m.group(1)) or m.group(1)}"

    text = _USER_MENTION.sub(user, text)
    text = _CHANNEL_MENTION.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    text = _SPECIAL.sub("@channel", text)
    text = _SUBTEAM.sub(lambda m: f"@{m.group(1) or 'group'}", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def to_incoming(
    event: Mapping[str, Any],
    *,
    team: str,
    event_id: str,
    bot_user_id: str | None,
    can_administer: bool = False,
    thread_ts: str | None = None,
) -> IncomingMessage:
    channel = str(event.get("channel", ""))
    return IncomingMessage(
        key=conversation_key(team, channel, thread_ts or reply_thread(event)),
        message_id=event_id,
        author_id=str(event.get("user", "")),
        author_name=str(event.get("user_name") or event.get("username") or event.get("user", "someone")),
        text=clean_text(str(event.get("text", "")), bot_user_id=bot_user_id),
        is_direct=event.get("channel_type") == "im",
        can_administer=can_administer,
        adult_channel=False,
    )


def escape(text: str) -> str:
    """Slack's three control characters, escaped: no generated text can notify anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class MrkdwnRenderer:
    """Model Markdown → Slack mrkdwn (markdown-to-mrkdwn), with every `<…>` that is not a plain web or
    mail link neutralized afterwards, so `<!channel>`, `<!here>`, `<@U…>` and `<#C…>` can never appear."""

    def __init__(self) -> None:
        self._converter = SlackMarkdownConverter()

    def render(self, markdown: str) -> str:
        converted = self._converter.convert(escape(markdown))
        return _ANGLE.sub(
            lambda m: m.group(0) if _SAFE_LINK.match(m.group(1)) else escape(m.group(0)), converted
        )
