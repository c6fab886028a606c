"""Frozen value types shared by the core and the platform adapters (docs/architecture.md).

Nothing here does I/O. Adapters build `IncomingMessage`s with their pure `to_incoming()` translators and
implement `ReplySink`; the core stores `Exchange`s (a user turn and the assistant turn that answered it,
stored together so that a turn is kept whole or not at all).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

if TYPE_CHECKING:
    from core.errors import RelayError


class Platform(enum.StrEnum):
    DISCORD = "discord"
    SLACK = "slack"
    CONSOLE = "console"


class Role(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


def _part(value: str) -> str:
    # Ids never contain ':' on Discord or Slack, but console channel names might; '{' and '}' would
    # break Redis Cluster hash tags.
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Identifies one conversation: a channel, a Slack thread, or a DM."""

    platform: Platform
    space: str  # Discord guild id ("@dm" for DMs), Slack team id, "local" for the console
    channel: str
    thread: str | None = None  # Slack thread_ts; a Discord thread id (channel: its parent)

    @property
    def id(self) -> str:
        """Stable, escaped identifier, e.g. ``discord:123:456:-``; used inside Redis key names."""
        thread = _part(self.thread) if self.thread else "-"
        return f"{self.platform.value}:{_part(self.space)}:{_part(self.channel)}:{thread}"

    @property
    def channel_id(self) -> str:
        """The channel part only (threads of one channel share it): for pause and rate limits."""
        return f"{self.platform.value}:{_part(self.space)}:{_part(self.channel)}"


def scoped_user_id(platform: Platform, space: str, author_id: str) -> str:
    """A user as the core knows them (mutes, forget-me, per-user limits): scoped to platform and space."""
    return f"{platform.value}:{_part(space)}:{_part(author_id)}"


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    key: ConversationKey
    message_id: str  # platform id; Slack event_id for dedupe
    author_id: str
    author_name: str  # display name; the model sees "name: text" in shared channels
    text: str  # mentions resolved to names, platform markup normalized
    is_direct: bool = False
    can_administer: bool = False  # may change this channel's settings
    adult_channel: bool = False  # Discord age-restricted channel: policy may relax some categories

    @property
    def user_id(self) -> str:
        """The author, scoped to platform and space: ids from two workspaces never collide."""
        return scoped_user_id(self.key.platform, self.key.space, self.author_id)


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    text: str
    tokens: int  # tokens of this turn's rendered ChatML segment, counted once when it was made
    author_id: str | None = None
    author_name: str | None = None


@dataclass(frozen=True, slots=True)
class Exchange:
    """One stored unit of history: the user's turn and the assistant turn that answered it."""

    user: Turn
    assistant: Turn
    message_id: str
    created_at: float  # unix seconds
    # How many stored exchanges before this one its prompt held (core/window.py); None: not recorded.
    context: int | None = None
    # The platform messages that showed the answer (`ReplySink.answer_refs`): a member who reports one of
    # them is led back to this exchange (core/reports.py).
    answer_refs: tuple[str, ...] = ()

    @property
    def tokens(self) -> int:
        return self.user.tokens + self.assistant.tokens


class Action(enum.StrEnum):
    ALLOW = "allow"
    FLAG = "flag"  # answer, but record for moderators
    BLOCK = "block"


class Stage(enum.StrEnum):
    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    category: str | None = None
    layer: str | None = None
    score: float | None = None
    notice: str | None = None  # what the user sees when the action is BLOCK
    language: str | None = None  # of the text checked (ISO 639, "und"); None when nothing detected it
    # Allowed, but the answer check's score is at or above the hold level (`output_hold_threshold`): strict
    # streaming shows nothing more of a partial answer for now.
    hold: bool = False

    @property
    def blocked(self) -> bool:
        return self.action is Action.BLOCK


ALLOW = Verdict(Action.ALLOW)


@dataclass(frozen=True, slots=True)
class SinkLimits:
    max_chars: int  # per message, in characters
    min_edit_interval_s: float  # at most one visible update per interval
    max_bytes: int | None = None  # per message, in UTF-8 bytes, where the platform counts bytes (Slack)
    # A message older than this can no longer be edited (Discord: an hour); the answer continues in a new one.
    max_edit_age_s: float | None = None


class ReplySink(Protocol):
    """Where one answer goes. Implemented in bots/ (over a `core.reply.ReplyTransport`, or directly),
    called by the core. `typing`, `update`, `finish` and `fail` are required; `render_notice` and `notify`
    have defaults, which a class that subclasses `ReplySink` inherits."""

    limits: SinkLimits  # per message, and the cadence of updates

    async def typing(self) -> None:
        """Show that an answer is coming (typing indicator, status, placeholder)."""

    async def update(self, text_so_far: str) -> None:
        """Show the answer so far (already checked by the moderator)."""

    async def finish(self, text: str) -> None:
        """Show the final answer, split over the platform's length limits."""

    async def fail(self, notice: str) -> None:
        """Replace whatever was shown so far with a short notice."""

    def render_notice(self, error: RelayError) -> str | None:
        """The notice for `error` worded for the platform (e.g. a Discord timestamp counting down to the
        end of a cooldown); None keeps the core's wording (`error.notice_in(error.language)`)."""
        return None

    async def notify(self, error: RelayError, notice: str) -> None:
        """Show `notice` (`render_notice`'s wording, else the core's) for a message refused or failed with
        `error`. The default is `fail(notice)`; a sink may hold back a cooldown notice already shown."""
        await self.fail(notice)

    def answer_refs(self) -> tuple[str, ...]:
        """The platform's references of the messages that show the finished answer (a Discord message id,
        a Slack `channel:ts`), unique on the platform: the core indexes them with the exchange, so that a
        member's report of one of them finds the request and the answer. Default: none (not reportable)."""
        return ()


class Outcome(enum.StrEnum):
    """How one incoming message ended; a bounded label for logs and metrics."""

    ANSWERED = "answered"
    IGNORED = "ignored"  # empty text, paused channel
    DUPLICATE = "duplicate"
    RATE_LIMITED = "rate_limited"
    MUTED = "muted"
    OVER_BUDGET = "over_budget"  # the member's or the community's daily token budget is spent
    TOO_LONG = "too_long"
    BLOCKED_INPUT = "blocked_input"
    BLOCKED_OUTPUT = "blocked_output"
    BUSY = "busy"
    CUT_OFF = "cut_off"
    INTERRUPTED = "interrupted"  # shutdown's grace period ended before the answer did
    FAILED = "failed"


@dataclass(slots=True)
class HandleResult:
    """What `ChatService.handle` reports back to the adapter (and to tests)."""

    outcome: Outcome
    text: str = ""  # the answer as delivered, or the notice
    verdicts: list[Verdict] = field(default_factory=list)
