"""The moderation policy: a YAML file validated into typed models at start-up.

An invalid file stops start-up with a `ConfigurationError` that names the file, the line and the field.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core import i18n
from core.errors import ConfigurationError
from core.models import Action, IncomingMessage

# S1–S14 follow the MLCommons hazard taxonomy of Llama Guard 3; JB is a jailbreak or prompt injection
# (instructions that try to change the assistant's rules); JM is a bare chat-format control token such as
# `<|im_start|>`, which core/chatml.py makes harmless text before any prompt is built.
CATEGORY_CODES = (*(f"S{i}" for i in range(1, 15)), "JB", "JM")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Category(_Model):
    name: str
    description: str
    action: Action
    notice: str = Field(min_length=1)
    # The notice in other languages, by ISO 639 code ({ja: …}); without one, the shipped translation
    # (core/locales/) is shown while `notice` is the default policy's text, else `notice` itself.
    notices: dict[str, str] = {}


class OverrideWhen(_Model):
    adult_channel: bool | None = None
    platform: str | None = None
    space: str | None = None
    channel: str | None = None

    def matches(self, msg: IncomingMessage) -> bool:
        return (
            (self.adult_channel is None or msg.adult_channel == self.adult_channel)
            and (self.platform is None or msg.key.platform.value == self.platform)
            and (self.space is None or msg.key.space == self.space)
            and (self.channel is None or msg.key.channel == self.channel)
        )


# What happens to a request or answer in a language the local checks do not cover, when no guard model
# is configured (docs/moderation.md "Languages"): check = the local checks anyway; flag = answer and record
# it for the moderators; refuse = a notice instead of an answer.
UncoveredMode = Literal["check", "flag", "refuse"]


class Override(_Model):
    """Per community (`when.space`: a Discord guild or Slack workspace id), channel or platform: the actions
    of some categories, and what a guard's "controversial" verdict does there."""

    when: OverrideWhen
    actions: dict[str, Action] = {}
    controversial: Action | None = None
    uncovered_language: UncoveredMode | None = None

    @field_validator("actions")
    @classmethod
    def _known(cls, value: dict[str, Action]) -> dict[str, Action]:
        for code in value:
            if code not in CATEGORY_CODES:
                raise ValueError(f"unknown category {code!r} (use one of {', '.join(CATEGORY_CODES)})")
        return value


class RulesLayer(_Model):
    enabled: bool = True
    timeout_s: float = Field(0.1, gt=0)
    failure_mode: Literal["open", "closed"]


class GuardLayer(_Model):
    enabled: bool = False
    url: str | None = None
    timeout_s: float = Field(3.0, gt=0)
    failure_mode: Literal["open", "closed"]
    threshold: float = Field(0.5, ge=0, le=1)
    max_concurrency: int = Field(8, ge=1)
    cache_ttl_s: float = Field(300, ge=0)
    check_input: bool = True
    check_output: bool = True
    # Qwen3Guard's "Controversial" (risky depending on context): block, flag (answer, record for the
    # moderators) or allow; never more than the category's own action. Per community: `overrides`.
    controversial: Action = Action.FLAG


class Languages(_Model):
    # Languages the local checks (rules) are written and measured for, as ISO 639 codes.
    covered: list[str] = Field(["en"], min_length=1)
    uncovered: UncoveredMode = "check"

    @field_validator("covered")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if not (code.isascii() and code.isalpha() and code.islower() and 2 <= len(code) <= 3):
                raise ValueError(f"{code!r} is not an ISO 639 code (use lower-case codes such as en, ja)")
        return value


class ClassifierLayer(_Model):
    """The learned local checks (core/alignment/classifier.py). Absent from a policy file: these defaults."""

    enabled: bool = True
    failure_mode: Literal["open", "closed"] = "closed"
    model_dir: str | None = None  # None: the weights that ship with the project
    input_threshold: float | None = Field(None, ge=0, le=1)  # None: the threshold shipped with the weights
    output_threshold: float | None = Field(None, ge=0, le=1)
    # Strict streaming: a partial answer scoring at least this (below the block threshold), or whose score
    # would reach it if it rose once more as much as over the last chunk, is held, nothing more shown, until
    # neither holds, the answer ends or ALIGNMENT_STREAM_HOLD_MAX_CHARS more arrived. Picked for the shipped
    # answer weights (docs/moderation.md "The suspicion hold"); null: no hold.
    output_hold_threshold: float | None = Field(0.771, ge=0, le=1)
    check_input: bool = True
    check_output: bool = True
    # Requests in the languages the multilingual check lists (ja, zh, es, fr, de) are read by it instead of
    # the English one (docs/moderation.md "Beyond English"); its threshold: per language as shipped, or this.
    multilingual: bool = True
    multilingual_threshold: float | None = Field(None, ge=0, le=1)


class Layers(_Model):
    rules: RulesLayer
    guard: GuardLayer
    classifier: ClassifierLayer = ClassifierLayer()


class Audit(_Model):
    max_entries: int = Field(10_000, ge=1)
    retention_days: float = Field(30, gt=0)
    store_excerpt: bool = True  # false: no message text at all (no excerpt, no replay text)
    excerpt_chars: int = Field(120, ge=0, le=1000)
    # For `policy replay`: also record the checks that allowed (requests, and whole answers), and keep up to
    # `replay_chars` of each checked text (and of the request an answer answered). docs/moderation.md.
    record_allowed: bool = False
    replay_chars: int = Field(0, ge=0, le=8000)
    # A member's report of an answer (core/reports.py) keeps up to this much of the request and of the answer,
    # for the moderators' feed and for `policy replay` / `policy reports` (with `store_excerpt`).
    report_chars: int = Field(2000, ge=0, le=8000)


class Strikes(_Model):
    count: int = Field(3, ge=1)
    window_s: float = Field(3600, gt=0)
    mute_s: float = Field(3600, ge=0)


class Policy(_Model):
    version: Literal[1]
    categories: dict[str, Category]
    overrides: list[Override] = []
    layers: Layers
    audit: Audit = Audit()
    strikes: Strikes = Strikes()
    languages: Languages = Languages()
    extra_patterns: dict[str, list[str]] = {}
    # Rule files of your own (core/alignment/rules.py describes the format); relative to the policy file.
    rule_files: list[Path] = []

    @field_validator("categories")
    @classmethod
    def _all_categories(cls, value: dict[str, Category]) -> dict[str, Category]:
        unknown = sorted(set(value) - set(CATEGORY_CODES))
        if unknown:
            raise ValueError(f"unknown categories {unknown} (use {', '.join(CATEGORY_CODES)})")
        missing = [c for c in CATEGORY_CODES if c not in value]
        if missing:
            raise ValueError(f"missing categories {missing}: every category needs an action")
        return value

    @field_validator("extra_patterns")
    @classmethod
    def _patterns_compile(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for code, patterns in value.items():
            if code not in CATEGORY_CODES:
                raise ValueError(f"unknown category {code!r}")
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"pattern {pattern!r} does not compile: {exc}") from None
        return value

    def action_for(self, category: str, msg: IncomingMessage) -> Action:
        for override in self.overrides:
            if category in override.actions and override.when.matches(msg):
                return override.actions[category]
        return self.categories[category].action

    def controversial_for(self, msg: IncomingMessage) -> Action:
        """What a guard's "controversial" verdict does for `msg`: the first matching override that sets it,
        else `layers.guard.controversial`."""
        for override in self.overrides:
            if override.controversial is not None and override.when.matches(msg):
                return override.controversial
        return self.layers.guard.controversial

    def uncovered_mode(self, msg: IncomingMessage) -> UncoveredMode:
        """What happens to a language the local checks do not cover, without a guard model, for `msg`'s
        community or channel: the first override that sets `uncovered_language`, else `languages`."""
        for override in self.overrides:
            if override.uncovered_language is not None and override.when.matches(msg):
                return override.uncovered_language
        return self.languages.uncovered

    def notice_for(self, category: str, language: str) -> str:
        """The category's notice in `language` (ISO 639), English when there is no translation."""
        cat = self.categories[category]
        if language in cat.notices:
            return cat.notices[language]
        key = f"category.{category}"
        if cat.notice == i18n.catalog(i18n.FALLBACK).get(key):
            return i18n.translate(key, language)
        return cat.notice


def default_policy_path() -> Path:
    return Path(str(resources.files("core.alignment") / "policy.yaml"))


def load_policy(path: Path | None = None) -> Policy:
    path = path or default_policy_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"ALIGNMENT_POLICY_FILE: cannot read {path}: {exc.strerror}", setting="ALIGNMENT_POLICY_FILE"
        ) from None
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        # One line: PyYAML's own text quotes the offending line with a caret under it, over several lines.
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        column = f" (column {mark.column + 1})" if mark is not None else ""
        raise ConfigurationError(
            f"{where}: not valid YAML: {problem}{column}", setting="ALIGNMENT_POLICY_FILE"
        ) from None
    duplicate = _duplicate_key(node)
    if duplicate is not None:
        # YAML keeps the last of two equal keys silently: an operator's `model_dir:` or `overrides:` written
        # above the one already in the file would be dropped without a word.
        key, line, first, where = duplicate
        raise ConfigurationError(
            f"invalid policy: {path}:{line}: {where or '(top)'}: {key!r} is given twice (also at line {first}); "
            "only the last one would count: keep one",
            setting="ALIGNMENT_POLICY_FILE",
        )
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            problems.append(f"{path}:{_line_of(node, loc)}: {'.'.join(loc) or '(top)'}: {err['msg']}")
        raise ConfigurationError(
            "invalid policy: " + "; ".join(problems), setting="ALIGNMENT_POLICY_FILE"
        ) from None
    if not policy.rule_files:
        return policy
    return policy.model_copy(update={"rule_files": [path.parent / p for p in policy.rule_files]})


def _duplicate_key(node: Any, where: str = "") -> tuple[str, int, int, str] | None:
    """The first key given twice in one mapping: (key, its second line, its first line, the mapping's path)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name, line = str(key.value), key.start_mark.line + 1
            if name in seen:
                return name, line, seen[name], where
            seen[name] = line
            found = _duplicate_key(value, f"{where}.{name}" if where else name)
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_key(item, f"{where}.{i}")
            if found is not None:
                return found
    return None


def _line_of(node: Any, loc: list[str]) -> int:
    """The 1-based line of the deepest YAML node on the path `loc` (for error messages)."""
    line = (node.start_mark.line + 1) if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            return line
    return line
