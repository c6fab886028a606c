"""The input guard check overlapping the start of the answer, to hide its latency (docs/moderation.md,
"How a message is checked").

The moderator here holds its final input verdict until the test releases it, so each test can look at
what the user saw and what was stored while the answer was already being generated."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Literal

import pytest

from core.alignment.base import InputCheck, Moderator
from core.builder import build_service, code_settings
from core.errors import Busy, ModerationUnavailable
from core.llm import GenerationParams, StreamEvent
from core.models import ALLOW, Action, IncomingMessage, Outcome, Verdict
from core.service import ChatService
from core.settings import AlignmentSettings
from tests.fakes.memory import MemoryGate, MemoryStore, RecordingSink, Script, ScriptedGenerator, WordCounter
from tests.unit.test_service import KEY, message

BLOCK = Verdict(Action.BLOCK, category="S9", layer="guard", notice="I can't help with weapons.")


class HeldGuard(Moderator):
    """Local layers allow at once; the guard's verdict is whatever the test sets on `verdict`."""

    def __init__(self) -> None:
        self.verdict: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self.checks = 0

    async def check_input(self, msg: IncomingMessage) -> Verdict:
        return await self._guard()

    async def begin_input(self, msg: IncomingMessage) -> InputCheck:
        return InputCheck(ALLOW, self._guard())

    async def _guard(self) -> Verdict:
        self.checks += 1
        return await self.verdict

    async def check_output(self, msg: IncomingMessage, text: str, *, final: bool) -> Verdict:
        return ALLOW


class WatchedGenerator(ScriptedGenerator):
    """Records how many events each stream yielded and whether it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.yielded = 0
        self.closed = 0
        self.started = asyncio.Event()

    async def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[StreamEvent]:
        self.started.set()
        try:
            async for event in super().stream(prompt, params):
                self.yielded += 1
                yield event
        finally:
            self.closed += 1


def setup(
    stream_mode: Literal["strict", "relaxed"] = "strict",
) -> tuple[ChatService, HeldGuard, WatchedGenerator, MemoryStore]:
    guard, generator, store = HeldGuard(), WatchedGenerator(), MemoryStore()
    service = build_service(
        code_settings(alignment=AlignmentSettings(stream_mode=stream_mode)),
        store=store,
        gate=MemoryGate(),
        generator=generator,
        counter=WordCounter(),
        moderator=guard,
    )
    return service, guard, generator, store


LONG = Script([f" word{i}" for i in range(400)], delay_s=0.002)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):  # 2 s
        if condition():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("the condition never held")


async def test_a_block_after_generation_started_shows_nothing_stores_nothing_and_closes_the_stream() -> None:
    service, guard, generator, store = setup()
    generator.enqueue(LONG)
    sink = RecordingSink()
    handling = asyncio.create_task(service.handle(message("is this a weapon question?"), sink))
    await until(lambda: generator.yielded >= 50)  # the answer is well under way (>80 characters)
    assert sink.events == []  # not even the typing indicator
    assert store.data == {}
    guard.verdict.set_result(BLOCK)
    result = await handling
    assert result.outcome is Outcome.BLOCKED_INPUT
    assert sink.events == [("fail", "I can't help with weapons.")]
    assert generator.closed == 1 and generator.yielded < 400  # the stream was closed, not read to its end
    assert store.data == {}


async def test_an_allow_releases_what_was_generated_meanwhile() -> None:
    service, guard, generator, store = setup()
    generator.enqueue(Script(["Dolphins", " sleep", " with", " half", " their", " brain."]))
    sink = RecordingSink()
    handling = asyncio.create_task(service.handle(message("how do dolphins sleep?"), sink))
    await until(lambda: generator.closed == 1)  # the whole answer arrived before the verdict
    await asyncio.sleep(0.02)
    assert sink.events == [] and store.data == {}
    guard.verdict.set_result(ALLOW)
    result = await handling
    assert result.outcome is Outcome.ANSWERED
    assert sink.events == [("typing", ""), ("finish", "Dolphins sleep with half their brain.")]
    assert store.data[KEY][0].assistant.text == "Dolphins sleep with half their brain."


async def test_updates_start_once_the_verdict_allows() -> None:
    service, guard, generator, store = setup()
    generator.enqueue(LONG)
    sink = RecordingSink()
    handling = asyncio.create_task(service.handle(message("tell me a long story"), sink))
    await until(lambda: generator.yielded >= 50)
    assert sink.events == []
    guard.verdict.set_result(ALLOW)
    result = await handling
    assert result.outcome is Outcome.ANSWERED
    kinds = [kind for kind, _ in sink.events]
    assert kinds[0] == "typing" and "update" in kinds and kinds[-1] == "finish"
    assert len(store.data[KEY]) == 1


async def test_a_check_that_fails_closed_cancels_the_answer() -> None:
    service, guard, generator, store = setup()
    generator.enqueue(LONG)
    sink = RecordingSink()
    handling = asyncio.create_task(service.handle(message("hello"), sink))
    await until(lambda: generator.yielded >= 10)
    guard.verdict.set_exception(ModerationUnavailable("guard layer failed: GuardError"))
    result = await handling
    assert result.outcome is Outcome.FAILED
    assert sink.events == [("fail", ModerationUnavailable.notice)]
    assert generator.closed == 1 and store.data == {}


@pytest.mark.parametrize(("verdict", "notice"), [(BLOCK, "I can't help with weapons."), (ALLOW, Busy.notice)])
async def test_a_generation_that_fails_before_the_verdict_waits_for_it(verdict: Verdict, notice: str) -> None:
    """A block is what the user must hear, even when the model failed first; else the model's failure."""
    service, guard, generator, store = setup()
    generator.enqueue(Script([], error=Busy("overloaded")))
    sink = RecordingSink()
    handling = asyncio.create_task(service.handle(message("hello"), sink))
    await until(lambda: generator.closed == 1)
    await asyncio.sleep(0.02)
    assert sink.events == []
    guard.verdict.set_result(verdict)
    result = await handling
    assert sink.events[-1] == ("fail", notice) and sink.of("update") == sink.of("finish") == []
    assert result.outcome is (Outcome.BLOCKED_INPUT if verdict.blocked else Outcome.BUSY)
    assert store.data == {}


async def test_shutdown_during_the_overlap_cancels_both_and_leaves_no_task_behind() -> None:
    service, _guard, generator, store = setup()
    generator.enqueue(LONG)
    sink = RecordingSink()
    handling = asyncio.create_task(service.handle(message("hello"), sink))
    await until(lambda: generator.yielded >= 10)
    before = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
    handling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handling
    assert generator.closed == 1 and store.data == {}
    assert sink.of("update") == [] and sink.of("finish") == []
    leftover = {t for t in before if not t.done()} - {handling}
    assert leftover == set()


async def test_the_first_visible_text_does_not_wait_an_edit_interval() -> None:
    """Text held back (the newest 80 characters) is not published: a publish that shows nothing must not
    spend the platform's edit interval, or the first words appear one interval late."""
    service, guard, generator, _store = setup("relaxed")
    guard.verdict.set_result(ALLOW)
    generator.enqueue(Script([f" word{i}" for i in range(60)], delay_s=0.001))  # ~20 tokens pass 80 chars
    # An edit interval longer than the answer: only the first publish can show anything while it streams. Had
    # a publish that shows nothing spent it, nothing would be shown before the final text.
    sink = RecordingSink(min_edit_interval_s=3600.0)
    await service.handle(message("tell me a story"), sink)
    (first,) = sink.of("update")
    assert first.startswith("word0") and len(first) < 80  # the first words, once there are 80 characters more
