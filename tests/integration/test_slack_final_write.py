"""The final write of a streamed Slack answer (`StreamingReply` over `SlackTransport`, core/reply.py), against the
fake Web API and the workspace's real write budget (Redis): a final text the message already shows costs no
`chat.update` and no place in SLACK_UPDATES_PER_MINUTE, unless the feedback buttons still have to go under it."""

from __future__ import annotations

import os

import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.sink import SlackTransport, answer_budget
from bots.slack.translate import MrkdwnRenderer
from core.keys import KeySpace
from core.observability import Metrics
from core.reply import StreamingReply
from core.settings import SlackSettings
from core.write_budget import WriteBudget
from tests.fakes.slack_api import TEAM, FakeSlackAPI

ANSWER = "Dolphins sleep with one eye open."


def final_edits_spent(metrics: Metrics) -> float:
    """`chat.update`s the budget let go as final writes, whatever it had to do for them."""
    return sum(
        metrics.registry.get_sample_value(
            "dolphin_relay_platform_writes_total",
            {"platform": "slack", "write": "edit", "priority": "final", "outcome": outcome},
        )
        or 0.0
        for outcome in ("granted", "waited", "overdrawn")
    )


async def streamed(
    redis_client: aioredis.Redis, slack: FakeSlackAPI, *, feedback: bool, final: str
) -> Metrics:
    """One answer in #C1: a placeholder, `ANSWER` streamed into it, then finished with `final`."""
    metrics = Metrics()
    budget = answer_budget(
        WriteBudget(redis=redis_client, metrics=metrics),
        keys=KeySpace(f"final-{os.urandom(4).hex()}"),
        settings=SlackSettings(updates_per_minute=20),
        team=TEAM,
        channel="C1",
    )
    transport = SlackTransport(
        client=AsyncWebClient(token="xoxb-test", base_url=slack.url),
        channel="C1",
        thread_ts=None,
        update_interval_s=0.0,
        renderer=MrkdwnRenderer(),
        feedback=feedback,
    )
    reply = StreamingReply(transport, budget=budget)
    await reply.typing()  # no thread status here: the placeholder
    await reply.update(ANSWER)
    await reply.finish(final)
    return metrics


async def test_an_unchanged_final_text_costs_no_update_and_no_budget(redis_client: aioredis.Redis) -> None:
    async with FakeSlackAPI() as slack:
        metrics = await streamed(redis_client, slack, feedback=False, final=ANSWER)
        assert slack.visible("C1") == [ANSWER]
        assert slack.texts("chat.update") == [ANSWER]  # the streamed text only
        assert final_edits_spent(metrics) == 0


async def test_the_feedback_buttons_still_go_under_an_unchanged_final_text(
    redis_client: aioredis.Redis,
) -> None:
    async with FakeSlackAPI() as slack:
        metrics = await streamed(redis_client, slack, feedback=True, final=ANSWER)
        (answer,) = slack.messages.values()
        assert answer.text == ANSWER and answer.blocks is not None
        assert answer.blocks[-1]["elements"][0]["type"] == "feedback_buttons"
        assert slack.texts("chat.update") == [ANSWER, ANSWER]  # the stream, then the buttons
        assert final_edits_spent(metrics) == 1


async def test_a_changed_final_text_is_written_once(redis_client: aioredis.Redis) -> None:
    async with FakeSlackAPI() as slack:
        metrics = await streamed(redis_client, slack, feedback=False, final=f"{ANSWER} Both halves rest.")
        assert slack.visible("C1") == [f"{ANSWER} Both halves rest."]
        assert slack.texts("chat.update") == [ANSWER, f"{ANSWER} Both halves rest."]
        assert final_edits_spent(metrics) == 1
