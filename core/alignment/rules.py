"""The rule layer: an engine for the rules in core/alignment/rulefiles/, loaded and compiled once.

Rules are for what patterns can carry without learning: unambiguous high-severity content (sexual content
with minors, first-person suicide methods, making explosives or chemical weapons), jailbreak templates
("ignore all previous instructions", DAN, developer mode, a fake system turn), chat-format control tokens
(JM) and sandbox abuse. Intent in general is the learned checks' and the guard model's job.

Each rule file holds the rules of one category (or, for another language, a few categories) as data:

    category: S9              # the policy category its rules report (a rule may name its own)
    stage: input              # input (requests) or output (answers); a rule may name its own
    rules:
      - id: S9.explosive.make
        tier: strong          # strong | intent | content | topic | marker
        patterns: ['\\b(?:make|build) (?:a )?{{WEAPON}}']
        match: ["how do I build a pipe bomb"]        # must fire this rule (through the normalizer)
        no_match: ["how do I make a bath bomb"]      # must not fire it

Patterns are regular expressions on `normalize()`d text (lower case, evasions folded); `{{NAME}}` is a
fragment of vocabulary.yaml. Words of another script are folded the way the normalizer folds them.

Tiers: **strong** and **marker** rules count on their own; **intent** and **content** rules count unless a
safe frame relieves their category (frames.yaml: protective, history, definition, fiction …); **topic**
rules count only when the message also seeks instructions or content and no frame relieves them. A frame's
`cancelled_by` names conditions that void it ("without getting caught" voids a protective frame).

A file that cannot be used (YAML, an unknown tier or category, a pattern that does not compile, a
duplicate id, an example that does not behave) stops start-up with one line naming the file, the rule
and the problem. Operators add files with the policy's `rule_files`; the policy's `extra_patterns` are
strong rules of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from core.alignment.normalize import fold_unicode, normalize
from core.alignment.prefilter import (
    PREFIX_LIMIT,
    Prefilter,
    gap_followers,
    has_inline_flags,
    required_literals,
    required_prefixes,
    starts_at_word,
)
from core.errors import ConfigurationError

CATEGORY_CODES = (*(f"S{i}" for i in range(1, 15)), "JB", "JM")
_FLAGS = re.DOTALL | re.MULTILINE
_FRAGMENT = re.compile(r"\{\{([A-Z][A-Z0-9_]*)\}\}")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when pyyaml was built with it


class Tier(StrEnum):
    STRONG = "strong"
    INTENT = "intent"
    CONTENT = "content"
    TOPIC = "topic"
    MARKER = "marker"


class RuleStage(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True, slots=True)
class RuleMatch:
    category: str
    tier: Tier = Tier.STRONG
    rule: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    id: str
    category: str
    tier: Tier
    stage: RuleStage
    patterns: tuple[str, ...]  # expanded and folded, ready to compile
    match: tuple[str, ...] = ()
    no_match: tuple[str, ...] = ()
    source: str = ""  # the file it came from


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    name: str
    regex: Searched
    relieves: frozenset[str]
    cancelled_by: tuple[str, ...] = ()
    relieves_content: bool = True  # fiction and games do not relieve content whose making is the harm
    relieves_strong: frozenset[str] = frozenset()  # sex education relieves the strong S4 rules
    stages: frozenset[RuleStage] = frozenset({RuleStage.INPUT})
    match: tuple[str, ...] = ()
    no_match: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Frames:
    frames: tuple[Frame, ...]
    conditions: Mapping[str, Searched]  # "seeks", "evasion", "instructions", …
    examples: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]  # condition → (match, no_match)


def rules_dir() -> Path:
    return Path(str(resources.files("core.alignment") / "rulefiles"))


# ------------------------------------------------------------------ loading


class _Invalid(Exception):
    def __init__(self, rule: str, problem: str) -> None:
        super().__init__(problem)
        self.rule = rule
        self.problem = problem


def _fail(path: Path, rule: str, problem: str, setting: str) -> ConfigurationError:
    where = f"{path}: rule {rule}: " if rule else f"{path}: "
    return ConfigurationError(f"invalid rule file {where}{problem}", setting=setting)


def _read_yaml(path: Path, setting: str) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except OSError as exc:
        raise _fail(path, "", f"cannot read it: {exc.strerror}", setting) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise _fail(path, "", f"not valid YAML{line}", setting) from None


def _strings(value: Any, what: str, rule: str, *, required: bool) -> tuple[str, ...]:
    if value is None:
        value = []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Invalid(rule, f"{what} must be a list of non-empty strings")
    if required and not value:
        raise _Invalid(rule, f"{what} needs at least one entry")
    return tuple(value)


def _expand(pattern: str, fragments: Mapping[str, str], rule: str) -> str:
    """`{{NAME}}` replaced by its fragment (fragments may use others), other scripts folded like text."""
    for _ in range(8):
        if not _FRAGMENT.search(pattern):
            break

        def fragment(m: re.Match[str]) -> str:
            if m.group(1) not in fragments:
                raise _Invalid(rule, f"unknown fragment {{{{{m.group(1)}}}}} (see vocabulary.yaml)")
            return fragments[m.group(1)]

        pattern = _FRAGMENT.sub(fragment, pattern)
    else:
        raise _Invalid(rule, "fragments nested too deep")
    return _NON_ASCII_RUN.sub(lambda m: fold_unicode(m.group(0)), pattern)


def _lead_gaps(pattern: str) -> str:
    """`pattern` with a look-ahead after each window of any characters (`.{0,80}`) for the strings that
    what follows must start with (`gap_followers`): the same matches, far fewer attempts in the window."""
    for at, prefixes in reversed(gap_followers(pattern, _FLAGS)):
        pattern = f"{pattern[:at]}(?={_trie(sorted(prefixes))}){pattern[at:]}"
    return pattern


def _compile(pattern: str, rule: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, _FLAGS)
    except re.error as exc:
        raise _Invalid(rule, f"pattern does not compile: {exc}") from None


class Searched:
    """A frame's or a condition's pattern, searched through a whole text (`search` says whether it is found).

    It is compiled behind a look-ahead for the strings its matches start with, when they can be told: the
    engine then rules out most positions with a few character tests instead of trying the whole pattern
    there. When every match also starts at a word boundary with a word character (`starts_at_word`), it
    can only start at the beginning of the text or after a non-word character, so the text is searched
    for a non-word character followed by it: a pattern that begins with a character class lets the engine
    scan for that class in a tight loop and try the rest only there, about one position in five of prose
    (the same answer in about half the time on 4,000 characters)."""

    __slots__ = ("_after", "_at", "pattern")

    def __init__(self, pattern: str, name: str) -> None:
        self.pattern = pattern
        prefixes = required_prefixes(pattern, _FLAGS)
        led = _lead_gaps(pattern)
        self._at = _compile(f"(?={_trie(sorted(prefixes))})(?:{led})" if prefixes else led, name)
        word = starts_at_word(pattern, _FLAGS) and not has_inline_flags(pattern)
        self._after = _compile(rf"\W{self._at.pattern}", name) if word else None

    def search(self, text: str) -> bool:
        if self._after is None:
            return self._at.search(text) is not None
        return self._at.match(text) is not None or self._after.search(text) is not None


def load_fragments(path: Path | None = None, setting: str = "core/alignment/rulefiles") -> dict[str, str]:
    path = path or rules_dir() / "vocabulary.yaml"
    data = _read_yaml(path, setting)
    raw = data.get("fragments") if isinstance(data, dict) else None
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise _fail(path, "", "needs `fragments:`, a mapping of NAME to a regular expression", setting)
    try:
        out = {name: _expand(value, raw, name) for name, value in raw.items()}
        for name, value in out.items():
            _compile(value, name)
    except _Invalid as exc:
        raise _fail(path, exc.rule, exc.problem, setting) from None
    return out


def load_rule_file(
    path: Path, fragments: Mapping[str, str], *, setting: str, seen: dict[str, Path] | None = None
) -> list[Rule]:
    """The rules of one file, checked: known tier, stage and category, patterns that compile, unique ids."""
    data = _read_yaml(path, setting)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise _fail(path, "", "needs a `rules:` list (and `category:` for the rules that name none)", setting)
    unknown = sorted(set(data) - {"category", "stage", "rules", "description"})
    if unknown:
        raise _fail(path, "", f"unknown keys {unknown}", setting)
    seen = {} if seen is None else seen
    rules: list[Rule] = []
    for i, entry in enumerate(data["rules"]):
        rule_id = str(entry.get("id", f"#{i + 1}")) if isinstance(entry, dict) else f"#{i + 1}"
        try:
            rules.append(_rule(entry, rule_id, data, fragments, path))
        except _Invalid as exc:
            raise _fail(path, exc.rule, exc.problem, setting) from None
        if rule_id in seen:
            raise _fail(path, rule_id, f"duplicate id (also in {seen[rule_id]})", setting)
        seen[rule_id] = path
    return rules


def _rule(
    entry: Any, rule_id: str, defaults: Mapping[str, Any], fragments: Mapping[str, str], path: Path
) -> Rule:
    if not isinstance(entry, dict):
        raise _Invalid(rule_id, "a rule must be a mapping with id, tier, patterns, match and no_match")
    unknown = sorted(
        set(entry) - {"id", "category", "tier", "stage", "patterns", "match", "no_match", "note"}
    )
    if unknown:
        raise _Invalid(rule_id, f"unknown keys {unknown}")
    if not isinstance(entry.get("id"), str) or not _ID.fullmatch(entry["id"]):
        raise _Invalid(rule_id, "`id` must be letters, digits, '.', '_' or '-'")
    category = entry.get("category", defaults.get("category"))
    if category not in CATEGORY_CODES:
        raise _Invalid(rule_id, f"unknown category {category!r} (use one of {', '.join(CATEGORY_CODES)})")
    try:
        tier = Tier(str(entry.get("tier")))
    except ValueError:
        raise _Invalid(rule_id, f"unknown tier {entry.get('tier')!r} (use {', '.join(Tier)})") from None
    try:
        stage = RuleStage(entry.get("stage", defaults.get("stage", "input")))
    except ValueError:
        raise _Invalid(rule_id, "unknown stage (use input or output)") from None
    if stage is RuleStage.OUTPUT and tier is not Tier.STRONG:
        raise _Invalid(rule_id, "answer (output) rules are all strong: frames do not apply to answers")
    patterns = tuple(
        _expand(p, fragments, rule_id)
        for p in _strings(entry.get("patterns"), "patterns", rule_id, required=True)
    )
    for p in patterns:
        _compile(p, rule_id)
    return Rule(
        id=rule_id,
        category=category,
        tier=tier,
        stage=stage,
        patterns=patterns,
        match=_strings(entry.get("match"), "match", rule_id, required=True),
        no_match=_strings(entry.get("no_match"), "no_match", rule_id, required=True),
        source=str(path),
    )


def load_frames(path: Path | None = None, fragments: Mapping[str, str] | None = None) -> Frames:
    setting = "core/alignment/rulefiles"
    path = path or rules_dir() / "frames.yaml"
    fragments = load_fragments() if fragments is None else fragments
    data = _read_yaml(path, setting)
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise _fail(path, "", "needs `conditions:` and `frames:`", setting)
    conditions: dict[str, Searched] = {}
    examples: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    frames: list[Frame] = []
    try:
        for name, spec in (data.get("conditions") or {}).items():
            conditions[name] = Searched(_expand(spec["pattern"], fragments, name), name)
            examples[name] = (
                _strings(spec.get("match"), "match", name, required=True),
                _strings(spec.get("no_match"), "no_match", name, required=True),
            )
        for spec in data["frames"]:
            name = spec["name"]
            relieves = frozenset(spec["relieves"])
            bad = sorted((relieves | set(spec.get("relieves_strong", []))) - set(CATEGORY_CODES))
            if bad:
                raise _Invalid(name, f"unknown categories {bad}")
            cancelled = tuple(spec.get("cancelled_by", []))
            if set(cancelled) - set(conditions):
                raise _Invalid(name, f"unknown conditions {sorted(set(cancelled) - set(conditions))}")
            frames.append(
                Frame(
                    name=name,
                    regex=Searched(_expand(spec["pattern"], fragments, name), name),
                    relieves=relieves,
                    cancelled_by=cancelled,
                    relieves_content=bool(spec.get("relieves_content", True)),
                    relieves_strong=frozenset(spec.get("relieves_strong", [])),
                    stages=frozenset(RuleStage(s) for s in spec.get("stages", ["input"])),
                    match=_strings(spec.get("match"), "match", name, required=True),
                    no_match=_strings(spec.get("no_match"), "no_match", name, required=True),
                )
            )
        for needed in ("seeks",):
            if needed not in conditions:
                raise _Invalid(needed, "the condition is missing")
    except _Invalid as exc:
        raise _fail(path, exc.rule, exc.problem, setting) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, "", f"malformed entry ({type(exc).__name__}: {exc})", setting) from None
    return Frames(frames=tuple(frames), conditions=conditions, examples=examples)


def rule_files(directory: Path) -> list[Path]:
    """The rule files under a directory (every *.yaml but the vocabulary and the frames), in order."""
    skip = {"vocabulary.yaml", "frames.yaml"}
    return sorted(p for p in directory.rglob("*.yaml") if p.name not in skip)


@cache
def builtin_rules() -> tuple[Rule, ...]:
    """The rules shipped with the project (core/alignment/rulefiles/), loaded once."""
    fragments = load_fragments()
    seen: dict[str, Path] = {}
    return tuple(
        rule
        for path in rule_files(rules_dir())
        for rule in load_rule_file(path, fragments, setting="core/alignment/rulefiles", seen=seen)
    )


@cache
def builtin_frames() -> Frames:
    return load_frames()


def load_rules(extra_files: Iterable[Path] = (), *, setting: str = "ALIGNMENT_POLICY_FILE") -> list[Rule]:
    """The built-in rules and an operator's own rule files (ids unique across all), examples checked."""
    rules = list(builtin_rules())
    if not extra_files:
        return rules
    fragments = load_fragments()
    seen = {r.id: Path(r.source) for r in rules}
    frames = builtin_frames()
    for path in extra_files:
        own = load_rule_file(path, fragments, setting=setting, seen=seen)
        for rule in own:
            problem = example_problem(rule, frames)
            if problem:
                raise _fail(path, rule.id, problem, setting)
        rules.extend(own)
    return rules


def pattern_rules(extra: Mapping[str, Sequence[str]]) -> list[Rule]:
    """The policy's `extra_patterns`, as strong input rules (no framing relieves them)."""
    return [
        Rule(
            id=f"policy.{code}.{i + 1}",
            category=code,
            tier=Tier.STRONG,
            stage=RuleStage.INPUT,
            patterns=(p,),
            source="extra_patterns",
        )
        for code, patterns in extra.items()
        for i, p in enumerate(patterns)
    ]


# ------------------------------------------------------------------ matching


_MAX_HEADS = 20_000  # word beginnings whose patterns a rule set keeps at hand (a few MB at most)


class RuleSet:
    """All rules of one stage, compiled once.

    Most patterns start at a word with one of a known set of literal prefixes ("kill", "bomb", …;
    core/alignment/prefilter.py). Those are compiled one by one and indexed by prefix: `matches` walks the
    text's word starts once and tries, at each, only the patterns that can start there. A pattern whose
    start cannot be read is searched in full, but only when the text holds one of the strings its matches
    must contain (`required_literals`), and one that only another script can match is skipped for ASCII
    text. The verdicts are those of a plain search with every pattern (tests/unit/test_rule_files.py
    checks it); the work is a small fraction of it."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._by_prefix: dict[str, list[tuple[int, re.Pattern[str]]]] = {}
        self._heads: dict[str, tuple[tuple[int, re.Pattern[str]], ...]] = {}  # see `_candidates`
        # searched in full, each with the strings one of which the text must hold for it to match
        self._searched: list[tuple[int, re.Pattern[str], frozenset[str]]] = []
        self._non_ascii: list[tuple[int, re.Pattern[str], frozenset[str]]] = []
        for key, rule in enumerate(self.rules):
            for p in rule.patterns:
                prefilter = Prefilter([p], _FLAGS)
                needs = required_literals(p, _FLAGS) or frozenset({""})  # "" is in every text
                led = _lead_gaps(p)
                if prefilter.non_ascii_only:
                    self._non_ascii.append((key, _found_anywhere(led, p), needs))
                elif prefilter.prefixes is not None and p.startswith("\\b"):
                    regex = re.compile("(?<![a-z0-9_])" + led, _FLAGS)
                    for prefix in prefilter.prefixes:
                        self._by_prefix.setdefault(prefix, []).append((key, regex))
                else:
                    self._searched.append((key, _found_anywhere(led, p), needs))
        # The word starts where one of the prefixes begins, found in one C-level scan (the prefixes as a
        # trie): the other word starts have nothing to try, and were most of the work. Every prefix begins
        # with [a-z0-9_], so a word start is the text's first character or one after another character:
        # the scan looks for that character (a class, which the engine scans for in a tight loop).
        prefixes = _trie(sorted(self._by_prefix)) if self._by_prefix else "(?!)"
        self._first = re.compile(f"(?={prefixes})")
        self._starts = re.compile(f"[^a-z0-9_](?=[a-z0-9_])(?={prefixes})")  # one test rules out 日本語

    def _candidates(self, head: str) -> tuple[tuple[int, re.Pattern[str]], ...]:
        """The patterns that can start at a word beginning with `head` (its first `PREFIX_LIMIT`
        characters): those of each of its prefixes, gathered once per head rather than at every word."""
        found = tuple(c for n in range(1, len(head) + 1) for c in self._by_prefix.get(head[:n], ()))
        if len(self._heads) < _MAX_HEADS:
            self._heads[head] = found
        return found

    def matches(self, normalized: str) -> list[RuleMatch]:
        """Every rule whose patterns match, in file order; frames are not applied here (see `decide`)."""
        hit: set[int] = set()
        searched = self._searched if normalized.isascii() else self._searched + self._non_ascii
        for key, regex, needs in searched:
            # a few `in` tests (fast string search) spare most full searches, each slow on a long text
            if key not in hit and any(s in normalized for s in needs) and regex.search(normalized):
                hit.add(key)
        heads = self._heads
        starts = [m.end() for m in self._starts.finditer(normalized)]
        if self._first.match(normalized):
            starts.insert(0, 0)
        for i in starts:
            head = normalized[i : i + PREFIX_LIMIT]
            candidates = heads.get(head)
            if candidates is None:
                candidates = self._candidates(head)
            for key, regex in candidates:
                if key not in hit and regex.match(normalized, i):
                    hit.add(key)
        return [RuleMatch(self.rules[k].category, self.rules[k].tier, self.rules[k].id) for k in sorted(hit)]


def _found_anywhere(led: str, pattern: str) -> re.Pattern[str]:
    """A pattern searched in full, of which only whether it is found counts. When its matches start with
    known strings it is led by a class of their first characters, which the engine scans for in a tight
    loop (a pattern led by a look-ahead or by `#{2,}` is tried at every position), and asserts the
    pattern from the character found: `[<#](?<=(?=pattern).)`, found exactly where `pattern` is."""
    prefixes = required_prefixes(pattern, _FLAGS)
    if not prefixes or has_inline_flags(pattern):
        return re.compile(led, _FLAGS)
    first = "".join(sorted({p[0] for p in prefixes}))
    return re.compile(f"[{re.escape(first)}](?<=(?=(?:{led})).)", _FLAGS)


def _trie(words: list[str]) -> str:
    """A regular expression matching any of `words` (non-empty, sorted), factored by common prefixes, so
    that the engine checks one character per level instead of every word in turn."""
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[0], []).append(word[1:])
    branches = []
    for first, rests in groups.items():
        longer = [r for r in rests if r]
        if not longer:
            branches.append(re.escape(first))
            continue
        # "" among the rests: the word may end here, so what follows is optional
        tail = "(?:" + _trie(longer) + ")" + ("?" if "" in rests else "")
        branches.append(re.escape(first) + tail)
    return "|".join(branches)


def input_ruleset(rules: Iterable[Rule]) -> RuleSet:
    return RuleSet(r for r in rules if r.stage is RuleStage.INPUT)


def output_ruleset(rules: Iterable[Rule]) -> RuleSet:
    return RuleSet(r for r in rules if r.stage is RuleStage.OUTPUT)


# ------------------------------------------------------------------ frames and tiers


def frames(normalized: str, relieving: Iterable[str] | None = None, book: Frames | None = None) -> set[str]:
    """The safe frames that apply to a message (after the conditions that cancel them). With `relieving`,
    only the frames that could relieve one of those categories are looked for."""
    book = book or builtin_frames()
    wanted = None if relieving is None else set(relieving)
    found = [
        f
        for f in book.frames
        if RuleStage.INPUT in f.stages
        and (wanted is None or (f.relieves | f.relieves_strong) & wanted)
        and f.regex.search(normalized)
    ]
    cancelled: dict[str, bool] = {}
    kept = set()
    for f in found:
        for condition in f.cancelled_by:
            if condition not in cancelled:
                cancelled[condition] = bool(book.conditions[condition].search(normalized))
            if cancelled[condition]:
                break
        else:
            kept.add(f.name)
    return kept


def decide(matches: Sequence[RuleMatch], normalized: str, book: Frames | None = None) -> list[RuleMatch]:
    """The matches that count once frames are applied: strong and marker always (but for the few that a
    frame names in `relieves_strong`); intent and content unless a frame relieves their category; topic
    only when instructions or content are sought and no frame relieves it."""
    book = book or builtin_frames()
    strong_relievable = {c for f in book.frames for c in f.relieves_strong}
    if all(m.tier in (Tier.STRONG, Tier.MARKER) and m.category not in strong_relievable for m in matches):
        return list(matches)
    open_ = {m.category for m in matches if m.tier in (Tier.INTENT, Tier.CONTENT)}
    open_ |= {m.category for m in matches if m.tier is Tier.STRONG and m.category in strong_relievable}
    topics = {m.category for m in matches if m.tier is Tier.TOPIC}
    seeks: bool | None = None
    if topics - open_:
        seeks = bool(book.conditions["seeks"].search(normalized))
        if seeks:
            open_ |= topics
    applied = frames(normalized, open_, book) if open_ else set()
    relieved: set[str] = set()
    relieved_content: set[str] = set()
    relieved_strong: set[str] = set()
    for f in book.frames:
        if f.name in applied:
            relieved |= f.relieves
            relieved_strong |= f.relieves_strong
            if f.relieves_content:
                relieved_content |= f.relieves
    kept = []
    for m in matches:
        if m.tier is Tier.STRONG and m.category in relieved_strong:
            continue  # "how do I talk to my teen about sex?" (the frame is void with explicit words)
        if m.tier in (Tier.STRONG, Tier.MARKER):
            kept.append(m)
        elif m.tier is Tier.CONTENT:
            if m.category not in relieved_content:
                kept.append(m)
        elif m.category in relieved:
            continue
        elif m.tier is Tier.INTENT:
            kept.append(m)
        else:
            if seeks is None:
                seeks = bool(book.conditions["seeks"].search(normalized))
            if seeks:
                kept.append(m)
    return kept


def decide_output(
    matches: Sequence[RuleMatch], normalized: str, book: Frames | None = None
) -> list[RuleMatch]:
    """On an answer only the frames marked for answers apply (a game: "to make TNT in Minecraft, …")."""
    book = book or builtin_frames()
    kept = list(matches)
    for f in book.frames:
        if RuleStage.OUTPUT not in f.stages or not any(m.category in f.relieves for m in kept):
            continue
        if not f.regex.search(normalized) or any(
            book.conditions[c].search(normalized) for c in f.cancelled_by
        ):
            continue
        kept = [m for m in kept if m.category not in f.relieves]
    return kept


def fires(rule: Rule, text: str, book: Frames | None = None) -> bool:
    """Whether `rule` counts on `text`, as in production: normalized, matched, then frames applied."""
    normalized = normalize(text)
    if not any(re.search(p, normalized, _FLAGS) for p in rule.patterns):
        return False
    match = RuleMatch(rule.category, rule.tier, rule.id)
    decided = (decide if rule.stage is RuleStage.INPUT else decide_output)([match], normalized, book)
    return bool(decided)


def example_problem(rule: Rule, book: Frames | None = None) -> str | None:
    """The first of a rule's examples that does not behave, as a one-line problem, or None."""
    for text in rule.match:
        if not fires(rule, text, book):
            return f"must-match example {text[:60]!r} does not fire it"
    for text in rule.no_match:
        if fires(rule, text, book):
            return f"must-not-match example {text[:60]!r} fires it"
    return None
