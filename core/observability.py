"""Logging and metrics.

- `configure_logging(settings)`: structlog, JSON when not on a terminal, contextvars merged into every line;
  the standard-library lines of discord.py, slack_bolt, slack_sdk and aiohttp go through the same renderer.
  Message text is only ever logged at DEBUG; secrets never.
- `Metrics`: every Prometheus metric of the service, on its own registry (no global state), prefix
  `dolphin_relay_`, base units, `_total` counters, labels only from bounded sets (never user or channel
  ids). The one exception is the budget metrics' `community` label (a Discord guild or Slack workspace id,
  "@dm" for Discord DMs): one series per community the bot is installed in, which the operator counts.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from core.redact import redact_url as redact_url  # `redis://user:secret@host` → `redis://***@host`
from core.settings import LogSettings


def configure_logging(settings: LogSettings, *, stream: Any = None) -> None:
    """structlog for our lines and, through the same renderer (`ProcessorFormatter`), for the lines of
    libraries that use the standard `logging` module (discord.py, slack_bolt, slack_sdk, aiohttp): with
    LOG_FORMAT json every line on `stream` is one JSON object (their logger name under `logger`)."""
    stream = stream or sys.stderr
    level = getattr(logging, settings.level)
    use_json = settings.format == "json" or (settings.format == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            timestamper,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                timestamper,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    handler.addFilter(_drop_misleading)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(level, logging.INFO))
    # httpx logs every request at INFO (URLs may carry credentials): keep it to warnings.
    logging.getLogger("httpx").setLevel(logging.WARNING)


# Library warnings that are wrong for this service, so they are not shown:
# - slack_bolt reads SLACK_BOT_TOKEN from the environment by itself and, since the app is given a client
#   built from that same token, says the token "will be unused"; it is used, by that client.
# - discord.py says voice "will NOT be supported" without PyNaCl/davey; the bot never joins voice.
_MISLEADING = (
    ("slack_bolt.", "`token` will be unused"),
    ("discord.client", "voice will NOT be supported"),
)


def _drop_misleading(record: logging.LogRecord) -> bool:
    return not any(record.name.startswith(name) and text in record.getMessage() for name, text in _MISLEADING)


_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)


class Metrics:
    """All metrics of one process. Built once by the composition root and passed in."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages = Counter(
            "dolphin_relay_messages_total",
            "Incoming messages by platform and how they ended.",
            ["platform", "outcome"],
            registry=r,
        )
        self.time_to_first_token = Histogram(
            "dolphin_relay_time_to_first_token_seconds",
            "From receiving a message to the first generated token.",
            ["platform"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.message_duration = Histogram(
            "dolphin_relay_message_duration_seconds",
            "From receiving a message to the end of its handling.",
            ["platform", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.generated_tokens = Counter(
            "dolphin_relay_generated_tokens_total",
            "Tokens generated by the model for answers.",
            ["platform"],
            registry=r,
        )
        self.generation_seconds = Counter(
            "dolphin_relay_generation_seconds_total",
            "Seconds spent streaming answers (tokens per second = generated_tokens / generation_seconds).",
            ["platform"],
            registry=r,
        )
        self.moderation = Counter(
            "dolphin_relay_moderation_verdicts_total",
            "Moderation verdicts that were not allow, by stage, action and policy category.",
            ["stage", "action", "category"],
            registry=r,
        )
        self.moderation_languages = Counter(
            "dolphin_relay_moderation_languages_total",
            "Checked requests (stage input) and answers (stage output) by detected language (ISO 639, und "
            "when too short to tell) and the action taken.",
            ["language", "stage", "action"],
            registry=r,
        )
        self.answer_reports = Counter(
            "dolphin_relay_answer_reports_total",
            "Members' reports of answers (core/reports.py) by platform and outcome: recorded, duplicate (one "
            "member, one answer: counted once), not_an_answer, expired, unavailable.",
            ["platform", "outcome"],
            registry=r,
        )
        self.positive_feedback = Counter(
            "dolphin_relay_positive_feedback_total",
            "Positive feedback on answers (Slack's feedback buttons) by platform.",
            ["platform"],
            registry=r,
        )
        self.errors = Counter(
            "dolphin_relay_errors_total",
            "Errors by kind (the error class name).",
            ["kind"],
            registry=r,
        )
        # Budgets (core/budget.py), per community: the operator's meter of who uses the GPU.
        self.budget_tokens = Counter(
            "dolphin_relay_budget_tokens_total",
            "Tokens charged to daily budgets (the member's message and the answer), by community; exempt "
            "moderators' tokens are counted here too, though not charged.",
            ["platform", "community"],
            registry=r,
        )
        self.budget_used = Gauge(
            "dolphin_relay_budget_community_used_tokens",
            "Tokens the community has used today, as of this process's last charge there (all replicas "
            "together; max over replicas is the latest).",
            ["platform", "community"],
            registry=r,
        )
        self.budget_refusals = Counter(
            "dolphin_relay_budget_refusals_total",
            "Messages refused because a daily budget was spent, by community and scope (member, community).",
            ["platform", "community", "scope"],
            registry=r,
        )
        self.in_flight = Gauge(
            "dolphin_relay_messages_in_flight",
            "Messages being handled right now.",
            registry=r,
        )
        self.upstream_in_flight = Gauge(
            "dolphin_relay_generations_in_flight",
            "Generation requests open to the model server.",
            registry=r,
        )
        # Write budgets (core/write_budget.py) and the platforms' own rate limits.
        self.platform_writes = Counter(
            "dolphin_relay_platform_writes_total",
            "Writes to a chat platform by kind (post, edit, delete, typing), priority and what the write budget "
            "did: granted, waited (for room), deferred (an intermediate edit skipped), overdrawn (went after "
            "the longest wait).",
            ["platform", "write", "priority", "outcome"],
            registry=r,
        )
        self.write_budget_wait = Histogram(
            "dolphin_relay_write_budget_wait_seconds",
            "How long first posts, final texts and notices waited for room in the write budget.",
            ["platform"],
            buckets=(0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
            registry=r,
        )
        self.write_budget_used = Gauge(
            "dolphin_relay_write_budget_used",
            "Writes in a budget window (all replicas) at this process's last write there, by kind of window.",
            ["platform", "window"],
            registry=r,
        )
        self.write_budget_limit = Gauge(
            "dolphin_relay_write_budget_limit",
            "The limit of a budget window, by kind of window.",
            ["platform", "window"],
            registry=r,
        )
        self.write_budget_fallbacks = Counter(
            "dolphin_relay_write_budget_fallbacks_total",
            "Times Redis could not be reached for the write budget and this process budgeted alone for a while.",
            ["platform"],
            registry=r,
        )
        self.platform_rate_limited = Counter(
            "dolphin_relay_platform_rate_limited_total",
            "429 responses from a chat platform, by route (Slack: the Web API method; Discord: method and path "
            "with ids replaced).",
            ["platform", "route"],
            registry=r,
        )
