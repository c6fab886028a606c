"""`PolicyModerator`: the layers in order, the policy's actions, the audit trail, the feed and strikes.

Input: normalizer + rules, the learned classifier, then the guard model when configured. Output: before
every visible update only the cheap layers (normalizer + output rules + the answer classifier, which reads
the request as context) on the accumulated answer; on the whole answer every layer.
A layer that fails follows its failure mode: `closed` raises `ModerationUnavailable` (the user is told
moderation is unavailable), `open` allows and records the failure.

The guard model is Llama Guard on its own server or the main model judging itself (`resolve_guard`,
ALIGNMENT_GUARD_MODE). With a guard of its own server, `begin_input` returns the rules' verdict at once and
the guard's part as a coroutine, so that the service can start generating meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Literal

import httpx
import redis.asyncio as aioredis
import structlog

from core.alignment.audit import AuditEvent, AuditLog, ModFeed, StrikeCounter, publish_all
from core.alignment.base import InputCheck
from core.alignment.classifier import ClassifierLoadError, LocalChecks
from core.alignment.guard import GUARD_CATEGORIES, GuardError, GuardModel, LlamaGuardClient
from core.alignment.normalize import normalize
from core.alignment.policy import Policy, load_policy
from core.alignment.rules import (
    CONTENT_PATTERNS,
    INTENT_PATTERNS,
    MARKER_PATTERNS,
    OUTPUT_PATTERNS,
    STRONG_PATTERNS,
    TOPIC_PATTERNS,
    RuleSet,
    decide,
    decide_output,
)
from core.alignment.selfcheck import JudgedCategory, SelfCheckGuard
from core.errors import ConfigurationError, HistoryUnavailable, ModerationUnavailable
from core.keys import KeySpace
from core.llm import TextGenerator
from core.models import ALLOW, Action, IncomingMessage, Stage, Verdict
from core.settings import AlignmentSettings

log = structlog.get_logger(__name__)
_SEVERITY = {Action.ALLOW: 0, Action.FLAG: 1, Action.BLOCK: 2}
# When several categories match with the same action, the notice of the first in this order is shown:
# self-harm first (its notice points to help), then the gravest.
_PRECEDENCE = (
    *("S4", "S11", "S9", "S3", "S1", "S10", "S13", "S7", "S5", "S2", "S8", "S12", "S14", "JB", "JM", "S6"),
)
# The classifier's category when its weights have no category head (docs/moderation.md).
FALLBACK_CATEGORY = "S2"


def _merge(base: dict[str, list[str]], extra: dict[str, list[str]]) -> dict[str, list[str]]:
    merged = {k: list(v) for k, v in base.items()}
    for code, patterns in extra.items():
        merged.setdefault(code, []).extend(patterns)
    return merged


class PolicyModerator:
    def __init__(
        self,
        *,
        policy: Policy,
        guard: GuardModel | None = None,
        audit: AuditLog | None = None,
        strikes: StrikeCounter | None = None,
        feeds: Sequence[ModFeed] = (),
        checks: LocalChecks | None = None,
    ) -> None:
        self.policy = policy
        self._checks = (
            checks if checks is not None or not policy.layers.classifier.enabled else load_checks(policy)
        )
        # The operator's own patterns are strong: no framing relieves them.
        self._input_rules = RuleSet(
            _merge({k: list(v) for k, v in STRONG_PATTERNS.items()}, policy.extra_patterns),
            intent=INTENT_PATTERNS,
            content=CONTENT_PATTERNS,
            topic=TOPIC_PATTERNS,
            markers=MARKER_PATTERNS,
        )
        self._output_rules = RuleSet({k: list(v) for k, v in OUTPUT_PATTERNS.items()})
        self._guard = guard
        self._audit = audit
        self._strikes = strikes
        self.feeds: list[ModFeed] = list(feeds)

    # ---------------------------------------------------------------- the protocol

    @property
    def guard(self) -> GuardModel | None:
        return self._guard

    async def check_input(self, msg: IncomingMessage) -> Verdict:
        check = await self.begin_input(msg, overlap=False)
        return check.verdict if check.pending is None else await check.pending

    async def begin_input(self, msg: IncomingMessage, *, overlap: bool = True) -> InputCheck:
        """The rules' verdict now; with a guard on a server of its own (and `overlap`), the guard's part
        as `pending`, for the service to await while it starts generating. Recorded once, when final."""
        verdict = self._local(msg, msg.text, Stage.INPUT)
        if (
            verdict.action is not Action.BLOCK
            and self._guard is not None
            and self.policy.layers.guard.check_input
        ):
            pending = self._finish_input(msg, verdict)
            if overlap and self._guard.overlaps:
                return InputCheck(verdict, pending)
            return InputCheck(await pending)
        if verdict.action is not Action.ALLOW:
            verdict = await self._record(msg, verdict, Stage.INPUT, msg.text)
        return InputCheck(verdict)

    async def _finish_input(self, msg: IncomingMessage, rules: Verdict) -> Verdict:
        verdict = _worse(rules, await self._guard_verdict(msg, msg.text, None, Stage.INPUT))
        if verdict.action is not Action.ALLOW:
            verdict = await self._record(msg, verdict, Stage.INPUT, msg.text)
        return verdict

    async def check_output(self, msg: IncomingMessage, text: str, *, final: bool) -> Verdict:
        verdict = self._local(msg, text, Stage.OUTPUT)
        if (
            final
            and verdict.action is not Action.BLOCK
            and self._guard is not None
            and self.policy.layers.guard.check_output
        ):
            verdict = _worse(verdict, await self._guard_verdict(msg, msg.text, text, Stage.OUTPUT))
        if verdict.action is Action.BLOCK or (final and verdict.action is Action.FLAG):
            verdict = await self._record(msg, verdict, Stage.OUTPUT, text)
        return verdict

    # ---------------------------------------------------------------- layers

    def check_text(self, text: str, stage: Stage, msg: IncomingMessage) -> Verdict:
        """The local layers only (used by `policy check` / `policy eval`)."""
        return self._local(msg, text, stage)

    def _local(self, msg: IncomingMessage, text: str, stage: Stage) -> Verdict:
        verdict = self._rules(msg, text, stage)
        if verdict.action is Action.BLOCK:
            return verdict
        return _worse(verdict, self._classifier(msg, text, stage))

    def _classifier(self, msg: IncomingMessage, text: str, stage: Stage) -> Verdict:
        """The learned check; for an answer, `msg.text` (the user's request) is its context."""
        layer = self.policy.layers.classifier
        checks = self._checks
        if checks is None or not (layer.check_input if stage is Stage.INPUT else layer.check_output):
            return ALLOW
        try:
            if stage is Stage.INPUT:
                prompt = None
                score = checks.score_request(text)
                threshold = (
                    checks.request.threshold if layer.input_threshold is None else layer.input_threshold
                )
            else:
                prompt = msg.text or None
                score = checks.score_answer(text, prompt)
                threshold = (
                    checks.answer.threshold if layer.output_threshold is None else layer.output_threshold
                )
            if score < threshold:
                return ALLOW
            category = checks.category(text, prompt) or FALLBACK_CATEGORY
        except Exception as exc:  # a broken model must not silently decide for everyone
            return self._layer_failed("classifier", layer.failure_mode, exc)
        if category not in self.policy.categories:
            category = FALLBACK_CATEGORY
        return self._decide([category], msg, layer="classifier", score=score)

    def _rules(self, msg: IncomingMessage, text: str, stage: Stage) -> Verdict:
        if not self.policy.layers.rules.enabled:
            return ALLOW
        try:
            normalized = normalize(text)
            rules = self._input_rules if stage is Stage.INPUT else self._output_rules
            matches = rules.matches(normalized)
            if matches:
                matches = (decide if stage is Stage.INPUT else decide_output)(matches, normalized)
            if not matches:
                return ALLOW
        except Exception as exc:  # a bug in a pattern must not silently decide for everyone
            return self._layer_failed("rules", self.policy.layers.rules.failure_mode, exc)
        return self._decide([m.category for m in matches], msg, layer="rules", score=1.0)

    async def _guard_verdict(
        self, msg: IncomingMessage, user: str, agent: str | None, stage: Stage
    ) -> Verdict:
        assert self._guard is not None
        try:
            result = await self._guard.classify(user=user, agent=agent)
        except GuardError as exc:
            return self._layer_failed(self._guard.name, self._guard.layer.failure_mode, exc)
        if not result.unsafe or result.score < self._guard.layer.threshold:
            return ALLOW
        categories = [c for c in result.categories if c in self.policy.categories] or ["S1"]
        return self._decide(categories, msg, layer=self._guard.name, score=result.score)

    def _decide(self, categories: list[str], msg: IncomingMessage, *, layer: str, score: float) -> Verdict:
        best: Verdict = ALLOW
        for category in sorted(categories, key=lambda c: _PRECEDENCE.index(c) if c in _PRECEDENCE else 99):
            action = self.policy.action_for(category, msg)
            if _SEVERITY[action] > _SEVERITY[best.action]:
                notice = self.policy.categories[category].notice
                best = Verdict(action, category=category, layer=layer, score=score, notice=notice)
        return best

    def _layer_failed(self, layer: str, mode: str, exc: BaseException) -> Verdict:
        log.warning("moderation.layer_failed", layer=layer, failure_mode=mode, error=type(exc).__name__)
        if mode == "closed":
            raise ModerationUnavailable(f"{layer} layer failed: {type(exc).__name__}")
        return ALLOW

    # ---------------------------------------------------------------- records

    async def _record(self, msg: IncomingMessage, verdict: Verdict, stage: Stage, text: str) -> Verdict:
        audit = self._audit.audit if self._audit is not None else self.policy.audit
        event = AuditEvent(
            time=time.time(),
            platform=msg.key.platform.value,
            space=msg.key.space,
            channel=msg.key.channel,
            thread=msg.key.thread or "",
            user_id=msg.user_id,
            author_name=msg.author_name,
            message_id=msg.message_id,
            stage=stage.value,
            action=verdict.action.value,
            category=verdict.category or "",
            layer=verdict.layer or "",
            excerpt=text[: audit.excerpt_chars] if audit.store_excerpt else "",
            category_name=(
                self.policy.categories[verdict.category].name
                if verdict.category in self.policy.categories
                else ""
            ),
        )
        log.info(
            "moderation.verdict",
            stage=stage.value,
            action=verdict.action.value,
            category=verdict.category,
            layer=verdict.layer,
        )
        try:
            if self._audit is not None:
                await self._audit.record(event)
            if self._strikes is not None and stage is Stage.INPUT and verdict.action is Action.BLOCK:
                until = await self._strikes.strike(msg.user_id)
                if until is not None:
                    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(until))
                    verdict = Verdict(
                        verdict.action,
                        category=verdict.category,
                        layer=verdict.layer,
                        score=verdict.score,
                        notice=f"{verdict.notice} You're muted here until {when} after repeated blocked requests.",
                    )
        except HistoryUnavailable:
            log.warning("moderation.audit_unavailable")
        await publish_all(self.feeds, event)
        return verdict


def load_checks(policy: Policy) -> LocalChecks:
    """The learned checks of `layers.classifier`; a missing or broken weight file stops start-up."""
    model_dir = policy.layers.classifier.model_dir
    try:
        return LocalChecks.load(Path(model_dir) if model_dir else None)
    except ClassifierLoadError as exc:
        raise ConfigurationError(
            f"layers.classifier: cannot load the learned checks: {exc}; point layers.classifier.model_dir at a "
            "folder written by `python -m tools.train_checks`, reinstall the package, or set "
            "layers.classifier.enabled: false",
            setting="layers.classifier.model_dir",
        ) from None


def _worse(a: Verdict, b: Verdict) -> Verdict:
    return b if _SEVERITY[b.action] > _SEVERITY[a.action] else a


GuardMode = Literal["off", "llama-guard", "self-check"]


def resolve_guard(settings: AlignmentSettings, policy: Policy) -> tuple[GuardMode, str | None]:
    """Which guard-model layer runs, and the Llama Guard server's URL. `auto` is llama-guard when a URL
    is set (ALIGNMENT_GUARD_URL, or `layers.guard.url` with `enabled: true` in the policy), else off."""
    layer = policy.layers.guard
    url = settings.guard_url or (layer.url if layer.enabled else None)
    mode = settings.guard_mode
    if mode == "auto":
        if url is None and layer.enabled:
            raise ConfigurationError(
                "the policy's layers.guard.enabled is true but no guard is configured: set "
                "ALIGNMENT_GUARD_URL (Llama Guard) or ALIGNMENT_GUARD_MODE=self-check (the main model judges)",
                setting="ALIGNMENT_GUARD_MODE",
            )
        return ("llama-guard", url) if url else ("off", None)
    if mode == "llama-guard" and not url:
        raise ConfigurationError(
            "ALIGNMENT_GUARD_MODE=llama-guard needs ALIGNMENT_GUARD_URL, a TGI serving Llama Guard 3 "
            "(docker compose --profile guard: http://guard:80); with no second model use self-check",
            setting="ALIGNMENT_GUARD_URL",
        )
    if mode == "self-check" and settings.guard_url:
        raise ConfigurationError(
            "ALIGNMENT_GUARD_MODE=self-check asks the model at TGI_URL, but ALIGNMENT_GUARD_URL is set too: "
            "unset ALIGNMENT_GUARD_URL, or use ALIGNMENT_GUARD_MODE=llama-guard",
            setting="ALIGNMENT_GUARD_MODE",
        )
    return mode, (url if mode == "llama-guard" else None)


def guard_categories(policy: Policy) -> dict[str, str]:
    """Llama Guard's own names of the categories the policy acts on (Llama Guard was trained on them)."""
    return {
        code: GUARD_CATEGORIES[code]
        for code, cat in policy.categories.items()
        if code in GUARD_CATEGORIES and cat.action is not Action.ALLOW
    }


def judged_categories(policy: Policy, stage: Stage) -> dict[str, JudgedCategory]:
    """What the self-check lists: the categories the policy acts on, with the policy's names and
    descriptions; jailbreaks (JB) only for requests. JM (typed control tokens) never: the judge sees
    them neutralized, and the rules flag them."""
    return {
        code: JudgedCategory(cat.name, cat.description)
        for code, cat in policy.categories.items()
        if cat.action is not Action.ALLOW and code != "JM" and (code != "JB" or stage is Stage.INPUT)
    }


def build_guard(
    *,
    settings: AlignmentSettings,
    policy: Policy,
    http: httpx.AsyncClient | None,
    generator: TextGenerator | None,
) -> GuardModel | None:
    """The guard-model layer, or None: mode off, or the client it needs was not given (the policy tools and
    the benchmarks pass none: local layers only)."""
    mode, url = resolve_guard(settings, policy)
    if mode == "llama-guard" and url is not None and http is not None:
        return LlamaGuardClient(
            http=http, url=url, layer=policy.layers.guard, categories=guard_categories(policy)
        )
    if mode == "self-check" and generator is not None:
        return SelfCheckGuard(
            generator=generator,
            layer=policy.layers.guard,
            input_categories=judged_categories(policy, Stage.INPUT),
            output_categories=judged_categories(policy, Stage.OUTPUT),
        )
    return None


def build_moderator(
    *,
    settings: AlignmentSettings,
    redis: aioredis.Redis | None,
    http: httpx.AsyncClient | None,
    key_prefix: str,
    mute: Callable[[str, float], Awaitable[float]] | None,
    feeds: Sequence[ModFeed] = (),
    generator: TextGenerator | None = None,
) -> PolicyModerator:
    """`http` carries the Llama Guard requests; `generator` (the model client) the self-check's."""
    policy = load_policy(settings.policy_file)
    guard = build_guard(settings=settings, policy=policy, http=http, generator=generator)
    keys = KeySpace(key_prefix)
    audit = AuditLog(redis=redis, keys=keys, audit=policy.audit) if redis is not None else None
    strikes = (
        StrikeCounter(redis=redis, keys=keys, strikes=policy.strikes, mute=mute)
        if redis is not None and mute is not None
        else None
    )
    return PolicyModerator(policy=policy, guard=guard, audit=audit, strikes=strikes, feeds=feeds)
