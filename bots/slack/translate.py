"""Pure translation of Slack events: which to answer, whose workspace, `to_incoming()`, and Markdown → mrkdwn
with nothing in it that can notify anyone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from md2mrkdwn import MrkdwnConverter  # type: ignore[import-untyped]

from core.access import AccessLists, Place
from core.models import ConversationKey, IncomingMessage, Platform
from core.settings import SlackSettings

_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL_MENTION = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>")


def _control(body: str) -> re.Pattern[str]:
    """One of Slack's `<!…>` control sequences: @channel/@here/@everyone, a user group, a formatted date."""
    return re.compile(rf"<!{body}>")


_SPECIAL = _control(r"(channel|here|everyone)(?:\|[^>]*)?")
_SUBTEAM = _control(r"subteam\^[A-Z0-9]+(?:\|([^>]*))?")
_DATE = _control(r"date\^[^|>]*\|([^>]*)")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")

# Message subtypes that are still a person talking: a message with files (its text is answered) and a thread
# reply also sent to the channel. Every other subtype (edits, deletions, joins, bot messages, …) is ignored,
# and so is any subtype Slack adds later.
ANSWERED_SUBTYPES = frozenset({"file_share", "thread_broadcast"})


def installation_space(body: Mapping[str, Any]) -> str:
    """The workspace (or Enterprise Grid org) the app is installed in, from an event or command payload.

    This, not `event.team`, keys conversations: in a shared channel `event.team` is the team of whoever
    posted, which would split one thread's history by author. Bolt makes the same choice
    (`authorizations[0]` over `team_id`); an org-wide install on Enterprise Grid is keyed by its org."""
    auths = body.get("authorizations") or []
    if auths and isinstance(auths[0], Mapping):
        auth = auths[0]
        if _truthy(auth.get("is_enterprise_install")) and auth.get("enterprise_id"):
            return str(auth["enterprise_id"])
        if auth.get("team_id"):
            return str(auth["team_id"])
    if _truthy(body.get("is_enterprise_install")) and body.get("enterprise_id"):
        return str(body["enterprise_id"])
    if body.get("team_id"):
        return str(body["team_id"])
    event = body.get("event")
    if isinstance(event, Mapping) and event.get("team"):
        return str(event["team"])
    return ""


def _truthy(value: object) -> bool:
    # slash command payloads are form-encoded: "true" / "false"
    return value is True or (isinstance(value, str) and value.lower() == "true")


def reply_thread(event: Mapping[str, Any]) -> str:
    """Answers go in the thread: the thread's ts, or the message's own ts to start one."""
    return str(event.get("thread_ts") or event.get("ts"))


def conversation_key(team: str, channel: str, thread_ts: str | None) -> ConversationKey:
    return ConversationKey(Platform.SLACK, team, channel, thread_ts)


def is_direct(event: Mapping[str, Any]) -> bool:
    return event.get("channel_type") == "im"


def is_from_bot(event: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """True for anything that is not a person's new message: bots (this one included), edits, deletions,
    channel notices and every other subtype."""
    subtype = event.get("subtype")
    return bool(
        event.get("bot_id")
        or (subtype is not None and subtype not in ANSWERED_SUBTYPES)
        or (bot_user_id is not None and event.get("user") == bot_user_id)
        or not event.get("user")
    )


def mentioned_users(text: str) -> list[str]:
    return [m.group(1) for m in _USER_MENTION.finditer(text)]


def addressed_to_others(text: str, bot_user_id: str | None) -> bool:
    """A message in the bot's thread that @-mentions people but not the bot talks to them, not to it."""
    users = mentioned_users(text)
    return bool(users) and bot_user_id not in users


def clean_text(text: str, *, bot_user_id: str | None, names: Mapping[str, str] | None = None) -> str:
    """Slack markup → readable text: mentions to names, the bot's own mention removed, links unwrapped."""
    names = names or {}

    def user(m: re.Match[str]) -> str:
        if m.group(1) == bot_user_id:
            return ""
        return f"@{m.group(2) or names.get(m.group(1)) or m.group(1)}"

    text = _USER_MENTION.sub(user, text)
    text = _CHANNEL_MENTION.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    text = _SPECIAL.sub(lambda m: f"@{m.group(1)}", text)
    text = _SUBTEAM.sub(lambda m: f"@{m.group(1) or 'group'}", text)
    text = _DATE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def author_name(event: Mapping[str, Any], names: Mapping[str, str]) -> str:
    user = str(event.get("user") or "someone")
    profile = event.get("user_profile")
    if isinstance(profile, Mapping):
        for field in ("display_name", "real_name", "name"):
            if profile.get(field):
                return str(profile[field])
    return names.get(user) or user


def to_incoming(
    event: Mapping[str, Any],
    *,
    team: str,
    event_id: str,
    bot_user_id: str | None,
    names: Mapping[str, str] | None = None,
    thread_ts: str | None = None,
    direct: bool | None = None,
    can_administer: bool = False,
) -> IncomingMessage:
    """One conversation per thread in channels; a DM's top level is one conversation, each DM thread
    (and each assistant thread) another."""
    names = names or {}
    channel = str(event.get("channel", ""))
    direct = is_direct(event) if direct is None else direct
    if thread_ts is None:
        thread_ts = event.get("thread_ts") if direct else reply_thread(event)
    return IncomingMessage(
        key=conversation_key(team, channel, str(thread_ts) if thread_ts else None),
        message_id=event_id,
        author_id=str(event.get("user", "")),
        author_name=author_name(event, names),
        text=clean_text(str(event.get("text", "")), bot_user_id=bot_user_id, names=names),
        is_direct=direct,
        can_administer=can_administer,
        adult_channel=False,
    )


# ------------------------------------------------------------------------------------------ mrkdwn out


def access_lists(settings: SlackSettings) -> AccessLists:
    """SLACK_ALLOWED_*, SLACK_BLOCKED_* and SLACK_ADMIN_USERS in the core's access model (core/access.py)."""
    channels = {"allowed_channels": settings.allowed_channels, "blocked_channels": settings.blocked_channels}
    users = {"allowed_users": settings.allowed_users, "blocked_users": settings.blocked_users}
    return AccessLists.of(
        direct_messages=settings.respond_to_dms, moderator_users=settings.admin_users, **channels, **users
    )


def place(channel: str, user: str, *, direct: bool) -> Place:
    """Where an event or command comes from, in the core's access model."""
    return Place(user=user, channels=(channel,) if channel else (), direct=direct)


def escape(text: str) -> str:
    """Slack's three control characters, escaped: no generated text can notify anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ANGLE = re.compile(r"<([^<>\n]*)>")
_SAFE_LINK = re.compile(r"^((?:https?://|mailto:)[^\s|<>]+)(?:\|([^<>]*))?$")
_QUOTE_MARKERS = re.compile(r"^([ \t]*(?:>[ \t]?)+)")
_FENCE_INFO = re.compile(r"^([ \t]*`{3,})[^`\n]+$", re.MULTILINE)
_DOMAIN_LIKE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[\w-]+\.)+[a-z]{2,}(?::\d+)?(?:[/?#]\S*)?$", re.I)


def _host(url: str) -> str:
    if "://" not in url:
        url = f"//{url}"
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")


def _link(url: str, label: str | None) -> str:
    """A safe Slack link; a label that looks like another address than the target shows the target too."""
    if not label:
        return f"<{url.replace('&', '&amp;')}>"
    label = label.strip()
    if _DOMAIN_LIKE.match(label) and _host(label) != _host(url):
        return f"{escape(label)} (<{url.replace('&', '&amp;')}>)"
    return f"<{url.replace('&', '&amp;')}|{escape(label)}>"


def _escape_outside_links(text: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _ANGLE.finditer(text):
        out.append(escape(text[pos : m.start()]))
        safe = _SAFE_LINK.match(m.group(1))
        out.append(_link(safe.group(1), safe.group(2)) if safe else escape(m.group(0)))
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def neutralize(mrkdwn: str) -> str:
    """Escape `&`, `<`, `>` everywhere except in plain web/mail links and the `>` that starts a quote line:
    what remains can show a link or a quote, never `<!channel>`, `<!here>`, `<@U…>`, `<#C…>`, `<!date…>`."""
    lines = []
    for line in mrkdwn.split("\n"):
        m = _QUOTE_MARKERS.match(line)
        prefix = m.group(1) if m else ""
        lines.append(prefix + _escape_outside_links(line[len(prefix) :]))
    return "\n".join(lines)


class MrkdwnRenderer:
    """Model Markdown → Slack mrkdwn with md2mrkdwn (bold, italics, lists, headings, links, quotes, tables as
    aligned code blocks, inline code left alone), then `neutralize()` on the result, so that no text from
    the model, wherever it sits (code, links, tables), can notify anyone. Code fence languages are dropped:
    Slack would show them as the first line of the block."""

    def __init__(self) -> None:
        self._converter = MrkdwnConverter()

    def render(self, markdown: str) -> str:
        converted = self._converter.convert(markdown)
        converted = _FENCE_INFO.sub(lambda m: m.group(1), converted)
        return neutralize(converted)
