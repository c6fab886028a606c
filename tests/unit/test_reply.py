"""`StreamingReply` over an in-memory transport: the multi-message reconciliation every platform shares."""

from __future__ import annotations

import pytest

from core.errors import RateLimited, RelayError
from core.models import SinkLimits
from core.reply import DeliveryFailed, ReplyTransport, StreamingReply


class Board(ReplyTransport[int]):
    """Messages by number; `refuse` lists the actions that fail (non-fatal) and `fatal` those that end it."""

    def __init__(self, max_chars: int = 20) -> None:
        self.limits = SinkLimits(max_chars=max_chars, min_edit_interval_s=0.0)
        self.messages: dict[int, str] = {}
        self.refuse: set[str] = set()
        self.fatal: set[str] = set()
        self.calls: list[str] = []

    def _check(self, action: str) -> None:
        self.calls.append(action)
        if action in self.fatal:
            raise DeliveryFailed(f"{action} gone", fatal=True)
        if action in self.refuse:
            raise DeliveryFailed(f"{action} refused", fatal=False)

    async def post(self, text: str, *, notice: bool) -> int:
        self._check("post")
        assert text.strip()
        number = len(self.calls)
        self.messages[number] = text
        return number

    async def edit(self, message: int, text: str) -> None:
        self._check("edit")
        assert text.strip()
        self.messages[message] = text

    async def delete(self, message: int) -> None:
        self._check("delete")
        del self.messages[message]

    def visible(self) -> list[str]:
        return [self.messages[n] for n in sorted(self.messages)]


async def test_an_answer_grows_over_messages_and_shrinks_back() -> None:
    board = Board()
    reply = StreamingReply(board)
    await reply.update("one two three four five six seven")  # 33 characters: two messages
    assert len(board.visible()) == 2
    await reply.finish("one two")
    assert board.visible() == ["one two"]  # the second message is taken down


async def test_a_notice_replaces_every_message_and_blanks_what_cannot_be_deleted() -> None:
    board = Board()
    reply = StreamingReply(board)
    await reply.update("alpha beta gamma delta epsilon zeta eta theta")
    assert len(board.visible()) == 3
    board.refuse.add("delete")
    await reply.fail("Withheld.")
    assert board.visible() == ["Withheld.", "Withheld.", "Withheld."]  # the default blank is the notice


async def test_a_first_message_that_cannot_be_edited_is_taken_down_and_the_notice_posted() -> None:
    board = Board()
    reply = StreamingReply(board)
    await reply.update("alpha beta gamma delta epsilon")
    board.refuse.add("edit")
    await reply.fail("Withheld.")
    assert board.visible() == ["Withheld."]


async def test_a_failed_update_is_skipped_and_a_fatal_one_ends_the_answer_quietly() -> None:
    board = Board()
    reply = StreamingReply(board)
    await reply.update("first")
    board.refuse.add("edit")
    await reply.update("first and more")  # skipped: the next update carries newer text
    board.refuse.clear()
    board.fatal.add("edit")
    with pytest.raises(DeliveryFailed) as failed:
        await reply.finish("first and more text")
    assert failed.value.fatal and reply.dead
    calls = len(board.calls)
    await reply.fail("Sorry.")  # nothing more is attempted there
    assert len(board.calls) == calls and board.visible() == ["first"]


async def test_a_cooldown_notice_is_held_back_once_shown_but_other_notices_never() -> None:
    shown: list[str] = []

    async def once(error: RelayError) -> bool:
        first = type(error).__name__ not in shown
        shown.append(type(error).__name__)
        return first

    board = Board(max_chars=200)
    for _ in range(3):
        await StreamingReply(board, notice_gate=once).notify(RateLimited(retry_after_s=5), "Slow down.")
    await StreamingReply(board, notice_gate=once).notify(RelayError("boom"), "Sorry.")
    assert board.visible() == ["Slow down.", "Sorry."]


class AgingBoard(Board):
    """A board whose messages cannot be edited once older than `max_age_s` by its clock (Discord's hour):
    such an edit fails as `stale`, the way bots/discord/sink.py reports error 30046."""

    def __init__(self, *, max_chars: int = 40, max_age_s: float | None = 3600.0) -> None:
        super().__init__(max_chars)
        self.limits = SinkLimits(max_chars=max_chars, min_edit_interval_s=0.0, max_edit_age_s=max_age_s)
        self.now = 0.0
        self.born: dict[int, float] = {}
        self.hard_age_s = 3600.0  # the platform's own rule, whatever the reply believes

    async def post(self, text: str, *, notice: bool) -> int:
        number = await super().post(text, notice=notice)
        self.born[number] = self.now
        return number

    async def edit(self, message: int, text: str) -> None:
        if self.now - self.born[message] >= self.hard_age_s:
            self.calls.append("edit")
            raise DeliveryFailed("30046", fatal=False, stale=True)
        await super().edit(message, text)


async def test_an_answer_continues_in_a_new_message_once_its_message_is_too_old_to_edit() -> None:
    board = AgingBoard()
    reply = StreamingReply(board, clock=lambda: board.now)
    await reply.update("The first part")
    board.now = 3600.0  # an hour later (a slow model): no edit of the first message is attempted
    await reply.update("The first part, and then more")
    await reply.finish("The first part, and then more and the end.")
    assert board.visible() == ["The first part", ", and then more and the end."]
    assert board.calls.count("edit") == 1  # only the new message was edited
    # a notice still replaces everything: the old message is deleted, the new one becomes the notice
    await reply.fail("Withheld.")
    assert board.visible() == ["Withheld."]


async def test_a_refused_edit_of_an_old_message_continues_in_a_new_one() -> None:
    """The reply's clock does not know (max_edit_age_s unset): the platform's refusal is enough."""
    board = AgingBoard(max_age_s=None)
    reply = StreamingReply(board, clock=lambda: board.now)
    await reply.update("Alpha beta")
    board.now = 4000.0
    await reply.update("Alpha beta gamma")
    await reply.finish("Alpha beta gamma delta")
    assert board.visible() == ["Alpha beta", "gamma delta"]


async def test_frozen_messages_of_a_long_answer_keep_their_chunks() -> None:
    board = AgingBoard(max_chars=20)
    reply = StreamingReply(board, clock=lambda: board.now)
    await reply.update("one two three four five six seven")  # two messages
    shown = board.visible()
    assert len(shown) == 2
    board.now = 3600.0
    await reply.finish("one two three four five six seven eight nine")
    assert board.visible() == [*shown, "eight nine"]


async def test_an_answer_rewritten_under_frozen_messages_starts_over() -> None:
    board = AgingBoard()
    reply = StreamingReply(board, clock=lambda: board.now)
    await reply.update("Draft text")
    board.now = 3600.0
    await reply.finish("Something else entirely")
    assert board.visible() == ["Something else entirely"]
