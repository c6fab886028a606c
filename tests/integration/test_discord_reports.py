"""The "Report answer" command on Discord, end to end: the message command synced with the others, run from a message's
Apps menu over the fake gateway (INTERACTION_CREATE, data.type 3, the message in `resolved`), answered
privately over the fake REST API; the report in the mod-log channel and the audit stream in real Redis."""

from __future__ import annotations

from typing import Any

import pytest

from core.alignment.audit import AuditLog
from core.alignment.policy import Audit
from core.keys import KeySpace
from tests.fakes.discord_harness import CHANNEL_KEY, Bot, ephemeral_texts, mention, message_command
from tests.fakes.discord_payloads import ALICE, GENERAL, GUILD_ID, MOD
from tests.fakes.tgi import FakeReply

MOD_LOG = 3999
REPORT = "Report answer"
EPHEMERAL = 64


async def ask(bot: Bot, question: str, answer: str) -> tuple[dict[str, Any], int]:
    """Alice asks in #general; returns her message and the id of the bot's answer."""
    bot.tgi.enqueue(FakeReply(text=answer))
    asked = mention(bot.api, question)
    before = set(bot.api.messages)
    await bot.api.dispatch("MESSAGE_CREATE", asked)
    await bot.settled()
    assert len(await bot.turns(CHANNEL_KEY)) >= 1
    (answer_id,) = [
        i for i in bot.api.messages if i not in before and bot.api.messages[i].channel_id == GENERAL
    ]
    return asked, answer_id


async def report(bot: Bot, message: dict[str, Any], *, member_id: int, locale: str = "en-US") -> str:
    """Run "Report answer" on `message` as a member; returns what they were shown (checked private)."""
    payload = message_command(bot.api, REPORT, message, member_id=member_id, locale=locale)
    await bot.api.dispatch("INTERACTION_CREATE", payload)
    await bot.api.wait_until(lambda: len(ephemeral_texts(bot.api, payload["token"])) >= 1, timeout_s=5)
    await bot.settled()
    mine = [r for r in bot.api.interaction_log if r["token"] == payload["token"]]
    assert mine[0]["kind"] == "callback" and mine[0]["body"]["type"] == 5  # deferred at once
    assert mine[0]["body"]["data"]["flags"] & EPHEMERAL  # only the reporter sees the reply
    (text,) = ephemeral_texts(bot.api, payload["token"])
    return text


def reports_counted(bot: Bot, outcome: str) -> float:
    value = bot.core.metrics.registry.get_sample_value(
        "dolphin_relay_answer_reports_total", {"platform": "discord", "outcome": outcome}
    )
    return value or 0.0


async def audit_reports(bot: Bot) -> list[dict[str, str]]:
    trail = AuditLog(redis=bot.core.redis, keys=KeySpace(bot.core.key_prefix), audit=Audit())
    return [e for e in await trail.recent() if e["action"] == "report"]


async def test_report_answer_is_a_message_command_synced_with_the_others(bot: Bot) -> None:
    (commands,) = bot.api.commands.values()
    (menu,) = [c for c in commands if c["name"] == REPORT]
    assert menu["type"] == 3  # MESSAGE: in the Apps menu of a message; no description, no options
    assert not menu.get("options")


@pytest.mark.parametrize("bot", [{"mod_log_channel": MOD_LOG}], indirect=True)
async def test_a_reported_answer_reaches_the_mod_log_and_the_audit_stream_once_per_member(bot: Bot) -> None:
    _, answer_id = await ask(bot, "what do dolphins eat", "Mostly fish and squid.")
    answer = bot.api.message_data(answer_id)

    shown = await report(bot, answer, member_id=MOD)
    assert shown == "Thanks for reporting this answer. The moderators will take a look."
    await bot.api.wait_until(lambda: bool(bot.api.visible(MOD_LOG)))
    (line,) = bot.api.visible(MOD_LOG)
    assert f"<@{MOD}> reported an answer to <@{ALICE}>" in line
    assert f"https://discord.com/channels/{GUILD_ID}/{GENERAL}/{answer_id}" in line
    assert "what do dolphins eat" in line and "Mostly fish and squid." in line
    (event,) = await audit_reports(bot)
    assert event["prompt"].endswith("what do dolphins eat")
    assert event["text"] == "Mostly fish and squid."
    assert event["reporter"].endswith(f":{MOD}") and event["user_id"].endswith(f":{ALICE}")
    assert event["message_id"] == str(answer_id) and event["stage"] == "output"
    assert reports_counted(bot, "recorded") == 1

    # The same member again: thanked, counted as a duplicate, not recorded or posted twice.
    again = await report(bot, answer, member_id=MOD)
    assert "already reported" in again
    assert reports_counted(bot, "recorded") == 1 and reports_counted(bot, "duplicate") == 1
    assert len(await audit_reports(bot)) == 1
    assert len(bot.api.visible(MOD_LOG)) == 1

    # Another member's report of the same answer is a report of its own.
    await report(bot, answer, member_id=ALICE)
    assert len(await audit_reports(bot)) == 2
    assert reports_counted(bot, "recorded") == 2


async def test_reporting_a_members_message_or_a_forgotten_answer_gets_a_friendly_notice(bot: Bot) -> None:
    asked, answer_id = await ask(bot, "tell me a joke", "Why did the dolphin cross the reef?")

    shown = await report(bot, asked, member_id=MOD, locale="de")  # Alice's own message, not the bot's
    assert shown == "Diese Nachricht ist keine meiner Antworten, daher gibt es dort nichts zu melden."
    assert reports_counted(bot, "not_an_answer") == 1

    await bot.core.service.reset(CHANNEL_KEY)  # the history behind the answer is gone
    shown = await report(bot, bot.api.message_data(answer_id), member_id=MOD)
    assert "no longer have the conversation behind that answer" in shown
    assert reports_counted(bot, "expired") == 1
    assert await audit_reports(bot) == []
