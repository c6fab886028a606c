"""Write budgets (core/write_budget.py) over a real Redis: shared by processes, final texts before intermediate edits,
notices never starved, a Redis outage budgeted locally; and `StreamingReply` spending its writes there."""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from core.models import SinkLimits
from core.observability import Metrics
from core.reply import ReplyTransport, StreamingReply
from core.write_budget import AnswerBudget, LocalWindows, Priority, Window, WriteBudget
from tests.ports import refused_port


def window(name: str, limit: int, *, soft: int | None = None, reserve: bool = False) -> Window:
    # A minute-long window: nothing leaves it while a test runs.
    return Window(name, f"test:wb:{{s}}:{name}", limit, 60.0, intermediate_limit=soft, reserve=reserve)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_two_processes_share_one_window(redis_url: str) -> None:
    a_client, b_client = aioredis.from_url(redis_url), aioredis.from_url(redis_url)  # two replicas' clients
    try:
        a, b = WriteBudget(redis=a_client), WriteBudget(redis=b_client)
        w = window("shared", 4)
        started = time.monotonic()
        for budget in (a, b, a, b):
            assert (await budget.try_spend("slack", [w], Priority.FIRST, answer="x")).granted
        refused = await b.try_spend("slack", [w], Priority.FINAL, answer="x")
        assert not refused.granted
        # room again once the oldest write leaves the minute (however long the writes took on a busy machine)
        assert 60 - (time.monotonic() - started) - 0.1 < refused.wait_s <= 60.3
        assert refused.used == (4,)
    finally:
        await a_client.aclose()
        await b_client.aclose()


async def test_intermediate_edits_leave_room_for_every_streaming_answers_final(
    redis_client: aioredis.Redis,
) -> None:
    budget = WriteBudget(redis=redis_client)
    w = window("edits", 10, reserve=True)
    answers = ["a", "b", "c"]
    for answer in answers:  # each answer's first text: it now holds a place for its final text
        assert (await budget.try_spend("slack", [w], Priority.FIRST, answer=answer)).granted
    intermediate = 0
    while (await budget.try_spend("slack", [w], Priority.INTERMEDIATE, answer="a")).granted:
        intermediate += 1
    assert intermediate == 4  # 10 - 3 first texts - 3 places kept for the final texts
    for answer in answers:
        assert (await budget.try_spend("slack", [w], Priority.FINAL, answer=answer)).granted
    assert not (
        await budget.try_spend("slack", [w], Priority.FINAL, answer="d")
    ).granted  # the window is full


async def test_an_answer_that_started_keeps_a_place_for_its_final_text_before_it_writes(
    redis_client: aioredis.Redis,
) -> None:
    budget = WriteBudget(redis=redis_client)
    w = window("opened", 3, reserve=True)
    assert (await budget.try_spend("slack", [w], Priority.FIRST, answer="a")).granted
    opened = await budget.try_spend("slack", [w], Priority.OPEN, answer="b")  # b starts: writes nothing
    assert opened.granted and opened.used == (1,)
    assert not (await budget.try_spend("slack", [w], Priority.INTERMEDIATE, answer="a")).granted
    for answer in ("b", "a"):  # both final texts find their place
        assert (await budget.try_spend("slack", [w], Priority.FINAL, answer=answer)).granted


async def test_intermediate_writes_stay_under_their_share(redis_client: aioredis.Redis) -> None:
    budget = WriteBudget(redis=redis_client)
    w = window("global", 10, soft=8)
    granted = [
        (await budget.try_spend("discord", [w], Priority.INTERMEDIATE, answer=str(i))).granted
        for i in range(10)
    ]
    assert granted == [True] * 8 + [False] * 2
    assert (await budget.try_spend("discord", [w], Priority.FIRST, answer="new")).granted  # kept for them


async def test_a_notice_is_never_starved(redis_client: aioredis.Redis) -> None:
    metrics = Metrics(CollectorRegistry())
    budget = WriteBudget(redis=redis_client, metrics=metrics)
    w = window("full", 1)
    assert (await budget.try_spend("slack", [w], Priority.FIRST, answer="a")).granted
    answer = AnswerBudget(
        budget, platform="slack", windows=lambda _write: (w,), max_wait_s=0.2, metrics=metrics
    )
    assert not await answer.spend("edit", Priority.INTERMEDIATE)  # an edit is skipped
    assert await answer.spend("post", Priority.FINAL)  # the notice goes after the longest wait, regardless
    labels = {"platform": "slack", "write": "post", "priority": "final", "outcome": "overdrawn"}
    assert sample(metrics, "dolphin_relay_platform_writes_total", **labels) == 1
    assert sample(metrics, "dolphin_relay_write_budget_used", platform="slack", window="full") == 1
    assert sample(metrics, "dolphin_relay_write_budget_limit", platform="slack", window="full") == 1


async def test_without_redis_each_process_budgets_alone_and_counts_it() -> None:
    dead = aioredis.from_url(f"redis://127.0.0.1:{refused_port()}/0", socket_connect_timeout=0.2)
    metrics = Metrics(CollectorRegistry())
    try:
        budget = WriteBudget(redis=dead, metrics=metrics)
        w = window("local", 2)
        spent = [
            (await budget.try_spend("discord", [w], Priority.FIRST, answer="a")).granted for _ in range(3)
        ]
        assert spent == [True, True, False]  # answers go on; the limit still holds in this process
        assert sample(metrics, "dolphin_relay_write_budget_fallbacks_total", platform="discord") == 1
    finally:
        await dead.aclose()


class Board(ReplyTransport[int]):
    def __init__(self) -> None:
        self.limits = SinkLimits(max_chars=100, min_edit_interval_s=0.0)
        self.messages: dict[int, str] = {}
        self.calls: list[tuple[str, str]] = []

    async def post(self, text: str, *, notice: bool) -> int:
        self.calls.append(("post", text))
        self.messages[len(self.messages)] = text
        return len(self.messages) - 1

    async def edit(self, message: int, text: str) -> None:
        self.calls.append(("edit", text))
        self.messages[message] = text

    async def delete(self, message: int) -> None:
        self.calls.append(("delete", ""))
        del self.messages[message]

    async def typing(self) -> str | None:
        return "…"  # a placeholder, as Slack posts outside assistant threads


async def test_a_streaming_reply_skips_edits_the_budget_has_no_room_for_but_never_its_final_text(
    redis_client: aioredis.Redis,
) -> None:
    edits = window("reply-edits", 4, reserve=True)
    budget = AnswerBudget(
        WriteBudget(redis=redis_client),
        platform="slack",
        windows=lambda write: (edits,) if write in ("edit", "open") else (),
        max_wait_s=0.2,
    )
    board = Board()
    reply = StreamingReply(board, budget=budget)
    await reply.typing()  # the placeholder, and a place kept for the final text
    for text in ("One", "One two", "One two three", "One two three four"):
        await reply.update(text)
    await reply.finish("One two three four. Done.")
    # The first text over the placeholder and one more edit are intermediate; the window keeps its last place
    # for the final text (kept since `typing`): the last update was skipped.
    assert board.calls == [
        ("post", "…"),
        ("edit", "One"),
        ("edit", "One two"),
        ("edit", "One two three"),
        ("edit", "One two three four. Done."),
    ]
    assert board.messages == {0: "One two three four. Done."}


class StatusBoard(Board):
    async def typing(self) -> str | None:
        return None  # a thread status, as Slack shows in DM threads: no placeholder message


async def test_an_answer_that_ends_without_a_final_edit_gives_its_place_back(
    redis_client: aioredis.Redis,
) -> None:
    edits = window("given-back", 2, reserve=True)
    write_budget = WriteBudget(redis=redis_client)

    def answer_budget() -> AnswerBudget:
        return AnswerBudget(
            write_budget,
            platform="slack",
            windows=lambda write: (edits,) if write in ("edit", "open") else (),
            max_wait_s=0.2,
        )

    short = StreamingReply(StatusBoard(), budget=answer_budget())
    await short.typing()
    await short.finish("A short answer.")  # posted whole: its final text is a post, not an edit
    refused = StreamingReply(StatusBoard(), budget=answer_budget())
    await refused.typing()
    await refused.fail("Sorry, I can't help with that.")  # a notice, posted
    # Neither holds a place any more: the next answer streams as if it were alone in the window.
    board = Board()
    streaming = StreamingReply(board, budget=answer_budget())
    await streaming.typing()
    await streaming.update("One")
    await streaming.finish("One two.")
    assert board.calls == [("post", "…"), ("edit", "One"), ("edit", "One two.")]


def test_a_long_outage_across_many_channels_does_not_grow_the_local_windows_without_bound() -> None:
    now = [0.0]
    local = LocalWindows(lambda: now[0], sweep_at=100)
    for channel in range(1000):  # one answer in each of 1,000 channels while Redis is away
        edits = Window("discord_channel", f"test:wb:{channel}", 5, 5.0, reserve=True)
        assert local.spend([edits], Priority.OPEN, f"answer-{channel}").granted
        assert local.spend([edits], Priority.FIRST, f"answer-{channel}").granted
        assert local.spend([edits], Priority.FINAL, f"answer-{channel}").granted
        now[0] += 0.5  # an answer every half second: a window goes idle long before the outage ends
    assert len(local) <= 100 + 2 * 120 / 0.5 + 2
    # what still counts is kept: a window written to a moment ago still refuses past its limit
    busy = Window("discord_channel", "test:wb:busy", 2, 5.0)
    assert (
        local.spend([busy], Priority.FIRST, "a").granted and local.spend([busy], Priority.FIRST, "b").granted
    )
    assert not local.spend([busy], Priority.FIRST, "c").granted
