"""`PolicyModerator`: the layers in order, the policy's actions, the audit trail, the feed and strikes.

Input: normalizer + rules, the learned classifier, then the guard model when configured. Output: on the
whole answer every layer; on a partial answer (before it is shown) the cheap layers (normalizer + output
rules + the answer classifier), and the guard model too when `guard_partial` (ALIGNMENT_STREAM_MODE=strict,
where the service checks per chunk, not per update).
A layer that fails follows its failure mode: `closed` raises `ModerationUnavailable` (the user is told
moderation is unavailable), `open` allows and records the failure.

The guard model is Qwen3Guard or Llama Guard on a server of its own, or the main model judging itself
(`resolve_guard`, ALIGNMENT_GUARD_MODE). Each check asks it about the categories the message's community acts
on (the policy's `overrides`, e.g. per `space`); its verdict's categories get that community's actions, and a
"controversial" verdict (Qwen3Guard) that community's `controversial` action. With a guard of its own server,
`begin_input` returns the rules' verdict at once and the guard's part as a coroutine, so that the service can
start generating meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

import httpx
import redis.asyncio as aioredis
import structlog

from core import i18n
from core.alignment.audit import AuditEvent, AuditLog, ModFeed, StrikeCounter, publish_all
from core.alignment.autoguard import AutoGuard, mode_for_model
from core.alignment.base import InputCheck, Moderator
from core.alignment.classifier import ClassifierLoadError, LinearCheck, LocalChecks
from core.alignment.guard import (
    GuardAnswerError,
    GuardError,
    GuardModel,
    LlamaGuardClient,
    llama_guard_categories,
)
from core.alignment.language import UNDETERMINED, detect_language, preload_detector
from core.alignment.normalize import normalize
from core.alignment.policy import Audit, Policy, load_policy
from core.alignment.qwen3guard import Qwen3GuardClient
from core.alignment.rules import (
    decide,
    decide_output,
    input_ruleset,
    load_rules,
    output_ruleset,
    pattern_rules,
)
from core.alignment.selfcheck import JudgedCategory, SelfCheckGuard
from core.errors import ConfigurationError, HistoryUnavailable, ModerationUnavailable
from core.keys import KeySpace
from core.llm import TextGenerator
from core.models import ALLOW, Action, IncomingMessage, Stage, Verdict
from core.redact import redact_url
from core.settings import AlignmentSettings
from core.streaming import first_check_chars

log = structlog.get_logger(__name__)
_SEVERITY = {Action.ALLOW: 0, Action.FLAG: 1, Action.BLOCK: 2}
# When several categories match with the same action, the notice of the first in this order is shown:
# self-harm first (its notice points to help), then the gravest.
_PRECEDENCE = (
    *("S4", "S11", "S9", "S3", "S1", "S10", "S13", "S7", "S5", "S2", "S8", "S12", "S14", "JB", "JM", "S6"),
)
# An answer the classifier allows but finds suspicious (score at or above `output_hold_threshold`).
HOLD = Verdict(Action.ALLOW, hold=True)
# The classifier's category when its weights have no category head (docs/moderation.md).
FALLBACK_CATEGORY = "S2"


class PolicyModerator(Moderator):
    def __init__(
        self,
        *,
        policy: Policy,
        guard: GuardModel | None = None,
        audit: AuditLog | None = None,
        strikes: StrikeCounter | None = None,
        feeds: Sequence[ModFeed] = (),
        guard_partial: bool = False,
        checks: LocalChecks | None = None,
        hold_rise: tuple[int, int] = (0, 0),
    ) -> None:
        """`hold_rise` (strict streaming's chunk and the length of its first check; 0: off): the
        suspicion hold also holds a partial answer whose score would reach the hold level if it rose once
        more as much as it did since the text a chunk shorter, when that text was checked too (at least
        the first check's length; docs/moderation.md "The suspicion hold")."""
        self.policy = policy
        self._guard_partial = guard_partial
        self._hold_rise, self._hold_rise_from = hold_rise
        self._checks = (
            checks if checks is not None or not policy.layers.classifier.enabled else load_checks(policy)
        )
        # The built-in rule files, the operator's own (`rule_files`) and `extra_patterns` (strong: no
        # framing relieves them); an invalid rule file stops start-up here.
        rules = [*load_rules(policy.rule_files), *pattern_rules(policy.extra_patterns)]
        self._input_rules = input_ruleset(rules)
        self._output_rules = output_ruleset(rules)
        self._guard = guard
        self._audit = audit
        self._strikes = strikes
        self.feeds: list[ModFeed] = list(feeds)

    # ---------------------------------------------------------------- the protocol

    @property
    def guard(self) -> GuardModel | None:
        return self._guard

    def audit_settings(self) -> Audit:
        return self._audit.audit if self._audit is not None else self.policy.audit

    async def check_input(self, msg: IncomingMessage) -> Verdict:
        check = await self.begin_input(msg, overlap=False)
        return check.verdict if check.pending is None else await check.pending

    async def begin_input(self, msg: IncomingMessage, *, overlap: bool = True) -> InputCheck:
        """The rules' verdict now; with a guard on a server of its own (and `overlap`), the guard's part
        as `pending`, for the service to await while it starts generating. Recorded once, when final."""
        language = detect_language(msg.text)
        verdict = self._local(msg, msg.text, Stage.INPUT)
        route = self._route(msg, language, Stage.INPUT)
        if verdict.action is not Action.BLOCK and route == "guard" and self._guard is not None:
            pending = self._finish_input(msg, verdict, language)
            if overlap and self._guard.overlaps:
                return InputCheck(self._tag(msg, verdict, language), pending)
            return InputCheck(await pending)
        verdict = self._tag(msg, _worse(verdict, self._language_verdict(msg, route)), language)
        return InputCheck(await self._record(msg, verdict, Stage.INPUT, msg.text))

    async def _finish_input(self, msg: IncomingMessage, rules: Verdict, language: str) -> Verdict:
        verdict = _worse(rules, await self._guard_verdict(msg, msg.text, None, Stage.INPUT))
        verdict = self._tag(msg, verdict, language)
        return await self._record(msg, verdict, Stage.INPUT, msg.text)

    async def check_output(self, msg: IncomingMessage, text: str, *, final: bool) -> Verdict:
        language = detect_language(text)
        verdict = self._local(msg, text, Stage.OUTPUT, partial=not final)
        route = self._route(msg, language, Stage.OUTPUT)
        if route == "flag" and not self._covered(detect_language(msg.text)):
            route = "local"  # the request in that language was flagged already: one record per exchange
        if route == "guard":
            if (final or self._guard_partial) and verdict.action is not Action.BLOCK:
                verdict = _worse(verdict, await self._guard_verdict(msg, msg.text, text, Stage.OUTPUT))
        else:
            verdict = _worse(verdict, self._language_verdict(msg, route))
        verdict = self._tag(msg, verdict, language)
        if verdict.action is Action.BLOCK or final:  # a partial answer's check is recorded when it blocks
            verdict = await self._record(msg, verdict, Stage.OUTPUT, text)
        return verdict

    # ---------------------------------------------------------------- languages

    def _covered(self, language: str) -> bool:
        return language == UNDETERMINED or language in self.policy.languages.covered

    def _route(
        self, msg: IncomingMessage, language: str, stage: Stage
    ) -> Literal["local", "guard", "flag", "refuse"]:
        """What checks text in `language` gets besides the rules. With a guard model: the guard when its
        switch for the stage is on, and always for a language the local checks do not cover. Without
        one, such a language follows the community's setting (`Policy.uncovered_mode`)."""
        covered = self._covered(language)
        if self._guard is not None:
            layer = self.policy.layers.guard
            switch = layer.check_input if stage is Stage.INPUT else layer.check_output
            return "guard" if switch or not covered else "local"
        if covered:
            return "local"
        mode = self.policy.uncovered_mode(msg)
        return "local" if mode == "check" else mode

    def _language_verdict(self, msg: IncomingMessage, route: str) -> Verdict:
        if route == "flag":
            return Verdict(Action.FLAG, layer="language")
        if route == "refuse":
            member = detect_language(msg.text)
            covered = ", ".join(i18n.language_name(c, member) for c in self.policy.languages.covered)
            notice = i18n.translate("language_refused", member, covered=covered)
            return Verdict(Action.BLOCK, layer="language", notice=notice)
        return ALLOW

    def _tag(self, msg: IncomingMessage, verdict: Verdict, language: str) -> Verdict:
        """The verdict with the language of the text checked, and its notice in the member's language."""
        notice = verdict.notice
        if verdict.category in self.policy.categories:
            notice = self.policy.notice_for(verdict.category, detect_language(msg.text))
        return replace(verdict, language=language, notice=notice)

    # ---------------------------------------------------------------- layers

    def check_text(self, text: str, stage: Stage, msg: IncomingMessage) -> Verdict:
        """The local layers only (used by `policy check` / `policy eval`)."""
        return self._local(msg, text, stage)

    def _local(self, msg: IncomingMessage, text: str, stage: Stage, *, partial: bool = False) -> Verdict:
        verdict = self._rules(msg, text, stage)
        if verdict.action is Action.BLOCK:
            return verdict
        learned = self._classifier(msg, text, stage, partial=partial)
        worse = _worse(verdict, learned)
        return replace(worse, hold=True) if learned.hold and not worse.hold else worse

    def _classifier(self, msg: IncomingMessage, text: str, stage: Stage, *, partial: bool = False) -> Verdict:
        """The learned check; for an answer, `msg.text` (the user's request) is its context. On a partial
        answer it may ask to hold (strict streaming's suspicion hold)."""
        layer = self.policy.layers.classifier
        checks = self._checks
        if checks is None or not (layer.check_input if stage is Stage.INPUT else layer.check_output):
            return ALLOW
        request: LinearCheck | None  # the request check that names the category (its own head)
        try:
            if stage is Stage.INPUT:
                prompt = None
                language = detect_language(text)
                request = checks.request_check(language) if layer.multilingual else checks.request
                score = checks.score_request(text, request)
                if request is not checks.request:  # the multilingual check: its threshold for the language
                    threshold = (
                        request.threshold_for(language)
                        if layer.multilingual_threshold is None
                        else layer.multilingual_threshold
                    )
                else:
                    threshold = request.threshold if layer.input_threshold is None else layer.input_threshold
            else:
                prompt = msg.text or None
                request = checks.request_check(detect_language(prompt or "")) if layer.multilingual else None
                score = checks.score_answer(text, prompt)
                threshold = (
                    checks.answer.threshold if layer.output_threshold is None else layer.output_threshold
                )
            if score < threshold:
                hold = layer.output_hold_threshold if stage is Stage.OUTPUT else None
                if hold is None:
                    return ALLOW
                if score >= hold:
                    return HOLD
                if partial and self._hold_rise and len(text) - self._hold_rise >= self._hold_rise_from:
                    # Rising: what one more chunk would score if it rose as much as the last one did.
                    before = checks.score_answer(text[: -self._hold_rise], prompt)
                    return HOLD if 2 * score - before >= hold else ALLOW
                return ALLOW
            category = checks.category(text, prompt, request) or FALLBACK_CATEGORY
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
        acting = self.acting_categories(msg, stage)
        if not acting:  # this community allows everything the guard could name
            return ALLOW
        try:
            result = await self._guard.classify(user=user, agent=agent, categories=acting)
        except GuardError as exc:
            return self._layer_failed(self._guard.name, self._guard.layer.failure_mode, exc)
        categories = [c for c in result.categories if c in self.policy.categories] or ["S1"]
        if result.unsafe and result.score >= self._guard.layer.threshold:
            return self._decide(categories, msg, layer=self._guard.name, score=result.score)
        if result.controversial:  # the community's choice, never more than the category's own action
            verdict = self._decide(categories, msg, layer=self._guard.name, score=result.score)
            cap = self.policy.controversial_for(msg)
            if _SEVERITY[verdict.action] > _SEVERITY[cap]:
                return ALLOW if cap is Action.ALLOW else _with_action(verdict, cap)
            return verdict
        return ALLOW

    def acting_categories(self, msg: IncomingMessage, stage: Stage) -> tuple[str, ...]:
        """The categories the community `msg` comes from acts on at `stage` (block or flag): what a guard
        is asked about. Jailbreaks (JB) only for requests; JM never (the rules flag typed control tokens)."""
        return tuple(
            code
            for code in self.policy.categories
            if code != "JM"
            and (code != "JB" or stage is Stage.INPUT)
            and self.policy.action_for(code, msg) is not Action.ALLOW
        )

    def _decide(self, categories: list[str], msg: IncomingMessage, *, layer: str, score: float) -> Verdict:
        best: Verdict = ALLOW
        for category in sorted(categories, key=lambda c: _PRECEDENCE.index(c) if c in _PRECEDENCE else 99):
            action = self.policy.action_for(category, msg)
            if _SEVERITY[action] > _SEVERITY[best.action]:
                notice = self.policy.categories[category].notice
                best = Verdict(action, category=category, layer=layer, score=score, notice=notice)
        return best

    def _layer_failed(self, layer: str, mode: str, exc: BaseException) -> Verdict:
        log.warning(
            "moderation.layer_failed",
            layer=layer,
            failure_mode=mode,
            error=type(exc).__name__,
            reason=_failure_reason(exc),
        )
        log.debug("moderation.layer_failed.detail", layer=layer, detail=str(exc))
        if mode == "closed":
            raise ModerationUnavailable(f"{layer} layer failed: {type(exc).__name__}") from exc
        return ALLOW

    # ---------------------------------------------------------------- records

    async def _record(self, msg: IncomingMessage, verdict: Verdict, stage: Stage, text: str) -> Verdict:
        """Blocks and flags: the audit trail, strikes, the moderators' feeds. Allowed checks: the audit trail
        only, when the policy records them for replay (`audit.record_allowed`)."""
        audit = self._audit.audit if self._audit is not None else self.policy.audit
        allowed = verdict.action is Action.ALLOW
        if allowed and (self._audit is None or not audit.record_allowed):
            return verdict
        replay = audit.replay_chars if audit.store_excerpt else 0
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
                else (_UNCOVERED if verdict.layer == "language" else "")
            ),
            text=text[:replay],
            prompt=msg.text[:replay] if stage is Stage.OUTPUT else "",
            adult_channel=msg.adult_channel,
            language=verdict.language or "",
        )
        if allowed and self._audit is not None:
            try:
                await self._audit.record(event)
            except HistoryUnavailable:
                log.warning("moderation.audit_unavailable")
            return verdict
        log.info(
            "moderation.verdict",
            stage=stage.value,
            action=verdict.action.value,
            category=verdict.category,
            layer=verdict.layer,
            language=verdict.language,
        )
        try:
            if self._audit is not None:
                await self._audit.record(event)
            if self._strikes is not None and stage is Stage.INPUT and verdict.action is Action.BLOCK:
                until = await self._strikes.strike(msg.user_id)
                if until is not None:
                    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(until))
                    muted = i18n.translate("muted.strikes", detect_language(msg.text), when=when)
                    verdict = replace(verdict, notice=f"{verdict.notice} {muted}")
        except HistoryUnavailable:
            log.warning("moderation.audit_unavailable")
        await publish_all(self.feeds, event)
        return verdict


_UNCOVERED = "Language not covered by the local checks"


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


def _with_action(verdict: Verdict, action: Action) -> Verdict:
    return Verdict(
        action, category=verdict.category, layer=verdict.layer, score=verdict.score, notice=verdict.notice
    )


# `auto` (resolved): the server is asked what it serves at the first verdict (core/alignment/autoguard.py).
GuardMode = Literal["off", "qwen3guard", "llama-guard", "self-check", "auto"]
_SERVERS = {
    "qwen3guard": "vLLM or SGLang serving Qwen3Guard-Gen (docker compose: http://guard:8000)",
    "llama-guard": "a TGI serving Llama Guard 3 (docker compose --profile llama-guard: http://llama-guard:80)",
}


def resolve_guard(settings: AlignmentSettings, policy: Policy) -> tuple[GuardMode, str | None]:
    """Which guard-model layer runs, and its server's URL. With a URL (ALIGNMENT_GUARD_URL, or
    `layers.guard.url` with `enabled: true` in the policy), `auto` is the mode ALIGNMENT_GUARD_MODEL's model
    calls for or, unset, stays `auto`: the server is asked at the first verdict. Without one, `auto` is off."""
    layer = policy.layers.guard
    url = settings.guard_url or (layer.url if layer.enabled else None)
    mode = settings.guard_mode
    if mode == "auto":
        if url is None and layer.enabled:
            raise ConfigurationError(
                "the policy's layers.guard.enabled is true but no guard is configured: set "
                "ALIGNMENT_GUARD_URL (Qwen3Guard or Llama Guard) or ALIGNMENT_GUARD_MODE=self-check "
                "(the main model judges)",
                setting="ALIGNMENT_GUARD_MODE",
            )
        if url is None:
            return "off", None
        if settings.guard_model is None:
            return "auto", url
        served = mode_for_model(settings.guard_model)
        if served is None:
            raise ConfigurationError(
                f"ALIGNMENT_GUARD_MODEL={settings.guard_model} is neither Qwen3Guard-Gen nor Llama Guard: "
                "set it to the model the guard server serves (e.g. Qwen/Qwen3Guard-Gen-0.6B), or unset it",
                setting="ALIGNMENT_GUARD_MODEL",
            )
        return served, url
    if mode in _SERVERS and not url:
        raise ConfigurationError(
            f"ALIGNMENT_GUARD_MODE={mode} needs ALIGNMENT_GUARD_URL, {_SERVERS[mode]}; "
            "with no second model use self-check",
            setting="ALIGNMENT_GUARD_URL",
        )
    if mode == "self-check" and settings.guard_url:
        raise ConfigurationError(
            "ALIGNMENT_GUARD_MODE=self-check asks the model at TGI_URL, but ALIGNMENT_GUARD_URL is set too: "
            "unset ALIGNMENT_GUARD_URL, or use ALIGNMENT_GUARD_MODE=qwen3guard or llama-guard",
            setting="ALIGNMENT_GUARD_MODE",
        )
    return mode, (url if mode in _SERVERS else None)


def guard_categories(policy: Policy, model_id: str | None = None) -> dict[str, str]:
    """Llama Guard's own names of the categories the policy acts on by default (Llama Guard was trained on
    them; the 1B knows S1-S13). Each check narrows them to its community's (`acting_categories`)."""
    known = llama_guard_categories(model_id)
    return {
        code: known[code]
        for code, cat in policy.categories.items()
        if code in known and cat.action is not Action.ALLOW
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
    layer = policy.layers.guard
    if url is not None and http is not None:
        if mode == "qwen3guard":
            return Qwen3GuardClient(http=http, url=url, layer=layer, model=settings.guard_model)
        if mode == "llama-guard":
            return LlamaGuardClient(
                http=http,
                url=url,
                layer=layer,
                categories=guard_categories(policy, settings.guard_model),
                model_id=settings.guard_model,
            )
        if mode == "auto":
            return AutoGuard(http=http, url=url, layer=layer, llama_guard_categories=guard_categories(policy))
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
    """`http` carries the guard server's requests; `generator` (the model client) the self-check's."""
    policy = load_policy(settings.policy_file)
    preload_detector()  # the language detector's model: loading starts now, not on the first message
    guard = build_guard(settings=settings, policy=policy, http=http, generator=generator)
    keys = KeySpace(key_prefix)
    audit = AuditLog(redis=redis, keys=keys, audit=policy.audit) if redis is not None else None
    strikes = (
        StrikeCounter(redis=redis, keys=keys, strikes=policy.strikes, mute=mute)
        if redis is not None and mute is not None
        else None
    )
    return PolicyModerator(
        policy=policy,
        guard=guard,
        audit=audit,
        strikes=strikes,
        feeds=feeds,
        guard_partial=settings.stream_mode == "strict",
        hold_rise=hold_rise(settings) if settings.stream_mode == "strict" else (0, 0),
    )


def hold_rise(settings: AlignmentSettings) -> tuple[int, int]:
    """The suspicion hold on a rising score measures over strict streaming's chunk, from its first check."""
    chunk = settings.stream_chunk_chars
    return chunk, first_check_chars(settings.stream_lookahead_chars, chunk)


def _failure_reason(exc: BaseException) -> str | None:
    """Why a guard gave no verdict, for the operator: unreachable, too slow, an HTTP status, or an answer
    out of its format. Never the guard's answer or an error body: either may quote the judged text."""
    if isinstance(exc, GuardAnswerError):
        return "an answer not in the model's format"
    if not isinstance(exc, GuardError):
        return None
    return redact_url(exc.reason)[:160]  # e.g. a connection error's own words, or "no verdict within 3 s"
