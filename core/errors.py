"""The error tree: every failure becomes a short notice (docs/architecture.md). Platform exceptions never
leave bots/.

    RelayError                      .notice: a short, friendly text that is safe to show in chat
    ├── UserFacingError
    │   ├── Blocked                 .stage input|output, .category
    │   ├── RateLimited             .retry_after_s
    │   ├── Muted                   .until (unix seconds)
    │   ├── OverBudget              .scope member|community, .resets_at (unix seconds): today's tokens are spent
    │   ├── MessageTooLong          the message does not fit the limit or the model's window
    │   ├── ModerationUnavailable   a moderation layer failed and is configured to fail closed
    │   └── Busy                    the model is saturated; try again shortly
    ├── UpstreamError               .retryable
    │   ├── ModelUnavailable        TGI cannot be reached (connection refused, DNS, 503)
    │   ├── GenerationFailed        TGI validation / generation / incomplete_generation, other HTTP errors
    │   ├── GenerationTimeout       no first token, or no next token, within the timeout
    │   ├── StreamCutOff            the stream ended early after some text was shown
    │   └── HistoryUnavailable      Redis cannot be reached: the message is not answered (documented)
    └── ConfigurationError          at start-up only: names the setting and the fix; exit non-zero

At the per-message boundary (`ChatService.handle`) every `RelayError` becomes `sink.fail(notice)`, the
notice in the language of the member's message (`notice_in`, core/i18n.py; `.notice` is the English text);
anything else is logged with context and the user sees `GENERIC_NOTICE`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from core import i18n

GENERIC_NOTICE = "Sorry, something went wrong while answering. Please try again."


class RelayError(Exception):
    notice: str = GENERIC_NOTICE
    # The notice's id in the message catalog (core/locales/); "" for a text given as is (not translated).
    notice_id: str = "generic"

    def __init__(
        self,
        message: str = "",
        *,
        notice: str | None = None,
        notice_id: str | None = None,
        notice_fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message or self.__class__.__name__)
        self.notice_fields: dict[str, Any] = dict(notice_fields or {})
        if notice_id is not None:
            self.notice_id = notice_id
        if notice is not None:
            self.notice = notice
            if notice_id is None:
                self.notice_id = ""
        # The language of the member's message (ISO 639, "und" when unknown): set by the core before the
        # notice is shown, for a sink that words the notice itself (`render_notice`).
        self.language = "und"

    def notice_in(self, language: str) -> str:
        """The notice in `language` (English when the catalog has no such language or id)."""
        if not self.notice_id:
            return self.notice
        return i18n.translate(self.notice_id, language, **self.notice_fields)


class UserFacingError(RelayError):
    """An expected condition; its notice is what the user sees."""


class Blocked(UserFacingError):
    notice = "I can't help with that here."
    notice_id = "blocked"

    def __init__(self, *, stage: str, category: str | None, notice: str | None = None) -> None:
        super().__init__(f"blocked at {stage}: {category}", notice=notice)
        self.stage = stage
        self.category = category


class RateLimited(UserFacingError):
    def __init__(self, *, retry_after_s: float, scope: str = "user") -> None:
        seconds = max(1, round(retry_after_s))
        who = "You're" if scope == "user" else "This channel is"
        super().__init__(
            f"rate limited ({scope}) for {seconds}s",
            notice=f"{who} sending messages faster than I can answer. Try again in {seconds} s.",
            notice_id="rate_limited.user" if scope == "user" else "rate_limited.channel",
            notice_fields={"seconds": seconds},
        )
        self.retry_after_s = retry_after_s
        self.scope = scope


class Muted(UserFacingError):
    def __init__(self, *, until: float) -> None:
        when = dt.datetime.fromtimestamp(until, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        super().__init__(
            f"muted until {until}",
            notice=f"You're muted here until {when}.",
            notice_id="muted",
            notice_fields={"when": when},
        )
        self.until = until


class OverBudget(UserFacingError):
    """Today's token budget of the member (`scope` "member") or of their community ("community") is spent;
    `when` is the reset as the core words it (a platform may word it itself from `resets_at`)."""

    def __init__(self, *, scope: str, resets_at: float, when: str) -> None:
        subject = "You've" if scope == "member" else "This community has"
        super().__init__(
            f"over budget ({scope}) until {resets_at}",
            notice=f"{subject} used today's token budget. I can answer again after {when}.",
            notice_id=f"budget.exhausted.{scope}",
            notice_fields={"when": when},
        )
        self.scope = scope
        self.resets_at = resets_at


class MessageTooLong(UserFacingError):
    notice = "That message is too long for me to read. Please shorten it and try again."
    notice_id = "too_long"


class ModerationUnavailable(UserFacingError):
    notice = "Moderation is unavailable right now, so I can't answer. Please try again shortly."
    notice_id = "moderation_unavailable"


class Busy(UserFacingError):
    notice = "I'm busy with a lot of questions right now. Please try again in a moment."
    notice_id = "busy"


class UpstreamError(RelayError):
    retryable: bool = False

    def __init__(
        self,
        message: str = "",
        *,
        retryable: bool | None = None,
        notice: str | None = None,
        notice_id: str | None = None,
    ) -> None:
        super().__init__(message, notice=notice, notice_id=notice_id)
        if retryable is not None:
            self.retryable = retryable


class ModelUnavailable(UpstreamError):
    retryable = True
    notice = "The model is unavailable right now. Please try again shortly."
    notice_id = "model_unavailable"


class GenerationFailed(UpstreamError):
    notice = "The model could not answer that. Please try again."
    notice_id = "generation_failed"

    def __init__(self, message: str = "", *, error_type: str = "generation", retryable: bool = False) -> None:
        super().__init__(message, retryable=retryable)
        self.error_type = error_type


class GenerationTimeout(UpstreamError):
    retryable = True
    notice = "The model took too long to answer. Please try again."
    notice_id = "generation_timeout"


class StreamCutOff(UpstreamError):
    notice = "⚠️ The answer was cut off: the model stopped responding. Please ask again."
    notice_id = "cut_off"

    def __init__(self, message: str = "", *, partial: str = "", notice: str | None = None) -> None:
        super().__init__(message, notice=notice)
        self.partial = partial  # the visible text streamed before the cut


class HistoryUnavailable(UpstreamError):
    retryable = True
    notice = "I can't reach my memory store right now, so I can't answer. Please try again shortly."
    notice_id = "history_unavailable"


class ConfigurationError(RelayError):
    """Raised at start-up only; the message names the setting and the fix."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting
