"""`ChatService`: the message pipeline (docs/architecture.md), shared by every adapter.

    1 clean + dedupe + gate   one Redis round trip: replayed ids, paused channels, mutes, rate limits; then
                              the daily token budgets (core/budget.py: one more read when budgets are set)
    2 input check             the moderator's verdict on what the user asked; a guard model on a server of
                              its own runs while steps 3-5 start, and nothing is shown or stored before
                              its verdict allows the message (a block cancels the answer)
    3 lock + load             the conversation, under its lock (in-process and across processes)
    4 prompt                  system prompt (persona) + the newest exchanges that fit + the new turn, as ChatML
                              (core/prompt.py)
    5 generate                stream from the model server; updates at the sink's cadence, each checked first
                              (ALIGNMENT_STREAM_MODE: `strict` shows only text every output layer checked,
                              with a look-ahead; `relaxed` checks the local layers and holds back 80 characters)
    6 output check            on the whole answer; a blocked answer is replaced by the notice
    7 deliver + persist       the exchange's tokens charged to the budgets (the answer that goes past one
                              ends with a warning), sink.finish(answer), then one atomic append of the exchange

Every failure reaches the user as `sink.fail(notice)` and leaves history as it was: an exchange is stored
whole, after the answer was delivered, or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

import structlog

from core import chatml, i18n
from core.alignment.base import Moderator
from core.alignment.language import detect_language
from core.budget import Budget, NoBudget, Usage, note_text
from core.errors import (
    Blocked,
    Busy,
    GenerationFailed,
    HistoryUnavailable,
    MessageTooLong,
    Muted,
    OverBudget,
    RateLimited,
    RelayError,
    StreamCutOff,
    UpstreamError,
)
from core.gate import AdmissionKind, Gate
from core.history import ConversationSession, ConversationStore
from core.llm import GenerationParams, TextGenerator
from core.models import (
    Action,
    ConversationKey,
    Exchange,
    HandleResult,
    IncomingMessage,
    Outcome,
    Platform,
    ReplySink,
    Stage,
    Verdict,
)
from core.observability import Metrics, redact_url
from core.prompt import PromptBuilder
from core.settings import AlignmentSettings, ChatSettings, TGISettings
from core.streaming import CheckAhead, Coalescer
from core.tokens import TokenCounter

log = structlog.get_logger(__name__)

MAX_PERSONA_CHARS = 4000

_OUTCOME_BY_ERROR: tuple[tuple[type[RelayError], Outcome], ...] = (
    (RateLimited, Outcome.RATE_LIMITED),
    (Muted, Outcome.MUTED),
    (OverBudget, Outcome.OVER_BUDGET),
    (MessageTooLong, Outcome.TOO_LONG),
    (Busy, Outcome.BUSY),
    (StreamCutOff, Outcome.CUT_OFF),
)


def clean_text(text: str) -> str:
    """Replace lone surrogates (invalid Unicode from a platform) so nothing downstream fails on them."""
    return chatml.valid_unicode(text)


@dataclass(slots=True)
class _Timing:
    received: float
    first_token: float | None = None
    generated_tokens: int = 0
    generation_s: float = 0.0
    delivered: bool = False  # the final answer reached the sink


class ChatService:
    def __init__(
        self,
        *,
        store: ConversationStore,
        gate: Gate,
        generator: TextGenerator,
        counter: TokenCounter,
        moderator: Moderator,
        chat: ChatSettings,
        tgi: TGISettings,
        alignment: AlignmentSettings | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        max_in_flight: int | None = None,
        budget: Budget | None = None,
    ) -> None:
        """`alignment`: the streaming mode (ALIGNMENT_STREAM_MODE and its look-ahead); default strict.
        `budget`: the daily token budgets (BUDGET_*); default none."""
        self._store = store
        self._gate = gate
        self._generator = generator
        self._prompts = PromptBuilder(counter=counter, chat=chat, tgi=tgi)
        self._moderator = moderator
        self._chat = chat
        self._alignment = alignment or AlignmentSettings()
        self._metrics = metrics or Metrics()
        self._clock = clock
        self._budget: Budget = budget or NoBudget()
        # Messages handled at once (RUNTIME_MAX_IN_FLIGHT; None: no bound); the rest wait here, in arrival
        # order: a burst of events queues in front of the core, not inside it at the Redis pool.
        self._slots: asyncio.Semaphore | contextlib.nullcontext[None] = (
            contextlib.nullcontext() if max_in_flight is None else asyncio.Semaphore(max_in_flight)
        )

    # ------------------------------------------------------------------ the pipeline

    async def handle(self, msg: IncomingMessage, sink: ReplySink) -> HandleResult:
        timing = _Timing(received=time.monotonic())
        structlog.contextvars.bind_contextvars(
            platform=msg.key.platform.value, conversation=msg.key.id, message_id=msg.message_id
        )
        self._metrics.in_flight.inc()
        result = HandleResult(Outcome.FAILED)
        try:
            async with self._slots:
                result = await self._handle(msg, sink, timing)
        except RelayError as exc:
            exc.language = detect_language(msg.text)  # the notice speaks the member's language
            result = HandleResult(self._outcome_for(exc), exc.notice_in(exc.language))
            if isinstance(exc, Blocked):
                result.outcome = (
                    Outcome.BLOCKED_OUTPUT if exc.stage == Stage.OUTPUT else Outcome.BLOCKED_INPUT
                )
            if not isinstance(exc, Blocked | RateLimited | Muted | MessageTooLong | OverBudget):
                kind = _public_name(exc)
                self._metrics.errors.labels(kind=kind).inc()
                log.warning("message.failed", error=kind, detail=redact_url(str(exc)))
            if not isinstance(exc, _AlreadyShown):
                await self._safe_notify(sink, exc, _notice_for(sink, exc))
        except Exception as exc:
            self._metrics.errors.labels(kind=type(exc).__name__).inc()
            log.exception("message.unexpected_error", error=type(exc).__name__)
            notice = i18n.translate("generic", detect_language(msg.text))
            result = HandleResult(Outcome.FAILED, notice)
            await self._safe_fail(sink, notice)
        except asyncio.CancelledError:
            # Shutdown's grace period ended first: nothing was stored (an exchange is committed whole or
            # not at all); tell the user instead of leaving a half answer that never ends.
            notice = i18n.translate("interrupted", detect_language(msg.text))
            result = HandleResult(Outcome.INTERRUPTED, notice)
            if not timing.delivered:
                await self._safe_fail(sink, notice)
            raise
        finally:
            self._metrics.in_flight.dec()
            self._finish_log(msg, result, timing)
            structlog.contextvars.unbind_contextvars("platform", "conversation", "message_id")
        return result

    async def _handle(self, msg: IncomingMessage, sink: ReplySink, timing: _Timing) -> HandleResult:
        text = clean_text(msg.text).strip()
        if not text:
            return HandleResult(Outcome.IGNORED)
        if len(text) > self._chat.max_message_chars:
            raise MessageTooLong(
                notice=f"That message is {len(text):,} characters long; the limit is "
                f"{self._chat.max_message_chars:,}. Please shorten it and try again.",
                notice_id="too_long.chars",
                notice_fields={"length": f"{len(text):,}", "limit": f"{self._chat.max_message_chars:,}"},
            )
        msg = replace(msg, text=text, author_name=clean_text(msg.author_name))

        admission = await self._gate.admit(msg)
        if admission.kind is AdmissionKind.DUPLICATE:
            return HandleResult(Outcome.DUPLICATE)
        if admission.kind is AdmissionKind.PAUSED:
            return HandleResult(Outcome.IGNORED)
        if admission.kind is AdmissionKind.MUTED:
            raise Muted(until=admission.until)
        if admission.kind is AdmissionKind.RATE_LIMITED:
            raise RateLimited(retry_after_s=admission.retry_after_s, scope=admission.scope)
        await self._budget.check(msg)  # OverBudget until the reset: nothing more is done for the message

        verdicts: list[Verdict] = []
        check = await self._moderator.begin_input(msg)
        if check.pending is not None:
            return await self._answer_while_checking(msg, sink, timing, verdicts, check.pending)
        self._admit(check.verdict, verdicts)

        await sink.typing()
        allowed = asyncio.Event()
        allowed.set()
        async with self._store.open(msg.key) as conv:
            result = await self._answer(msg, sink, conv, timing, verdicts, allowed)
        result.verdicts = verdicts
        return result

    def _admit(self, verdict: Verdict, verdicts: list[Verdict]) -> None:
        self._count_verdict(Stage.INPUT, verdict, verdicts)
        if verdict.blocked:
            raise Blocked(stage=Stage.INPUT, category=verdict.category, notice=verdict.notice)

    async def _answer_while_checking(
        self,
        msg: IncomingMessage,
        sink: ReplySink,
        timing: _Timing,
        verdicts: list[Verdict],
        pending: Coroutine[Any, Any, Verdict],
    ) -> HandleResult:
        """The rest of the input check (a guard model) runs while the answer starts: lock, history,
        prompt, generation. Until its verdict allows the message, nothing reaches the sink (not even the
        typing indicator) and nothing can be stored, as both wait for `allowed`. A block, or a check that
        fails closed, cancels the answer: its model stream is closed and the user sees the notice."""
        allowed = asyncio.Event()
        check = asyncio.create_task(pending, name="input-check")
        answer = asyncio.create_task(self._locked_answer(msg, sink, timing, verdicts, allowed), name="answer")
        try:
            self._admit(await check, verdicts)
            await sink.typing()
            allowed.set()
            result = await answer
        finally:
            await _discard(answer, check)
        result.verdicts = verdicts
        return result

    async def _locked_answer(
        self,
        msg: IncomingMessage,
        sink: ReplySink,
        timing: _Timing,
        verdicts: list[Verdict],
        allowed: asyncio.Event,
    ) -> HandleResult:
        async with self._store.open(msg.key) as conv:
            return await self._answer(msg, sink, conv, timing, verdicts, allowed)

    async def _answer(
        self,
        msg: IncomingMessage,
        sink: ReplySink,
        conv: ConversationSession,
        timing: _Timing,
        verdicts: list[Verdict],
        allowed: asyncio.Event,
    ) -> HandleResult:
        """Build the prompt, generate, check, deliver, store. Nothing reaches the sink before `allowed`
        is set (the input verdict): the stream is read meanwhile, but not shown."""
        info = await self._generator.info()
        persona = conv.persona
        if persona is None and msg.key.thread is not None:
            # A thread without a persona of its own speaks with its channel's (a Discord or Slack thread
            # started under a channel whose moderators set one).
            persona = await self._store.get_persona(replace(msg.key, thread=None))
        prompt = await self._prompts.build(msg, persona=persona, history=conv.exchanges, info=info)
        log.debug(
            "prompt.built",
            history_exchanges=prompt.history_exchanges,
            input_tokens=prompt.input_tokens,
            text=msg.text,
        )

        answer, finish_reason = await self._generate(
            msg, sink, prompt.text, prompt.params, timing, verdicts, allowed
        )
        await allowed.wait()

        final = chatml.clean_answer(answer)
        if not final:
            raise GenerationFailed("empty answer", error_type="empty")
        # Stored as generated (not trimmed): the next prompt then repeats this one and its answer exactly,
        # token for token, which is what the server's prefix cache holds.
        assistant = await self._prompts.assistant_turn(answer)
        # Charged whether or not the output check lets it through: the model server did the work. An answer
        # that goes past a budget is finished (the next message is refused) and says so at its end.
        charge = await self._budget.charge(msg, prompt.user_turn.tokens + assistant.tokens)
        verdict = await self._moderator.check_output(msg, final, final=True)
        self._count_verdict(Stage.OUTPUT, verdict, verdicts)
        if verdict.blocked:
            raise Blocked(stage=Stage.OUTPUT, category=verdict.category, notice=verdict.notice)

        shown = final + _length_note(msg) if finish_reason == "length" else final
        if charge is not None and charge.note_id is not None:
            when = self._budget.when(charge.usage.resets_at)
            shown += note_text(charge, detect_language(msg.text), when)
        await sink.finish(shown)
        timing.delivered = True
        exchange = Exchange(
            user=prompt.user_turn,
            assistant=assistant,
            message_id=msg.message_id,
            created_at=self._clock(),
            context=prompt.history_exchanges,
            answer_refs=_answer_refs(sink),
        )
        try:
            await conv.commit(exchange)
        except HistoryUnavailable:
            # The user has the answer; the exchange is simply not remembered (never half of it).
            log.warning("history.commit_failed")
        return HandleResult(Outcome.ANSWERED, final)

    async def _generate(
        self,
        msg: IncomingMessage,
        sink: ReplySink,
        prompt: str,
        params: GenerationParams,
        timing: _Timing,
        verdicts: list[Verdict],
        allowed: asyncio.Event,
    ) -> tuple[str, str | None]:
        """Stream the answer, publishing checked updates once `allowed`. Returns (raw answer, finish
        reason)."""

        async def check(text_so_far: str) -> bool:
            """Raises `Blocked` on a block; returns whether to hold (allowed, but suspicious)."""
            verdict = await self._moderator.check_output(msg, text_so_far, final=False)
            if verdict.blocked:
                self._count_verdict(Stage.OUTPUT, verdict, verdicts)
                raise Blocked(stage=Stage.OUTPUT, category=verdict.category, notice=verdict.notice)
            return verdict.hold

        async def publish(text_so_far: str) -> None:
            await check(text_so_far)
            shown = _hold_back(text_so_far)
            if shown:
                await sink.update(shown)

        # With moderation off (ALIGNMENT_ENABLED=false) there is nothing to check ahead for.
        strict = self._alignment.enabled and self._alignment.stream_mode == "strict"
        checker: CheckAhead | None = None
        if strict:
            # Strict: the checker decides what may be shown; the coalescer only paces the edits.
            coalescer = Coalescer(sink.update, min_interval_s=sink.limits.min_edit_interval_s)
            checker = CheckAhead(
                check,
                coalescer.push,
                lookahead_chars=self._alignment.stream_lookahead_chars,
                chunk_chars=self._alignment.stream_chunk_chars,
                hold_max_chars=self._alignment.stream_hold_max_chars,
            )
        else:
            coalescer = Coalescer(publish, min_interval_s=sink.limits.min_edit_interval_s)
        answer = ""
        finish_reason: str | None = None
        started = time.monotonic()
        self._metrics.upstream_in_flight.inc()
        try:
            stream = self._generator.stream(prompt, params)
            try:
                async for event in stream:
                    if event.text:
                        if timing.first_token is None:
                            timing.first_token = time.monotonic()
                        answer += event.text  # amortized O(1): CPython appends in place
                        timing.generated_tokens += 1
                        if allowed.is_set():  # else the input verdict is still out: show nothing yet
                            text_so_far = answer.strip()
                            if checker is not None:
                                checker.push(text_so_far)
                            # Up to HOLD_BACK_CHARS nothing would be shown: such a publish would only
                            # spend the edit interval, and delay the first visible text by one interval.
                            elif len(text_so_far) > HOLD_BACK_CHARS:
                                coalescer.push(text_so_far)
                    if event.finish_reason is not None:
                        finish_reason = event.finish_reason
                        if event.generated_tokens is not None:
                            timing.generated_tokens = event.generated_tokens
                    if coalescer.error is not None or (checker is not None and checker.error is not None):
                        break
            finally:
                await stream.aclose()  # type: ignore[attr-defined]
        except UpstreamError:
            if checker is not None:
                await checker.aclose()
            await coalescer.aclose()
            partial = chatml.clean_answer(answer)
            if partial:
                await allowed.wait()
                await self._deliver_cut_off(msg, sink, partial, verdicts)
            raise
        finally:
            self._metrics.upstream_in_flight.dec()
            timing.generation_s = time.monotonic() - started
            if checker is not None:
                # A check in flight is superseded by the check of the whole answer that follows.
                await checker.aclose()
            await coalescer.aclose()
        if checker is not None and checker.error is not None:
            raise checker.error
        if coalescer.error is not None:
            raise coalescer.error
        return answer, finish_reason

    async def _deliver_cut_off(
        self, msg: IncomingMessage, sink: ReplySink, partial: str, verdicts: list[Verdict]
    ) -> None:
        """Show the part that arrived, marked as cut off; it is never stored."""
        verdict = await self._moderator.check_output(msg, partial, final=False)
        if verdict.blocked:
            self._count_verdict(Stage.OUTPUT, verdict, verdicts)
            raise Blocked(stage=Stage.OUTPUT, category=verdict.category, notice=verdict.notice)
        notice = i18n.translate("cut_off", detect_language(msg.text))
        await sink.finish(f"{partial}\n\n{notice}")
        # The notice is shown; the boundary must not replace the partial answer with it.
        raise _AlreadyShown(notice)

    # ------------------------------------------------------------------ commands

    async def reset(self, key: ConversationKey) -> None:
        await self._store.clear(key)

    async def get_persona(self, key: ConversationKey) -> str | None:
        return await self._store.get_persona(key)

    async def set_persona(self, key: ConversationKey, persona: str | None) -> None:
        if persona is not None:
            persona = chatml.neutralize(clean_text(persona)).strip() or None
            if persona is not None and len(persona) > MAX_PERSONA_CHARS:
                raise MessageTooLong(
                    notice=f"A persona can be at most {MAX_PERSONA_CHARS:,} characters long."
                )
        await self._store.set_persona(key, persona)

    async def forget_user(self, user_id: str) -> int:
        return await self._store.forget_user(user_id)

    async def forget_author(self, platform: Platform, author_id: str) -> int:
        """Every stored turn of an author, in every space of the platform (Discord's /forget-me)."""
        return await self._store.forget_author(platform, author_id)

    async def pause(self, key: ConversationKey) -> None:
        await self._gate.set_paused(key, True)

    async def resume(self, key: ConversationKey) -> None:
        await self._gate.set_paused(key, False)

    async def is_paused(self, key: ConversationKey) -> bool:
        return await self._gate.is_paused(key)

    async def mute(self, user_id: str, seconds: float) -> float:
        return await self._gate.mute(user_id, seconds)

    async def unmute(self, user_id: str) -> None:
        await self._gate.unmute(user_id)

    @property
    def budgets_enabled(self) -> bool:
        return self._budget.enabled

    async def usage(self, msg: IncomingMessage) -> Usage:
        """Today's budget use of the caller of `msg` and of their community (`/usage`)."""
        return await self._budget.usage(msg)

    # ------------------------------------------------------------------ helpers

    def _count_verdict(self, stage: Stage, verdict: Verdict, verdicts: list[Verdict]) -> None:
        if verdict.language is not None:
            self._metrics.moderation_languages.labels(
                language=verdict.language, stage=stage.value, action=verdict.action.value
            ).inc()
        if verdict.action is not Action.ALLOW:
            verdicts.append(verdict)
            self._metrics.moderation.labels(
                stage=stage.value, action=verdict.action.value, category=verdict.category or "none"
            ).inc()

    @staticmethod
    def _outcome_for(exc: RelayError) -> Outcome:
        for cls, outcome in _OUTCOME_BY_ERROR:
            if isinstance(exc, cls):
                return outcome
        return Outcome.FAILED

    @staticmethod
    async def _safe_fail(sink: ReplySink, notice: str) -> None:
        try:
            await sink.fail(notice)
        except Exception as exc:  # the platform is failing too: nothing more to tell the user
            log.warning("sink.fail_failed", error=type(exc).__name__)

    @staticmethod
    async def _safe_notify(sink: ReplySink, error: RelayError, notice: str) -> None:
        try:
            await sink.notify(error, notice)
        except Exception as exc:  # the platform is failing too: nothing more to tell the user
            log.warning("sink.fail_failed", error=type(exc).__name__)

    def _finish_log(self, msg: IncomingMessage, result: HandleResult, timing: _Timing) -> None:
        now = time.monotonic()
        platform = msg.key.platform.value
        duration = now - timing.received
        ttft = None if timing.first_token is None else timing.first_token - timing.received
        self._metrics.messages.labels(platform=platform, outcome=result.outcome.value).inc()
        self._metrics.message_duration.labels(platform=platform, outcome=result.outcome.value).observe(
            duration
        )
        if ttft is not None:
            self._metrics.time_to_first_token.labels(platform=platform).observe(ttft)
            self._metrics.generated_tokens.labels(platform=platform).inc(timing.generated_tokens)
            self._metrics.generation_seconds.labels(platform=platform).inc(timing.generation_s)
        verdict = result.verdicts[-1] if result.verdicts else None
        log.info(
            "message.handled",
            outcome=result.outcome.value,
            verdict=None if verdict is None else verdict.action.value,
            category=None if verdict is None else verdict.category,
            ttft_s=None if ttft is None else round(ttft, 4),
            duration_s=round(duration, 4),
            tokens=timing.generated_tokens,
        )


def _length_note(msg: IncomingMessage) -> str:
    """Appended to an answer cut at its token limit, in the language of the member's message."""
    return f"\n\n_{i18n.translate('length_limit', detect_language(msg.text))}_"


# While streaming, the newest characters are not shown yet: a harmful phrase still arriving ("mix the
# ammonium …") is checked whole, with what follows, before any of it becomes visible.
HOLD_BACK_CHARS = 80


def _hold_back(text: str) -> str:
    if len(text) <= HOLD_BACK_CHARS:
        return ""
    cut = len(text) - HOLD_BACK_CHARS
    space = text.rfind(" ", 0, cut)
    return text[: space if space > 0 else cut].rstrip()


def _answer_refs(sink: ReplySink) -> tuple[str, ...]:
    """The messages that show the answer (`ReplySink.answer_refs`); none when the sink cannot say."""
    try:
        return tuple(str(ref) for ref in sink.answer_refs() if ref)
    except Exception as err:  # a sink's bug must not cost the member the stored exchange
        log.warning("sink.answer_refs_failed", error=type(err).__name__)
        return ()


def _notice_for(sink: ReplySink, exc: RelayError) -> str:
    """The notice for `exc`, worded by the sink for its platform (`ReplySink.render_notice`) or else the
    core's, in the language of the member's message."""
    try:
        text = sink.render_notice(exc)
    except Exception as err:
        log.warning("sink.render_notice_failed", error=type(err).__name__)
    else:
        if isinstance(text, str) and text.strip():
            return text
    return exc.notice_in(exc.language)


class _AlreadyShown(StreamCutOff):
    """A cut-off answer whose notice is already on the platform."""


def _public_name(exc: BaseException) -> str:
    """The error's name for logs and metric labels: the nearest public class (`StreamCutOff`, not the
    internal `_AlreadyShown`)."""
    return next(c.__name__ for c in type(exc).__mro__ if not c.__name__.startswith("_"))


async def _discard(*tasks: asyncio.Task[Any]) -> None:
    """Cancel the tasks still running and wait for them (an answer closes its model stream and releases its
    lock); their outcomes are superseded, so their exceptions are retrieved and dropped."""
    running = [t for t in tasks if not t.done()]
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running)
    for task in tasks:
        if not task.cancelled():
            task.exception()
