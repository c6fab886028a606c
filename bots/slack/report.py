"""Slack's feedback buttons under each answer, and what a click does.

The last message of a finished answer carries the answer's text in `section` blocks and, under it, a
`context_actions` block with one `feedback_buttons` element (Block Kit; the message's `text` stays as the
notification fallback). A click arrives as a `block_actions` interaction (the app's manifest turns
interactivity on): the negative button is a report of the answer (core/reports.py), the positive one is
counted and thanked. The member's reply is ephemeral (`chat.postEphemeral`: only they see it), in the
answer's thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextActionsBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
    MarkdownTextObject,
    SectionBlock,
)

from core.models import Platform
from core.reports import AnswerReport
from core.streaming import split_message

FEEDBACK_ACTION = "dolphin_answer_feedback"  # the action_id of the feedback buttons
POSITIVE = "good_answer"
NEGATIVE = "report_answer"
SOURCE = "slack:feedback"
SECTION_MAX_CHARS = 3000  # a section block's text (Block Kit's limit)


def ref(channel: str, ts: str) -> str:
    """A message's reference, unique on Slack: its channel and `ts`."""
    return f"{channel}:{ts}"


def feedback_blocks(text: str) -> list[dict[str, Any]]:
    """The blocks of an answer's last message: its text (mrkdwn, already rendered) in sections of at most
    3,000 characters, then the feedback buttons."""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=part))
        for part in split_message(text, max_chars=SECTION_MAX_CHARS)
    ]
    blocks.append(
        ContextActionsBlock(
            elements=[
                FeedbackButtonsElement(
                    action_id=FEEDBACK_ACTION,
                    positive_button=FeedbackButtonObject(
                        text="Good answer", accessibility_label="This answer was good", value=POSITIVE
                    ),
                    negative_button=FeedbackButtonObject(
                        text="Report answer",
                        accessibility_label="Report this answer to the moderators",
                        value=NEGATIVE,
                    ),
                )
            ]
        )
    )
    return [block.to_dict() for block in blocks]


def _text(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    return value if isinstance(value, str) else ""


def _clicked(body: Mapping[str, Any]) -> str:
    """The value of the feedback button clicked ("" for any other action)."""
    actions = body.get("actions") or [{}]
    return _text(actions[0], "value") if _text(actions[0], "action_id") == FEEDBACK_ACTION else ""


def is_praise(body: Mapping[str, Any]) -> bool:
    return _clicked(body) == POSITIVE


def to_report(body: Mapping[str, Any], *, bot_user_id: str | None) -> AnswerReport | None:
    """The report in a `block_actions` click of the negative button (pure); None for any other click."""
    if _clicked(body) != NEGATIVE:
        return None
    container, message = body.get("container") or {}, body.get("message") or {}
    user = body.get("user") or {}
    channel = _text(container, "channel_id") or _text(body.get("channel") or {}, "id")
    ts = _text(container, "message_ts") or _text(message, "ts")
    author = _text(message, "user")
    return AnswerReport(
        platform=Platform.SLACK,
        ref=ref(channel, ts),
        message_id=ts,
        reporter_id=_text(user, "id"),
        reporter_name=_text(user, "name") or _text(user, "username") or _text(user, "id"),
        by_bot=bool(_text(message, "bot_id")) or (bool(author) and author == bot_user_id),
        source=SOURCE,
    )


def reply_place(body: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """Where the clicking member's private reply goes: (channel, user, thread_ts of the answer)."""
    container, message = body.get("container") or {}, body.get("message") or {}
    channel = _text(container, "channel_id") or _text(body.get("channel") or {}, "id")
    thread = _text(container, "thread_ts") or _text(message, "thread_ts")
    return channel, _text(body.get("user") or {}, "id"), thread or None
