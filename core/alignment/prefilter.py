"""A literal prefilter for the rule layer: skip a regular expression that cannot match a text.

Python's regex engine tries every position of the text for a pattern that starts with `\\b` and a long
alternation (it cannot use its first-character scan there), so the rules cost about 1.5 µs per
character and per pattern group — several milliseconds on a long message. Most patterns, however, must
start with one of a known set of literal strings ("kill", "murder", "poison", …). `required_prefixes`
reads that set from the parsed pattern (up to three characters); `Prefilter.may_match` then skips the
regex when none of its prefixes occurs in the text. It is a necessary condition only: a pattern whose
start cannot be read (`\\w+`, `.`) is always run, so the prefilter never changes a verdict.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

# The regex parser is stdlib (`re._parser`, formerly `sre_parse`, which warns when imported).
_PARSER: Any = importlib.import_module("re._parser")
_C: Any = importlib.import_module("re._constants")

_LIMIT = 3
_MAX_CHARSET = 10
_MAX_PREFIXES = 4096

Prefixes = set[tuple[str, bool]]  # (prefix, whether the prefix is the whole of what it stands for)


def _charset(items: Any) -> set[str] | None:
    chars: set[str] = set()
    for op, av in items:
        if op is _C.LITERAL:
            chars.add(chr(av))
        elif op is _C.RANGE and av[1] - av[0] < _MAX_CHARSET:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        else:
            return None  # a category (\w, \s), a negation, a wide range
    return chars if len(chars) <= _MAX_CHARSET else None


def _prefixes(seq: Any) -> Prefixes | None:
    """The literal prefixes (up to `_LIMIT` characters) that every match of `seq` starts with."""
    results: Prefixes = {("", True)}
    for op, av in seq:
        if all(not whole or len(p) >= _LIMIT for p, whole in results):
            break
        ext: Prefixes | None
        if op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
            continue  # zero-width: \b, ^, lookarounds
        if op is _C.LITERAL:
            ext = {(chr(av), True)}
        elif op is _C.IN:
            chars = _charset(av)
            ext = None if chars is None else {(c, True) for c in chars}
        elif op is _C.SUBPATTERN:
            ext = _prefixes(av[-1])
        elif op is _C.BRANCH:
            ext = set()
            for alternative in av[1]:
                sub = _prefixes(alternative)
                if sub is None:
                    ext = None
                    break
                ext |= sub
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
            low, high, item = av
            sub = _prefixes(item)
            if sub is None:
                ext = None
            else:
                ext = sub if (low, high) == (1, 1) else {(p, False) for p, _ in sub}
                if low == 0:
                    ext.add(("", True))
        else:
            ext = None  # ANY (.), GROUPREF, CATEGORY, …
        if ext is None:
            results = {(p, False) for p, _ in results}
            break
        grown: Prefixes = set()
        for p, whole in results:
            if not whole or len(p) >= _LIMIT:
                grown.add((p, False))
                continue
            for e, e_whole in ext:
                joined = p + e
                grown.add((joined[:_LIMIT], e_whole and len(joined) <= _LIMIT))
        if len(grown) > _MAX_PREFIXES:
            return None
        results = grown
    return results


def required_prefixes(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """The strings of which every match of `pattern` starts with one, or None when they cannot be told."""
    try:
        parsed = _PARSER.parse(pattern, flags)
    except Exception:  # an unexpected construct: the pattern is simply always run
        return None
    found = _prefixes(parsed.data)
    if found is None or any(p == "" for p, _ in found):
        return None
    return frozenset(p for p, _ in found)


_WORD_START = re.compile(r"(?<![a-z0-9_])[a-z0-9_]")


class WordIndex:
    """Where each word of a (normalized) text starts, by its first one, two and three characters."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.by_prefix: dict[str, list[int]] = {}
        for match in _WORD_START.finditer(text):
            i = match.start()
            for n in range(1, _LIMIT + 1):
                self.by_prefix.setdefault(text[i : i + n], []).append(i)

    def positions(self, prefixes: frozenset[str]) -> list[int]:
        found: set[int] = set()
        if len(self.by_prefix) < len(prefixes):  # a short text: walk its words, not every prefix
            for prefix, starts in self.by_prefix.items():
                if prefix in prefixes:
                    found.update(starts)
        else:
            for prefix in prefixes:
                found.update(self.by_prefix.get(prefix, ()))
        return sorted(found)


class Prefilter:
    """The required prefixes of a group of alternative patterns that all start at a word boundary.

    `candidates` returns the word starts where a match can begin (None: search the whole text)."""

    def __init__(self, patterns: Iterable[str], flags: int = 0) -> None:
        union: set[str] | None = set()
        for pattern in patterns:
            found = required_prefixes(pattern, flags)
            if found is None or union is None:
                union = None
                break
            union |= found
        # usable only when every match begins with a word character (so at a word start)
        if union is not None and all(p[0].isalnum() or p[0] == "_" for p in union):
            self.prefixes: frozenset[str] | None = frozenset(union)
        else:
            self.prefixes = None

    def candidates(self, index: WordIndex) -> list[int] | None:
        return None if self.prefixes is None else index.positions(self.prefixes)
