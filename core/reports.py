"""Members' reports of answers ("this answer is wrong or harmful"), once for every platform.

An adapter turns its own gesture into an `AnswerReport` (Discord: the "Report answer" message command; Slack:
the negative feedback button under an answer) and shows the `ReportReply` privately to the member. The core:

1. refuses a message that is not the bot's (`NOT_AN_ANSWER`);
2. finds the exchange behind the reported message: the history indexes every message that showed an answer
   (`Exchange.answer_refs`, core/history.py `find_answer`), in Redis, so any replica finds what another one
   answered; an answer whose exchange is no longer stored (expired, reset, forgotten) is `EXPIRED`;
3. counts one report per member and answer (`SET NX` in Redis: reporting again is `DUPLICATE`, not recorded);
4. records an audit event (action `report`, stage `output`; the request as `prompt`, the answer as `text`,
   the asker as `user_id`, the reporter as `reporter`) in the audit stream and publishes it to the
   moderators' feed of the platform; `policy replay` and `policy reports` read it back (bots/policy_cli.py);
5. counts every outcome in `dolphin_relay_answer_reports_total{platform, outcome}`.

Replies come from the message catalog (`report.*` in core/locales/), in the member's language where the
platform says it.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog

from core import i18n
from core.alignment.audit import AuditEvent, AuditLog, ModFeed, publish_all
from core.alignment.language import detect_language
from core.errors import HistoryUnavailable
from core.history import AnswerIndex, redis_call
from core.keys import KeySpace
from core.models import Platform, scoped_user_id
from core.observability import Metrics

log = structlog.get_logger(__name__)

REPORT_ACTION = "report"
REPORT_CATEGORY = "report"
REPORT_CATEGORY_NAME = "Reported by a member"


class ReportOutcome(enum.StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # this member reported this answer before: counted once
    NOT_AN_ANSWER = "not_an_answer"  # not a message of the bot's
    EXPIRED = "expired"  # the bot's, but its exchange is no longer stored (or it was never an answer)
    UNAVAILABLE = "unavailable"  # Redis could not be reached


_NOTICES = {
    ReportOutcome.RECORDED: "report.thanks",
    ReportOutcome.DUPLICATE: "report.duplicate",
    ReportOutcome.NOT_AN_ANSWER: "report.not_an_answer",
    ReportOutcome.EXPIRED: "report.expired",
    ReportOutcome.UNAVAILABLE: "report.unavailable",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerReport:
    """A member's report of one message, as the adapter saw it."""

    platform: Platform
    ref: str  # the reported message as the adapter's transport names it (`ReplyTransport.ref`)
    message_id: str  # the reported message's platform id, for links (Discord message id, Slack ts)
    reporter_id: str  # platform user id
    reporter_name: str
    by_bot: bool  # the platform says the message is the bot's
    source: str  # how it was reported: "discord:context-menu", "slack:feedback"
    adult_channel: bool = False  # where the answer is (the policy's overrides may depend on it)


@dataclass(frozen=True, slots=True)
class ReportReply:
    """What to tell the reporting member (privately)."""

    outcome: ReportOutcome
    text: str


class ReportService:
    """Records members' reports of answers (see the module docstring). One per process."""

    def __init__(
        self,
        *,
        answers: AnswerIndex,
        redis: aioredis.Redis,
        keys: KeySpace,
        audit: AuditLog,
        feeds: Sequence[ModFeed],
        metrics: Metrics,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`ttl_s`: how long one member's report of one answer is remembered (as long as the history)."""
        self._answers = answers
        self._redis = redis
        self._keys = keys
        self._audit = audit
        self._feeds = list(feeds)
        self._metrics = metrics
        self._ttl_s = max(1, ttl_s)
        self._clock = clock

    async def report(self, report: AnswerReport, *, language: str = i18n.FALLBACK) -> ReportReply:
        try:
            outcome = await self._report(report)
        except HistoryUnavailable:
            log.warning("report.unavailable", platform=report.platform.value)
            outcome = ReportOutcome.UNAVAILABLE
        self._metrics.answer_reports.labels(platform=report.platform.value, outcome=outcome.value).inc()
        log.info(
            "report.handled", platform=report.platform.value, outcome=outcome.value, source=report.source
        )
        return ReportReply(outcome, i18n.translate(_NOTICES[outcome], language))

    def praise(self, platform: Platform, *, language: str = i18n.FALLBACK) -> str:
        """Positive feedback on an answer: counted, and thanked (not recorded for moderators)."""
        self._metrics.positive_feedback.labels(platform=platform.value).inc()
        return i18n.translate("report.praise", language)

    async def _report(self, report: AnswerReport) -> ReportOutcome:
        if not report.by_bot:
            return ReportOutcome.NOT_AN_ANSWER
        found = await self._answers.find_answer(report.platform, report.ref)
        if found is None:
            return ReportOutcome.EXPIRED
        key = found.key
        reporter = scoped_user_id(report.platform, key.space, report.reporter_id)
        once = self._keys.reported(report.platform, report.ref, reporter)
        first: Any = await redis_call(self._redis.set(once, "1", nx=True, ex=self._ttl_s))
        if not first:
            return ReportOutcome.DUPLICATE
        audit = self._audit.audit
        kept = audit.report_chars if audit.store_excerpt else 0
        request, answer = found.exchange.user.text.strip(), found.exchange.assistant.text.strip()
        event = AuditEvent(
            time=self._clock(),
            platform=report.platform.value,
            space=key.space,
            channel=key.channel,
            thread=key.thread or "",
            user_id=scoped_user_id(report.platform, key.space, found.exchange.user.author_id or ""),
            author_name=found.exchange.user.author_name or "",
            message_id=report.message_id,
            stage="output",
            action=REPORT_ACTION,
            category=REPORT_CATEGORY,
            layer=report.source,
            excerpt=answer[: audit.excerpt_chars] if audit.store_excerpt else "",
            category_name=REPORT_CATEGORY_NAME,
            text=answer[:kept],
            prompt=request[:kept],
            adult_channel=report.adult_channel,
            language=detect_language(answer),
            reporter=reporter,
            reporter_name=report.reporter_name,
        )
        try:
            await self._audit.record(event)
        except HistoryUnavailable:
            # Not recorded: the member may try again (their report is not counted yet).
            await redis_call(self._redis.delete(once))
            raise
        await publish_all(self._feeds, event)
        return ReportOutcome.RECORDED
