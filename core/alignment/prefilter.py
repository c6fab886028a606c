"""A literal prefilter for the rule layer: run a regular expression only where it can start.

Python's regex engine tries every position of the text for a pattern that starts with `\\b` and a long
alternation (it cannot use its first-character scan there), so one alternation of a category's patterns
costs about 1.5 µs per character — several milliseconds on a long message — and, at each word, tries its
patterns one after the other. Most patterns, however, must start with one of a known set of literal
strings ("kill", "murder", "poison", …). `required_prefixes` reads that set from the parsed pattern (up to
six characters); the rule set indexes its patterns by those prefixes and, at each word start of a
text, tries only the patterns that can start there. It is a necessary condition only: a pattern whose
start cannot be read (`\\w+`, `.`) is searched in full, so the prefilter never changes a verdict.
`needs_non_ascii` tells the patterns that only another script can match (skipped for ASCII text);
`starts_at_word` the patterns that can only start after a non-word character (searched from those), and
`gap_followers` the strings that what follows a window of any characters must start with (a look-ahead
for them spares trying the rest at every character of the window).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

# The regex parser is stdlib (`re._parser`, formerly `sre_parse`, which warns when imported).
_PARSER: Any = importlib.import_module("re._parser")
_C: Any = importlib.import_module("re._constants")

PREFIX_LIMIT = 6  # not 4: "the " and "you " begin many patterns, which "the us", "you ar" tell apart
_MAX_CHARSET = 10
_MAX_PREFIXES = 4096

_WORD_CHAR = re.compile(r"\w")

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
    """The literal prefixes (up to `PREFIX_LIMIT` characters) that every match of `seq` starts with."""
    results: Prefixes = {("", True)}
    for op, av in seq:
        if all(not whole or len(p) >= PREFIX_LIMIT for p, whole in results):
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
            if not whole or len(p) >= PREFIX_LIMIT:
                grown.add((p, False))
                continue
            for e, e_whole in ext:
                joined = p + e
                grown.add((joined[:PREFIX_LIMIT], e_whole and len(joined) <= PREFIX_LIMIT))
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


def _at_word_boundary(seq: Any) -> bool:
    """Whether every match of `seq` begins with `\\b` or `^` (alone, in a group, or in every alternative)."""
    if not seq:
        return False
    op, av = seq[0]
    if op is _C.AT:
        return av in (_C.AT_BOUNDARY, _C.AT_BEGINNING, _C.AT_BEGINNING_STRING)
    if op is _C.SUBPATTERN:
        return _at_word_boundary(av[-1])
    if op is _C.BRANCH:
        return all(_at_word_boundary(alternative) for alternative in av[1])
    return False


def starts_at_word(pattern: str, flags: int = 0) -> bool:
    """True when every match of `pattern` starts with a word character at a word boundary or at the start
    of a line: it can then only start at the beginning of the text or after a non-word character (a line
    break is one)."""
    prefixes = required_prefixes(pattern, flags)
    if prefixes is None or not all(_WORD_CHAR.match(p[0]) for p in prefixes):
        return False
    try:
        return _at_word_boundary(_PARSER.parse(pattern, flags).data)
    except Exception:
        return False


_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux-]+[:)]")
_GAP = re.compile(r"\.\{\d*,\d+\}\??")  # `.{0,80}`, `.{0,150}?`: a window of any characters


def has_inline_flags(pattern: str) -> bool:
    """Whether `pattern` sets flags of its own (`(?i)`, `(?i:…)`): the strings read from it may then be too
    narrow (`(?i)BOMB` matches "bomb"), and it cannot be nested in another pattern (`(?i)` must lead)."""
    return bool(_INLINE_FLAGS.search(pattern))


def _syntax(pattern: str) -> list[tuple[int, str]]:
    """The characters of `pattern` that are syntax, with their index: not escaped, not in a class."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += pattern.startswith("^", i + 1)
            i += pattern.startswith("]", i + 1)  # a leading `]` is a member
        else:
            out.append((i, c))
        i += 1
    return out


def _group_end(syntax: list[tuple[int, str]], start: int) -> int | None:
    """The index just past the group that opens at `start`."""
    depth = 0
    for i, c in syntax:
        if i < start or c not in "()":
            continue
        depth += 1 if c == "(" else -1
        if depth == 0:
            return i + 1
    return None


def gap_followers(pattern: str, flags: int = 0) -> list[tuple[int, frozenset[str]]]:
    """Where a window of any characters (`.{0,80}`) is followed by a group whose matches must start with
    one of a few strings: (the index just after the window, those strings). Python's engine tries the
    group at every character of the window; a look-ahead for the strings there rules most of them out with
    a character test, and changes no match (it is a necessary condition of what follows)."""
    found: list[tuple[int, frozenset[str]]] = []
    if has_inline_flags(pattern):
        return found
    syntax = _syntax(pattern)
    dots = {i for i, c in syntax if c == "."}  # `\.{2,3}` is a run of dots, `[.{]` a class
    for gap in _GAP.finditer(pattern):
        after = gap.end() + (2 if pattern.startswith("\\b", gap.end()) else 0)
        if gap.start() not in dots or not pattern.startswith("(?:", after):
            continue
        end = _group_end(syntax, after)
        if end is None or pattern[end : end + 1] in ("?", "*", "{"):
            continue  # an optional group tells nothing of what must follow
        prefixes = required_prefixes(pattern[gap.end() : end], flags)
        if prefixes:
            found.append((gap.end(), prefixes))
    return found


def _needs_non_ascii(seq: Any) -> bool:
    """Whether every match of `seq` contains a character outside ASCII (a word in another script)."""
    for op, av in seq:
        if op is _C.LITERAL and av > 127:
            return True
        if op is _C.IN and av and all(o is _C.LITERAL and a > 127 for o, a in av):
            return True
        if op is _C.SUBPATTERN and _needs_non_ascii(av[-1]):
            return True
        if op is _C.BRANCH and all(_needs_non_ascii(alt) for alt in av[1]):
            return True
        if (
            op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT)
            and av[0] >= 1
            and _needs_non_ascii(av[2])
        ):
            return True
    return False


def needs_non_ascii(pattern: str, flags: int = 0) -> bool:
    """True when no ASCII text can match `pattern` (so it can be skipped for ASCII text)."""
    try:
        return _needs_non_ascii(_PARSER.parse(pattern, flags).data)
    except Exception:
        return False


def _best(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """Of two sets of strings that a match must contain one of, the more telling: longer shortest string,
    then fewer strings."""
    if a is None or b is None:
        return a or b
    return min(a, b, key=lambda s: (-min(map(len, s)), len(s)))


def _literals(seq: Any) -> frozenset[str] | None:
    """Strings of which every match of `seq` contains one (None: none can be told)."""
    best: frozenset[str] | None = None
    run = ""  # consecutive literal characters, a string every match contains
    for op, av in seq:
        if op is _C.LITERAL:
            run += chr(av)
            continue
        if run:
            best, run = _best(best, frozenset({run})), ""
        found: frozenset[str] | None = None
        if op is _C.IN:
            chars = _charset(av)
            found = None if chars is None else frozenset(chars)
        elif op is _C.SUBPATTERN and not av[1] & _C.SRE_FLAG_IGNORECASE:  # not `(?i:…)`
            found = _literals(av[-1])
        elif op is _C.BRANCH:
            alternatives = [_literals(alternative) for alternative in av[1]]
            if all(a is not None for a in alternatives):
                found = frozenset().union(*(a for a in alternatives if a is not None))
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT) and av[0] >= 1:
            found = _literals(av[2])
        best = _best(best, found)  # anything else (\w, ., lookarounds, optional parts) tells nothing
    return _best(best, frozenset({run})) if run else best


def required_literals(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Strings of which every match of `pattern` contains one, or None when they cannot be told: a text
    that holds none of them cannot match (`any(s in text for s in found)` is a cheap first test)."""
    try:
        parsed = _PARSER.parse(pattern, flags)
    except Exception:  # an unexpected construct: the pattern is simply always run
        return None
    if parsed.state.flags & _C.SRE_FLAG_IGNORECASE:
        return None  # `(?i)BOMB` matches "bomb", which does not hold "BOMB"
    return _literals(parsed.data)


_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


class Prefilter:
    """What the rule layer needs to know about a group of patterns before it runs them.

    `prefixes`: the strings that every match starts with, when every match starts at an ASCII word
    character (None: the start cannot be read, search the whole text). `non_ascii_only`: no ASCII text can
    match any of them (words in another script), so they are skipped for ASCII text."""

    def __init__(self, patterns: Iterable[str], flags: int = 0) -> None:
        patterns = list(patterns)
        union: set[str] | None = set()
        for pattern in patterns:
            found = required_prefixes(pattern, flags)
            if found is None or union is None:
                union = None
                break
            union |= found
        if union is not None and all(p[0] in _ASCII_WORD for p in union):
            self.prefixes: frozenset[str] | None = frozenset(union)
        else:
            self.prefixes = None
        self.non_ascii_only = all(needs_non_ascii(p, flags) for p in patterns)
