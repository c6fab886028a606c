"""The conversation-admin commands, once for every platform: reset, persona set/show/clear, forget-me, pause,
resume, mute, unmute, and usage (what is left of today's token budgets).

An adapter maps its own syntax (Discord's application commands, Slack's `/dolphin` text) to these methods
and shows the `CommandReply` they return; it never decides who may run what, nor words a reply. Each
method takes the `IncomingMessage` of the command (its text unused), so the caller's conversation and
rights come in the same shape as a chat message's:

- who may run what is `RULES` below, authorized on `msg.can_administer` (the adapter computes it with
  core/access.py's `AccessLists.is_moderator`); a direct message with the bot is the caller's own, so
  there reset and persona need no moderator;
- a `RelayError` (the store unreachable, a persona too long) becomes its notice, in a reply like any
  other; anything else is the adapter's command boundary (`COMMAND_FAILED`);
- the platform's notation (a channel or user mention, a relative time, a command's name, a quote) comes
  from the adapter's `Notation`, the sentences from the message catalog (core/i18n.py, `command.*` ids in
  core/locales/), in the caller's language where the platform says it (`Commands.in_language`; Discord
  sends the member's client language with every command, Slack does not: English).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import structlog

from core import i18n
from core.budget import Usage
from core.errors import RelayError
from core.models import ConversationKey, IncomingMessage, Platform, scoped_user_id

log = structlog.get_logger(__name__)

_Action = Callable[[], Coroutine[Any, Any, str]]

# What every adapter says at its command boundary, where the bot is not enabled, and to a question in a
# paused channel (in English; `i18n.translate("command.failed", language)` in another language).
COMMAND_FAILED = i18n.translate("command.failed", i18n.FALLBACK)
NOT_ENABLED = i18n.translate("command.not_enabled", i18n.FALLBACK)
PAUSED = i18n.translate("command.paused_here", i18n.FALLBACK)
# `mute` durations, as members pick them.
MUTE_DURATIONS: dict[str, int] = {"10m": 600, "1h": 3600, "1d": 86400, "1w": 604800}


class Right(enum.StrEnum):
    ANYONE = "anyone"
    OWNER = "owner"  # a moderator, or anyone in their own direct message with the bot
    MODERATOR = "moderator"


# Who may run each command: the one place this is decided.
RULES: dict[str, Right] = {
    "reset": Right.OWNER,
    "persona set": Right.OWNER,
    "persona clear": Right.OWNER,
    "persona show": Right.ANYONE,
    "forget-me": Right.ANYONE,
    "pause": Right.MODERATOR,
    "resume": Right.MODERATOR,
    "mute": Right.MODERATOR,
    "unmute": Right.MODERATOR,
    "usage": Right.ANYONE,
}


@dataclass(frozen=True, slots=True)
class CommandReply:
    """What to tell the member who ran a command."""

    text: str
    private: bool = True  # only the caller sees it
    done: bool = True  # False: refused or failed, nothing changed


@dataclass(frozen=True, slots=True, kw_only=True)
class Notation:
    """How a platform writes what a reply names (its markup); the sentences stay the core's."""

    moderators: str  # the catalog id of who moderates there, e.g. "command.moderators.slack"
    command: Callable[[str], str]  # "resume" → "`/relay resume`"
    channel: Callable[[ConversationKey], str] = lambda key: f"<#{key.channel}>"
    user: Callable[[str], str] = lambda user_id: user_id  # a platform user id → a mention
    time: Callable[[float], str] = lambda unix: f"{unix:.0f}"  # unix seconds → a (relative) time
    quote: Callable[[str], str] = lambda text: f" {text}"  # a persona shown after "Persona:"


class ConversationAdmin(Protocol):
    """What the commands change (ChatService implements it)."""

    async def reset(self, key: ConversationKey) -> None: ...
    async def get_persona(self, key: ConversationKey) -> str | None: ...
    async def set_persona(self, key: ConversationKey, persona: str | None) -> None: ...
    async def forget_user(self, user_id: str) -> int: ...
    async def forget_author(self, platform: Platform, author_id: str) -> int: ...
    async def pause(self, key: ConversationKey) -> None: ...
    async def resume(self, key: ConversationKey) -> None: ...
    async def mute(self, user_id: str, seconds: float) -> float: ...
    async def unmute(self, user_id: str) -> None: ...
    @property
    def budgets_enabled(self) -> bool: ...
    async def usage(self, msg: IncomingMessage) -> Usage: ...


def refusal(notation: Notation, language: str = i18n.FALLBACK) -> str:
    """What a member without the right to run a command is told."""
    return i18n.translate(
        "command.refused", language, moderators=i18n.translate(notation.moderators, language)
    )


def language_of(locale: str) -> str:
    """The catalog language of a platform locale: "ja", "zh-CN" → "zh", "en-US" → "en"."""
    return locale.split("-", 1)[0].split("_", 1)[0].lower() or i18n.FALLBACK


def _where(key: ConversationKey) -> str:
    return "thread" if key.thread else "channel"


class Commands:
    """The conversation-admin API. One per adapter (the notation is the platform's)."""

    def __init__(
        self, *, service: ConversationAdmin, notation: Notation, language: str = i18n.FALLBACK
    ) -> None:
        self._service = service
        self._notation = notation
        self._language = language

    def in_language(self, language: str) -> Commands:
        """The same commands, replying in `language` (English where the catalog has no such language)."""
        return Commands(service=self._service, notation=self._notation, language=language)

    def _say(self, notice_id: str, **fields: object) -> str:
        return i18n.translate(notice_id, self._language, **fields)

    @property
    def refused(self) -> str:
        return refusal(self._notation, self._language)

    def may(self, command: str, msg: IncomingMessage) -> bool:
        """Whether the caller of `msg` may run `command` (a key of `RULES`)."""
        right = RULES[command]
        if right is Right.ANYONE or msg.can_administer:
            return True
        return right is Right.OWNER and msg.is_direct

    async def reset(
        self, msg: IncomingMessage, *, threads: Callable[[], Awaitable[Iterable[str]]] | None = None
    ) -> CommandReply:
        """Forget this conversation. `threads`: where the platform keeps a channel's threads (Slack), what
        finds them (thread ids); they are forgotten with the channel, and the reply counts them."""

        async def run() -> str:
            if threads is None:
                await self._service.reset(msg.key)
                return self._say(f"command.reset.{_where(msg.key)}")
            found = list(await threads())
            await self._service.reset(msg.key)
            for ts in found:
                await self._service.reset(replace(msg.key, thread=ts))
            notice_id = "command.reset.threads.direct" if msg.is_direct else "command.reset.threads"
            return self._say(notice_id, count=len(found))

        return await self._run("reset", msg, run)

    async def persona_set(self, msg: IncomingMessage, text: str) -> CommandReply:
        async def run() -> str:
            await self._service.set_persona(msg.key, text)
            return self._say(f"command.persona_set.{_where(msg.key)}")

        return await self._run("persona set", msg, run)

    async def persona_clear(self, msg: IncomingMessage) -> CommandReply:
        async def run() -> str:
            await self._service.set_persona(msg.key, None)
            return self._say(f"command.persona_cleared.{_where(msg.key)}")

        return await self._run("persona clear", msg, run)

    async def persona_show(self, msg: IncomingMessage) -> CommandReply:
        """The persona used here: the conversation's own, else (in a thread) its channel's."""

        async def run() -> str:
            current = await self._service.get_persona(msg.key)
            inherited = False
            if current is None and msg.key.thread is not None:
                current = await self._service.get_persona(replace(msg.key, thread=None))
                inherited = current is not None
            if current is None:
                return self._say("command.persona.none")
            notice_id = "command.persona.inherited" if inherited else "command.persona.own"
            return self._say(notice_id, persona=self._notation.quote(current))

        return await self._run("persona show", msg, run)

    async def forget_me(self, msg: IncomingMessage, *, everywhere: bool = False) -> CommandReply:
        """Delete the caller's stored turns: as `msg.user_id` (this space), or with `everywhere` in every
        space of the platform the core has turns of theirs in (every Discord server and DMs)."""

        async def run() -> str:
            if everywhere:
                removed = await self._service.forget_author(msg.key.platform, msg.author_id)
            else:
                removed = await self._service.forget_user(msg.user_id)
            return self._say("command.forgotten", count=removed)

        return await self._run("forget-me", msg, run)

    async def pause(self, msg: IncomingMessage) -> CommandReply:
        async def run() -> str:
            await self._service.pause(msg.key)
            channel, resume = self._notation.channel(msg.key), self._notation.command("resume")
            return self._say("command.paused", channel=channel, resume=resume)

        return await self._run("pause", msg, run)

    async def resume(self, msg: IncomingMessage) -> CommandReply:
        async def run() -> str:
            await self._service.resume(msg.key)
            return self._say("command.resumed", channel=self._notation.channel(msg.key))

        return await self._run("resume", msg, run)

    async def mute(self, msg: IncomingMessage, user: str, duration: str) -> CommandReply:
        """Stop answering `user` (a platform user id, in this space) for `duration` (a `MUTE_DURATIONS`
        key; an unknown one is an hour)."""

        async def run() -> str:
            seconds = MUTE_DURATIONS.get(duration, 3600)
            until = await self._service.mute(self._member(msg, user), seconds)
            log.info("commands.muted", platform=msg.key.platform.value, space=msg.key.space, seconds=seconds)
            return self._say("command.muted", user=self._notation.user(user), when=self._notation.time(until))

        return await self._run("mute", msg, run)

    async def unmute(self, msg: IncomingMessage, user: str) -> CommandReply:
        async def run() -> str:
            await self._service.unmute(self._member(msg, user))
            return self._say("command.unmuted", user=self._notation.user(user))

        return await self._run("unmute", msg, run)

    async def usage(self, msg: IncomingMessage) -> CommandReply:
        """What the caller and their community have used of today's token budgets, and when they reset."""

        async def run() -> str:
            if not self._service.budgets_enabled:
                return self._say("command.usage.off")
            usage = await self._service.usage(msg)
            lines = [self._usage_line("member", usage.member_used, usage.member_limit, usage.member_left)]
            if usage.exempt:
                lines = [self._say("command.usage.exempt")]
            lines.append(
                self._usage_line(
                    "community", usage.community_used, usage.community_limit, usage.community_left
                )
            )
            lines.append(self._say("command.usage.resets", when=self._notation.time(usage.resets_at)))
            return "\n".join(lines)

        return await self._run("usage", msg, run)

    def _usage_line(self, scope: str, used: int, limit: int, left: int | None) -> str:
        if not limit:
            return self._say(f"command.usage.{scope}.unlimited", used=f"{used:,}")
        return self._say(
            f"command.usage.{scope}", used=f"{used:,}", limit=f"{limit:,}", left=f"{left or 0:,}"
        )

    @staticmethod
    def _member(msg: IncomingMessage, user: str) -> str:
        return scoped_user_id(msg.key.platform, msg.key.space, user)

    async def _run(self, command: str, msg: IncomingMessage, action: _Action) -> CommandReply:
        if not self.may(command, msg):
            log.info("commands.refused", command=command, platform=msg.key.platform.value)
            return CommandReply(self.refused, done=False)
        try:
            text = await action()
        except RelayError as exc:
            return CommandReply(exc.notice_in(self._language), done=False)
        return CommandReply(text)
