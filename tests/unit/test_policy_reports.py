"""`policy reports` / `policy replay`: reports grouped by the message they reported (bots/policy_cli.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

from bots.policy_cli import reported_answers
from core.alignment.audit import AuditEvent
from core.reports import REPORT_ACTION

REPORT = AuditEvent(
    time=1.0, platform="slack", space="T1", channel="C1", thread="1700000000.000100", user_id="slack:T1:U1",
    author_name="ann", message_id="1700000000.000200", stage="output", action=REPORT_ACTION, category="",
    layer="", excerpt="", text="an answer", prompt="a question", reporter="slack:T1:U2",
)  # fmt: skip


class Trail:
    def __init__(self, *events: AuditEvent) -> None:
        self.events = events

    async def since(self, since: float) -> AsyncIterator[AuditEvent]:
        for event in self.events:
            if event.time >= since:
                yield event


async def test_reports_of_one_answer_count_together_and_equal_timestamps_in_two_channels_do_not() -> None:
    again = replace(REPORT, time=2.0, reporter="slack:T1:U3")
    elsewhere = replace(
        REPORT, time=3.0, channel="C2", text="another answer"
    )  # a Slack ts: unique per channel
    found = await reported_answers(Trail(REPORT, again, elsewhere), 0.0)  # type: ignore[arg-type]
    assert [(r.event.text, r.reports) for r in found] == [("an answer", 2), ("another answer", 1)]
