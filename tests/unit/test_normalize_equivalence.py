"""The rules' normalizer after its speed-up gives the text it gave before: `_fold` as it was (commit
7836de2, below, frozen) against `core.alignment.normalize._fold` on the project's request and answer sets,
on text dense in what each substitution acts on (leetspeak, chat words with digits, "how 2", "how too",
whitespace of every kind) and on generated hostile text."""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from core.alignment import normalize as n
from tests.shared_data import project_alignment_texts
from tests.strategies import hostile_text

_LEET_WORD = re.compile(r"[a-z0-9@$!]*[a-z][a-z0-9@$!]*")
_WS = re.compile(r"\s+")
_SPELLED = re.compile(r"\b(?:" + "|".join(n._SPELLING) + r")\b(?![.])(?!'[a-rt-z])")
_CHAT_LETTERS = re.compile(
    r"(?<![\w.'])(?:" + "|".join(w for w in n._CHAT_WORDS if w.isalpha()) + r")(?![\w.'])"
)


def reference_fold(text: str) -> str:
    text = (text.lower() if text.isascii() else n.fold_unicode(text)).translate(n._QUOTES)
    text = n._CHAT_DIGITS.sub(lambda m: n._CHAT_WORDS[m.group(0)], text)
    text = n._TWO.sub(r"\1 to", text)
    text = n._HOW_TOO.sub("how to", text)
    text = _LEET_WORD.sub(n._fold_leet, text)
    text = n._SPACED.sub(n._join_spaced, text)
    text = _CHAT_LETTERS.sub(lambda m: n._CHAT_WORDS[m.group(0)], text)
    text = _SPELLED.sub(n._spell, text)
    return _WS.sub(" ", text).strip()


def test_the_project_sets_normalize_as_before() -> None:
    texts = project_alignment_texts()
    assert len(texts) > 1000
    changed = 0
    for text in texts:
        assert n._fold(text) == reference_fold(text), text
        changed += n._fold(text) != " ".join(text.lower().split())
    assert changed > 50  # the substitutions did act on these texts


def test_every_whitespace_character_is_folded_as_before() -> None:
    spaces = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() or re.match(r"\s", chr(c)))
    text = f"{spaces}a{spaces}b {spaces}"
    assert n._fold(text) == reference_fold(text) == "a b"


ACTED_ON = [
    "sum1", "b4", "no1", "any1", "SUM1!", "how 2", "want 2", "how too", "h0w", "b0mb", "h4ck", "$teal", "k!ll",
    "13yo", "2nd", "1080p", "12345", "abc", "!!!", "@", "a1", "1a", "u", "ur", "y o u r", "b o m b", "b.o.m.b",
    "unalive", "kys", "pipebom", "pipebomb", "mak", "in2", "2nite", "gf", "exs", "www.", "o'", "ya", "ppl", " ", "\t", "\n", "\u00a0", "\u2028", "\x1c", "'",
    ".", "-", "_", "\u200b", "é", "\u0301", "日本", "\U0001f42c",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(ACTED_ON), max_size=25).map("".join))
def test_dense_text_folds_as_before(text: str) -> None:
    assert n._fold(text) == reference_fold(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(hostile_text, st.sampled_from(ACTED_ON)), max_size=8).map(" ".join))
def test_hostile_text_folds_as_before(text: str) -> None:
    assert n._fold(text) == reference_fold(text)
