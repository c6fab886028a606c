"""`/dolphin`: a small parser that maps each subcommand to core/commands.py (which authorizes and words the
reply), and `/dolphin ask`, which opens a thread like a mention's."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog
from slack_sdk.errors import SlackApiError

from bots.slack.sink import SlackTransport, slack_error
from bots.slack.translate import clean_text, conversation_key, escape, installation_space
from core.commands import COMMAND_FAILED, NOT_ENABLED, PAUSED, CommandReply, Commands, Notation, refusal
from core.errors import RelayError
from core.models import IncomingMessage, Outcome
from core.reply import StreamingReply

if TYPE_CHECKING:
    from bots.slack.app import SlackRelay

log = structlog.get_logger(__name__)

HELP = (
    "*/dolphin* commands: `ask QUESTION` · `persona show` · `usage` · `forget-me` · `help` — and, for workspace admins "
    "and configured admins: `reset` · `persona set TEXT` · `persona clear` · `pause` · `resume` (they change "
    "this channel for everyone; in a direct message with me, `reset` and `persona` are yours)."
)
CANNOT_POST = (
    "I can't post in this conversation. Invite me first (`/invite @{name}`), or ask me in a direct message."
)


def slack_date(unix_s: float) -> str:
    """A date Slack shows in each reader's own time zone (`<!date^…>`), with a UTC fallback text."""
    fallback = dt.datetime.fromtimestamp(unix_s, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(unix_s)}^{{date_short_pretty}} {{time}}|{fallback}>"


# The core words the command replies (core/commands.py); this is how Slack writes what they name.
NOTATION = Notation(
    moderators="command.moderators.slack",
    command=lambda name: f"`/dolphin {name}`",
    user=lambda user_id: f"<@{user_id}>",
    time=slack_date,
    quote=lambda text: "".join(f"\n> {escape(line)}" for line in text.splitlines() if line.strip()),
)
NOT_ADMIN = refusal(NOTATION)

_CANNOT_POST_ERRORS = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}


class _AskSink(StreamingReply[str]):
    """`/dolphin ask`: the question is shown in the thread's first message only once it has passed the gate
    and the input check (that is when the core calls `typing()`)."""

    def __init__(self, transport: SlackTransport, *, reveal: Callable[[], Awaitable[None]]) -> None:
        super().__init__(transport)
        self._reveal = reveal
        self.revealed = False

    async def typing(self) -> None:
        try:
            await self._reveal()
            self.revealed = True
        except SlackApiError as exc:
            log.warning("slack.ask_reveal_failed", error=slack_error(exc))
        await super().typing()


class SlashCommand:
    """`/dolphin`, answered for one `SlackRelay` (its access lists, users, threads and answers)."""

    def __init__(self, relay: SlackRelay, *, commands: Commands) -> None:
        self._relay = relay
        self._commands = commands

    async def run_command(self, command: dict[str, Any], respond: Callable[..., Awaitable[Any]]) -> None:
        """One slash command; every outcome is an ephemeral reply through the command's response_url (which
        works in any conversation, even one the bot is not in)."""

        async def reply(text: str) -> None:
            try:
                await respond(text=text, response_type="ephemeral")
            except Exception as exc:  # the response_url expired or is unreachable: nothing more to do
                log.warning("slack.respond_failed", error=type(exc).__name__)

        try:
            await self._command(command, reply)
        except RelayError as exc:
            await reply(exc.notice)
        except SlackApiError as exc:
            log.warning("slack.command_failed", error=slack_error(exc))
            await reply(COMMAND_FAILED)
        except Exception as exc:  # the command's boundary: logged with context, a fixed notice
            log.exception("slack.command_error", error=type(exc).__name__)
            await reply(COMMAND_FAILED)

    async def _command(self, command: dict[str, Any], reply: Callable[[str], Awaitable[None]]) -> None:
        """`/dolphin SUBCOMMAND …` mapped to core/commands.py, which authorizes and words the reply."""
        team = installation_space(command)
        channel = str(command.get("channel_id", ""))
        user = str(command.get("user_id", ""))
        sub, _, rest = str(command.get("text", "")).strip().partition(" ")
        sub, rest = sub.lower(), rest.strip()
        action, _, persona_text = rest.partition(" ")
        if sub == "ask" and rest:
            await self._ask(command, team=team, channel=channel, user=user, question=rest, reply=reply)
            return
        subcommands: dict[tuple[str, str], Callable[[IncomingMessage], Awaitable[CommandReply]]] = {
            ("reset", ""): lambda m: self._commands.reset(
                m, threads=lambda: self._relay.threads.members(team, channel)
            ),
            ("persona", "clear"): self._commands.persona_clear,
            ("persona", "show"): self._commands.persona_show,
            ("forget-me", ""): self._commands.forget_me,
            ("usage", ""): self._commands.usage,
            ("pause", ""): self._commands.pause,
            ("resume", ""): self._commands.resume,
        }
        if persona_text.strip():
            text = clean_text(persona_text, bot_user_id=None)
            subcommands["persona", "set"] = lambda m: self._commands.persona_set(m, text)
        run = subcommands.get((sub, action.lower() or "show") if sub == "persona" else (sub, ""))
        if run is None:
            await reply(HELP)
            return
        msg = IncomingMessage(
            key=conversation_key(team, channel, None),
            message_id=f"cmd:{command.get('trigger_id') or time.time_ns()}",
            author_id=user,
            author_name=str(command.get("user_name") or user),
            text="",
            is_direct=channel.startswith("D"),  # a direct message with the bot: the caller's own
            can_administer=await self._relay.is_admin(user),
        )
        await reply((await run(msg)).text)

    async def _ask(
        self,
        command: dict[str, Any],
        *,
        team: str,
        channel: str,
        user: str,
        question: str,
        reply: Callable[[str], Awaitable[None]],
    ) -> None:
        """`/dolphin ask`: a thread like a mention's. Its first message names who asked; the question appears
        in it once the core has let it through, and the answer streams below it."""
        direct = channel.startswith("D")
        if not self._relay.allowed(channel, user, direct=direct):
            await reply(NOT_ENABLED)
            return
        if await self._relay.core.service.is_paused(conversation_key(team, channel, None)):
            await reply(PAUSED)
            return
        found = await self._relay.users.get(user)
        name = found.name if found else str(command.get("user_name") or user)
        text = clean_text(question, bot_user_id=None)
        header = f"*{escape(name)}* asked {escape(self._relay.bot_name)}"
        try:
            parent = await self._relay.client.chat_postMessage(
                channel=channel, text=f"{header}…", unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as exc:
            if slack_error(exc) in _CANNOT_POST_ERRORS:
                await reply(CANNOT_POST.format(name=self._relay.bot_name))
                return
            raise
        thread_ts = str(parent["ts"])
        quoted = "\n".join(f"> {escape(line)}" for line in text.splitlines() if line.strip())

        async def reveal() -> None:
            await self._relay.client.chat_update(channel=channel, ts=thread_ts, text=f"{header}:\n{quoted}")

        msg = IncomingMessage(
            key=conversation_key(team, channel, thread_ts),
            message_id=f"cmd:{command.get('trigger_id') or time.time_ns()}",
            author_id=user,
            author_name=name,
            text=text,
            is_direct=direct,
            can_administer=self._relay.core.service.budgets_enabled and await self._relay.is_admin(user),
        )
        sink = _AskSink(self._relay.transport(channel, thread_ts), reveal=reveal)
        result = await self._relay.answer(msg, channel=channel, thread_ts=thread_ts, sink=sink)
        try:
            if result.outcome in (Outcome.IGNORED, Outcome.DUPLICATE):  # nothing to show: no empty thread
                await self._relay.client.chat_delete(channel=channel, ts=thread_ts)
            elif not sink.revealed:  # refused before the question was shown (blocked, rate limited, …)
                await self._relay.client.chat_update(
                    channel=channel, ts=thread_ts, text=f"{header} a question."
                )
        except SlackApiError as exc:
            log.warning("slack.ask_parent_failed", error=slack_error(exc))
