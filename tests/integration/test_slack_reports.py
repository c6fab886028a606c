"""Slack's feedback buttons, end to end: an answer's last message carries them (Block Kit, as the fake Web API
checks it), a click arrives as a signed `block_actions` interaction (HTTP) or a Socket Mode `interactive`
envelope, the negative button's report lands in the mod-log channel and the audit stream (real Redis), and
the member is thanked privately (`chat.postEphemeral`)."""

from __future__ import annotations

import json

import redis.asyncio as aioredis

from bots.slack.report import FEEDBACK_ACTION, NEGATIVE, POSITIVE
from core.alignment.audit import AuditLog, ModFeedQueue
from core.alignment.policy import Audit
from core.keys import KeySpace
from tests.fakes.slack_api import Message
from tests.fakes.tgi import FakeReply
from tests.integration.slack_harness import (
    Harness,
    envelope,
    http_harness,
    mention,
    socket_harness,
)
from tests.polling import until

TS = "1700000001.000100"
THANKS = "Thanks for reporting this answer. The moderators will take a look."


def answer_in(slack_messages: dict[str, Message], thread: str) -> Message:
    (answer,) = [m for m in slack_messages.values() if m.channel == "C1" and m.thread_ts == thread]
    return answer


async def answered(h: Harness, question: str, text: str) -> Message:
    """U1 asks in #C1; returns the bot's answer as the fake Web API keeps it."""
    h.tgi.enqueue(FakeReply(text=text))
    await h.post(mention(question, ts=TS))
    await h.settle()
    return answer_in(h.slack.messages, TS)


async def click(h: Harness, ts: str, value: str, user: str) -> None:
    """A member clicks a button under a message: Slack's signed form post `payload=<json>`."""
    assert await h.post({"payload": json.dumps(h.slack.click(ts, value, user=user))}, form=True) == 200
    await h.settle()


def counted(h: Harness, outcome: str, metric: str = "dolphin_relay_answer_reports_total") -> float:
    labels = {"platform": "slack"} if metric.endswith("positive_feedback_total") else {}
    labels = labels or {"platform": "slack", "outcome": outcome}
    return h.core.metrics.registry.get_sample_value(metric, labels) or 0.0


async def reports_in_audit(redis_client: aioredis.Redis) -> list[dict[str, str]]:
    trail = AuditLog(redis=redis_client, keys=KeySpace("relay"), audit=Audit())
    return [e for e in await trail.recent() if e["action"] == "report"]


async def test_an_answer_ends_with_feedback_buttons_under_its_text(redis_client: aioredis.Redis) -> None:
    async with http_harness(redis_client) as h:
        answer = await answered(h, "how do dolphins sleep", "Dolphins sleep with *one* eye open.")
        assert answer.blocks is not None
        section, actions = answer.blocks
        assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
        assert section["text"]["text"] == answer.text == "Dolphins sleep with _one_ eye open."  # mrkdwn
        (buttons,) = actions["elements"]
        assert actions["type"] == "context_actions" and buttons["type"] == "feedback_buttons"
        assert buttons["action_id"] == FEEDBACK_ACTION
        assert {buttons["positive_button"]["value"], buttons["negative_button"]["value"]} == {
            POSITIVE,
            NEGATIVE,
        }


async def test_the_report_button_reaches_the_mod_log_and_the_audit_stream_once_per_member(
    redis_client: aioredis.Redis,
) -> None:
    feed = ModFeedQueue("slack")
    async with http_harness(redis_client, mod_feed=feed, mod_log_channel="CMOD") as h:
        answer = await answered(h, "how do dolphins sleep", "Dolphins sleep with one eye open.")

        await click(h, answer.ts, NEGATIVE, user="U2")
        (private,) = h.slack.calls["chat.postEphemeral"]
        assert (private["channel"], private["user"], private["thread_ts"]) == ("C1", "U2", TS)
        assert private["text"] == THANKS
        (entry,) = h.slack.visible("CMOD")
        assert "(`U2`) reported an answer to " in entry and "(`U1`) in <#C1>" in entry
        assert "<@" not in entry  # a mention in the mod log would notify the reporter and the asker
        assert f"archives/C1/p{answer.ts.replace('.', '')}|open the answer>" in entry
        assert "how do dolphins sleep" in entry and "Dolphins sleep with one eye open." in entry
        (event,) = await reports_in_audit(redis_client)
        assert event["text"] == "Dolphins sleep with one eye open."
        assert event["prompt"].endswith("how do dolphins sleep")
        assert event["reporter"] == "slack:T1:U2" and event["user_id"] == "slack:T1:U1"
        assert event["layer"] == "slack:feedback" and event["message_id"] == answer.ts
        assert counted(h, "recorded") == 1

        await click(h, answer.ts, NEGATIVE, user="U2")  # again: thanked, counted once
        assert "already reported" in h.slack.calls["chat.postEphemeral"][-1]["text"]
        assert counted(h, "duplicate") == 1 and counted(h, "recorded") == 1
        assert len(await reports_in_audit(redis_client)) == 1 and len(h.slack.visible("CMOD")) == 1

        await click(h, answer.ts, POSITIVE, user="U3")  # praise: thanked and counted, not a report
        assert h.slack.calls["chat.postEphemeral"][-1]["text"] == "Thanks for the feedback!"
        assert (
            counted(h, "", "dolphin_relay_positive_feedback_total") == 1
            and len(await reports_in_audit(redis_client)) == 1
        )


async def test_a_report_of_a_forgotten_answer_gets_a_friendly_notice(redis_client: aioredis.Redis) -> None:
    async with http_harness(redis_client) as h:
        answer = await answered(h, "what is the answer", "Forty-two.")
        assert await h.command("forget-me", user="U1") == 200  # the asker's history is deleted
        await h.settle()
        await click(h, answer.ts, NEGATIVE, user="U2")
        assert "no longer have the conversation" in h.slack.calls["chat.postEphemeral"][-1]["text"]
        assert counted(h, "expired") == 1 and await reports_in_audit(redis_client) == []


async def test_a_click_over_socket_mode_is_acknowledged_and_reported(redis_client: aioredis.Redis) -> None:
    async with socket_harness(redis_client) as s:
        s.tgi.enqueue(FakeReply(text="Because of the moon."))
        await s.slack.push(envelope(mention("why are there tides", ts=TS), "E1"))
        await s.slack.wait_ack("E1")
        await until(lambda: any(m.blocks for m in s.slack.messages.values()))  # answered, buttons under it
        answer = answer_in(s.slack.messages, TS)
        await s.slack.push(envelope(s.slack.click(answer.ts, NEGATIVE, user="U2"), "E2", kind="interactive"))
        await s.slack.wait_ack("E2")
        await until(lambda: s.slack.calls["chat.postEphemeral"])  # bolt runs the listener after the ack
        (private,) = s.slack.calls["chat.postEphemeral"]
        assert private["text"] == THANKS
        assert len(await reports_in_audit(redis_client)) == 1


async def test_the_private_reply_to_a_click_speaks_the_members_slack_language(
    redis_client: aioredis.Redis,
) -> None:
    async with http_harness(redis_client) as h:
        answer = await answered(h, "how do dolphins sleep", "Dolphins sleep with one eye open.")
        h.slack.users["U2"] = {"name": "zoe", "locale": "fr-FR"}
        h.slack.users["U3"] = {"name": "kai", "locale": "de-DE"}
        await click(h, answer.ts, NEGATIVE, user="U2")
        assert h.slack.calls["chat.postEphemeral"][-1]["text"].startswith("Merci d'avoir signalé")
        await click(h, answer.ts, POSITIVE, user="U3")
        assert h.slack.calls["chat.postEphemeral"][-1]["text"] == "Danke für die Rückmeldung!"
