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
