"""`StreamingReply`: one answer streamed into a chat platform's messages, over a small `ReplyTransport`.

The core owns what a user sees of an answer; a platform adapter only says how to post, edit and delete one
message there, and how its text is rendered:

- the answer so far is split over the platform's limit (characters, and bytes where it counts bytes), with
  code fences balanced; each part is one message, edited in place when its text changed, new messages
  posted as the answer grows, and messages no longer needed taken down when it shrinks;
- nothing empty is ever posted or edited in;
- a notice (a blocked answer, a failure) replaces the answer: the first message becomes the notice and the
  others are deleted, or overwritten (`ReplyTransport.blank`) where the platform refuses to delete them;
  nothing of a withheld answer stays up;
- a cooldown notice (rate limited, muted) is shown once per cooldown when a `notice_gate` is given
  (core/gate.py `NoticeThrottle`);
- the transport reports a platform failure as `DeliveryFailed`: while streaming, a failed edit is skipped
  (the next update carries newer text); a fatal one (no permission, the answer or channel deleted) ends the
  answer, and nothing more is attempted there, not even the notice;
- with a write budget (`AnswerBudget`, core/write_budget.py), every write is spent there first: the answer's first
  message (its first text, or a placeholder) and the final text or notice wait for room; an update while
  streaming (the first text over a placeholder too) is skipped when the budget has no room for it (the next
  one carries newer text); a place for the final text is kept from the start (`typing`) and given back
  when the answer ends (`finish`, `fail`). A final text the messages already show costs no write (unless
  something rides on the last message: `ReplyTransport.final_edit_needed`).
- a message that can no longer be edited (older than `SinkLimits.max_edit_age_s` by this reply's clock, or
  refused by the platform as too old: `DeliveryFailed.stale`, Discord's error 30046) is frozen with what it
  shows, and the answer continues in new messages after it: the messages shown so far keep the text they
  cover, and only the rest of the answer is split over new ones. A notice still replaces everything
  (frozen messages are deleted, which the platform allows at any age).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

import structlog

from core.errors import Muted, RateLimited, RelayError
from core.gate import NoticeGate
from core.models import ReplySink, SinkLimits
from core.streaming import split_message
from core.write_budget import AnswerBudget, Priority

log = structlog.get_logger(__name__)

FALLBACK_NOTICE = "Something went wrong."
M = TypeVar("M")  # the platform's handle of one posted message
_T = TypeVar("_T")


class DeliveryFailed(RelayError):
    """The platform refused or lost a message of the answer; `fatal` when nothing more can be posted there
    (the core then stores nothing and shows no notice)."""

    notice = "Sorry, I couldn't post my answer. Please try again."
    notice_id = ""  # shown as is

    def __init__(self, message: str, *, fatal: bool, stale: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.stale = stale  # the message is too old to edit: continue the answer in a new message


class _Deferred(Exception):
    """An intermediate write the budget had no room for: the update is skipped."""


class ReplyTransport(Protocol[M]):
    """One platform's messages, for one answer. `post`, `edit` and `delete` raise `DeliveryFailed`; the
    other members have defaults (a class that subclasses `ReplyTransport` inherits them)."""

    limits: SinkLimits  # per message, and the cadence of edits

    async def post(self, text: str, *, notice: bool) -> M:
        """Post a new message of the answer (`notice`: the notice, with no message of the answer up)."""
        ...

    async def edit(self, message: M, text: str) -> None:
        """Replace the text of a message posted by `post`."""
        ...

    async def delete(self, message: M) -> None:
        """Take a message down (a message already gone counts as deleted)."""
        ...

    def render(self, markdown: str) -> str:
        """The model's Markdown in the platform's markup, before it is split (limits count rendered text)."""
        return markdown

    def blank(self, notice: str | None) -> str:
        """What a message shows that could not be deleted: after `notice` replaced the answer, or (None)
        when the answer got shorter."""
        return notice or "…"

    def render_notice(self, error: RelayError) -> str | None:
        """The notice for `error` worded for the platform; None keeps the core's wording."""
        return None

    async def typing(self) -> str | None:
        """Show that an answer is coming. Returns a placeholder to post when the platform has no indicator
        here (it becomes the answer's first message), else None."""
        return None

    async def stop_typing(self) -> None:
        """The first text is about to be posted, or the answer ended: stop the indicator."""
        return None

    def ref(self, message: M) -> str | None:
        """The platform's reference of a posted message, unique on the platform (`ReplySink.answer_refs`);
        None: its answers cannot be reported."""
        return None

    async def post_final(self, text: str) -> M:
        """Post the last message of a finished answer; a platform may add what belongs under an answer
        (Slack: the feedback buttons). Default: `post`."""
        return await self.post(text, notice=False)

    def final_edit_needed(self, text: str, *, changed: bool) -> bool:
        """Whether the finished answer's last message, already posted, needs a final write (`edit_final`)
        to show `text` (`changed`: it shows something else now). Default: only when changed; a platform
        that puts more than the text on the last message (Slack: the feedback buttons) says yes for it."""
        return changed

    async def edit_final(self, message: M, text: str, *, changed: bool) -> None:
        """Make `message` the last message of a finished answer, showing `text` (`changed`: it showed
        something else until now); called only when `final_edit_needed`. Default: `edit` when changed."""
        if changed:
            await self.edit(message, text)


class StreamingReply(ReplySink, Generic[M]):
    """A `ReplySink` over a `ReplyTransport`: the multi-message reconciliation, once for every platform."""

    def __init__(
        self,
        transport: ReplyTransport[M],
        *,
        notice_gate: NoticeGate | None = None,
        budget: AnswerBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.limits = transport.limits
        self._notice_gate = notice_gate
        self._budget = budget
        self._final = False  # finishing or failing: every write is a final one
        self._texted = False  # a text of the answer (not only a placeholder) was shown
        self._placeholder = False  # a placeholder was posted (a sign of life is up already)
        self._clock = clock
        self._messages: list[M] = []  # posted messages, in order
        self._shown: list[str] = []  # their current texts
        self._posted_at: list[float] = []  # when each was posted (`clock`)
        self._frozen = 0  # the first messages, which can no longer be edited: they keep what they show
        self._frozen_text = ""  # the rendered answer text those messages cover
        self._covered = ""  # the rendered text of the last update that reached every message
        self._typing = False
        self.dead = False  # nothing more can be posted (no permission; the answer or channel is gone)

    @property
    def sent(self) -> list[M]:
        """The messages of the answer that are up now."""
        return list(self._messages)

    @property
    def shown(self) -> list[str]:
        """What each of them shows now."""
        return list(self._shown)

    # ---------------------------------------------------------------- ReplySink

    def render_notice(self, error: RelayError) -> str | None:
        return self.transport.render_notice(error)

    async def typing(self) -> None:
        if self._typing or self._messages or self.dead:
            return
        self._typing = True
        placeholder = await self._guard(self.transport.typing())
        if self._budget is not None:
            await self._budget.open()  # a place kept for the final text from now on
        if placeholder and placeholder.strip() and not self._messages:
            await self._post(placeholder)
            self._placeholder = True

    async def update(self, text_so_far: str) -> None:
        try:
            await self._show(text_so_far)
        except _Deferred:
            log.debug("reply.update_deferred")  # the budget had no room: the next update carries newer text
        except DeliveryFailed as exc:
            if exc.fatal:
                raise
            log.warning("reply.update_skipped", reason=str(exc))  # the next update carries newer text

    async def finish(self, text: str) -> None:
        self._final = True
        try:
            await self._show(text, final=True)
        finally:
            await self.transport.stop_typing()
            await self._close_budget()

    def answer_refs(self) -> tuple[str, ...]:
        return tuple(ref for message in self._messages if (ref := self.transport.ref(message)))

    async def notify(self, error: RelayError, notice: str) -> None:
        if (
            not self._messages  # nothing posted that the notice would replace
            and isinstance(error, RateLimited | Muted)
            and self._notice_gate is not None
            and not await self._notice_gate(error)
        ):
            await self.transport.stop_typing()
            await self._close_budget()
            log.info("reply.notice_suppressed", reason=type(error).__name__)
            return
        await self.fail(notice)

    async def fail(self, notice: str) -> None:
        self._final = True
        try:
            await self._fail(notice)
        finally:
            await self._close_budget()

    async def _fail(self, notice: str) -> None:
        await self.transport.stop_typing()
        if self.dead:
            return
        notice = self.transport.render(notice.strip() or FALLBACK_NOTICE).strip() or FALLBACK_NOTICE
        if not self._messages:
            await self._post(notice, notice=True)
            return
        # The answer shown so far is replaced: the others go (newest first: the newest text is the likeliest
        # to be what was withheld), then the first message becomes the notice.
        for index in range(len(self._messages) - 1, 0, -1):
            await self._take_down(index, notice)
        try:
            await self._edit(0, notice)
        except DeliveryFailed as exc:
            # The first message still shows part of the answer: take it down, post the notice instead.
            log.warning("reply.notice_edit_failed", reason=str(exc))
            await self._take_down(0, notice)
            if not self.dead:
                await self._post(notice, notice=True)

    # ---------------------------------------------------------------- internals

    async def _close_budget(self) -> None:
        """The answer ended: give back the places its budget kept for its final text."""
        if self._budget is not None:
            await self._budget.close()

    async def _show(self, markdown: str, *, final: bool = False) -> None:
        if self.dead:
            return
        rendered = self.transport.render(markdown)
        max_age = self.transport.limits.max_edit_age_s
        now = self._clock()
        if max_age is not None and any(now - t >= max_age for t in self._posted_at[self._frozen :]):
            self._freeze("too_old")
        try:
            await self._reconcile(rendered, final=final)
        except DeliveryFailed as exc:
            if not exc.stale or self._frozen == len(self._messages):
                raise
            self._freeze("refused")  # the platform says a message is too old to edit: keep them as they are
            await self._reconcile(rendered, final=final)

    def _freeze(self, reason: str) -> None:
        """Every message shown so far keeps its text; the rest of the answer goes into new messages."""
        log.info("reply.continued_in_new_message", reason=reason, frozen=len(self._messages))
        self._frozen, self._frozen_text = len(self._messages), self._covered

    async def _reconcile(self, rendered: str, *, final: bool = False) -> None:
        """Show `rendered` over the messages after the frozen ones: edit, post and take down as needed."""
        if self._frozen and not rendered.startswith(self._frozen_text):
            # The answer changed under messages that cannot be edited: they go (deleting works at any age);
            # one the platform would not delete stays, frozen, in front of the new ones.
            for index in range(self._frozen - 1, -1, -1):
                await self._take_down(index, None)
            self._frozen_text = ""
        base = self._frozen
        limits = self.transport.limits
        rest = rendered[len(self._frozen_text) :]
        chunks = split_message(rest, max_chars=limits.max_chars, max_bytes=limits.max_bytes)
        chunks = [c for c in chunks if c.strip()]  # platforms reject empty messages
        if not chunks:  # nothing to show: keep what is shown
            return
        last = base + len(chunks) - 1
        for i, chunk in enumerate(chunks, start=base):
            if final and i == last:  # the finished answer's last message
                if i < len(self._messages):
                    changed = self._shown[i] != chunk
                    # A final write (it may carry more than the text, e.g. buttons); none, and nothing spent
                    # or waited for, when the message already shows the final text and nothing rides on it.
                    if self.transport.final_edit_needed(chunk, changed=changed):
                        await self._spend("edit")
                        await self._guard(
                            self.transport.edit_final(self._messages[i], chunk, changed=changed)
                        )
                        self._shown[i] = chunk
                else:
                    await self._post(chunk, final=True)
            elif i < len(self._messages):
                if self._shown[i] != chunk:
                    await self._edit(i, chunk)
            else:
                await self._post(chunk)
            self._texted = True
        # the text needs fewer messages
        for index in range(len(self._messages) - 1, base + len(chunks) - 1, -1):
            await self._take_down(index, None)
        self._covered = rendered

    async def _spend(self, write: str, *, first: bool = False) -> None:
        """Spend one write of the budget; an intermediate write without room raises `_Deferred`."""
        if self._budget is None:
            return
        priority = Priority.FINAL if self._final else Priority.FIRST if first else Priority.INTERMEDIATE
        if not await self._budget.spend(write, priority):
            raise _Deferred

    async def _post(self, text: str, *, notice: bool = False, final: bool = False) -> None:
        await self._spend("post", first=not self._messages)
        if not self._messages:
            await self.transport.stop_typing()  # no typing request lands after the first message
        posting = self.transport.post_final(text) if final else self.transport.post(text, notice=notice)
        message = await self._guard(posting)
        self._messages.append(message)
        self._shown.append(text)
        self._posted_at.append(self._clock())

    async def _edit(self, index: int, text: str) -> None:
        if index < self._frozen:
            raise DeliveryFailed("message too old to edit", fatal=False, stale=True)
        # The first text replacing a placeholder is an intermediate edit: the placeholder already shows that
        # the answer is coming, and the final text has its place kept.
        await self._spend("edit", first=not self._texted and not self._placeholder)
        await self._guard(self.transport.edit(self._messages[index], text))
        self._shown[index] = text

    async def _take_down(self, index: int, notice: str | None) -> None:
        """Delete message `index`; where the platform refuses, overwrite it with `transport.blank(notice)`
        (it then stays in the list, showing that text)."""
        await self._spend("delete")
        try:
            await self.transport.delete(self._messages[index])
        except DeliveryFailed as exc:
            log.warning("reply.delete_failed", reason=str(exc))
            blank = self.transport.blank(notice)
            try:
                if self._shown[index] != blank:
                    await self._spend("edit")
                    await self.transport.edit(self._messages[index], blank)
                    self._shown[index] = blank
            except DeliveryFailed as exc2:
                log.warning("reply.blank_failed", reason=str(exc2))
            return
        del self._messages[index], self._shown[index], self._posted_at[index]
        if index < self._frozen:
            self._frozen -= 1

    async def _guard(self, call: Awaitable[_T]) -> _T:
        """Await a transport call; a fatal failure marks the reply dead."""
        try:
            return await call
        except DeliveryFailed as exc:
            if exc.fatal:
                self.dead = True
            raise
