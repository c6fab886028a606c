"""`ModFeedQueue`: the moderators' feed the composition root gives the moderator; the adapter serves it."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from core.alignment.audit import AuditEvent, ModFeedQueue, stop_serving
from tests.polling import until


def event(n: int, platform: str = "discord") -> AuditEvent:
    return AuditEvent(
        time=float(n),
        platform=platform,
        space="g",
        channel="c",
        thread="",
        user_id=f"discord:g:{n}",
        author_name="A",
        message_id=str(n),
        stage="input",
        action="block",
        category="S1",
        layer="rules",
        excerpt="",
    )


async def test_events_reach_the_poster_in_order_and_a_failing_post_does_not_stop_the_feed() -> None:
    feed = ModFeedQueue("discord")
    posted: list[str] = []

    async def post(e: AuditEvent) -> None:
        if e.message_id == "2":
            raise OSError("the mod-log channel is down")
        posted.append(e.message_id)

    for n in range(1, 5):
        await feed.publish(event(n))
    await feed.publish(event(9, platform="slack"))  # another platform's feed posts that
    with capture_logs() as logs:
        task = asyncio.create_task(feed.serve(post))
        await until(lambda: len(posted) == 3)
        await stop_serving(task)
    assert posted == ["1", "3", "4"]
    assert [e["event"] for e in logs] == ["modfeed.publish_failed"]
    assert task.cancelled()


async def test_a_feed_nobody_serves_keeps_the_newest_events_only() -> None:
    feed = ModFeedQueue("discord", max_pending=2)
    with capture_logs() as logs:
        for n in range(1, 5):
            await feed.publish(event(n))
    posted: list[str] = []

    async def post(e: AuditEvent) -> None:
        posted.append(e.message_id)

    task = asyncio.create_task(feed.serve(post))
    await until(lambda: len(posted) == 2)
    await stop_serving(task)
    assert posted == ["3", "4"]
    assert [e["event"] for e in logs] == ["modfeed.dropped", "modfeed.dropped"]


def test_a_report_line_on_discord_shows_who_reported_whose_answer_with_both_texts_behind_spoilers() -> None:
    from dataclasses import replace

    from bots.discord.feed import format_mod_event

    report = replace(
        event(77),
        stage="output",
        action="report",
        category="report",
        layer="discord:context-menu",
        thread="88",  # an answer in a thread: the link goes to the thread
        reporter="discord:g:5",
        prompt="how do I **win**",
        text="Cheat. ||spoiler break|| and more\nlines",
    )
    head, request, answer = format_mod_event(report).split("\n")
    assert head == (
        "**report** · <@5> reported an answer to <@77> in <#88> · "
        "[jump to answer](https://discord.com/channels/g/88/77)"
    )
    assert request == "> request: ||how do I \\*\\*win\\*\\*||"  # markdown escaped: nothing renders
    # the answer's own || are escaped: it can never end the spoiler early
    assert answer == "> answer: ||Cheat. \\|\\|spoiler break\\|\\| and more lines||"
