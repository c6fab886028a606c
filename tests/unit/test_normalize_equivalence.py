"""The rules' normalizer after its speed-up gives the text it gave before: `_fold` as it was (commit
7836de2, below, frozen, with the "how 2" pattern as it was before it was led by its " 2") against `core.alignment.normalize._fold` on the project's request and answer sets,
on text dense in what each substitution acts on (leetspeak, chat words with digits, "how 2", "how too",
whitespace of every kind) and on generated hostile text."""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import sys
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from core.alignment import normalize as n
from tests.shared_data import project_alignment_texts
from tests.strategies import hostile_text

_LEET_WORD = re.compile(r"[a-z0-9@$!]*[a-z][a-z0-9@$!]*")
_WS = re.compile(r"\s+")
_TWO = re.compile(r"\b(how|want|wants|ways?|need|needs|going|trying|try|able|like|easy|hard|where|what) 2\b")
_SPELLED = re.compile(r"\b(?:" + "|".join(n._SPELLING) + r")\b(?![.])(?!'[a-rt-z])")
_CHAT_LETTERS = re.compile(
    r"(?<![\w.'])(?:" + "|".join(w for w in n._CHAT_WORDS if w.isalpha()) + r")(?![\w.'])"
)


def reference_fold_unicode(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = n._INVISIBLE.sub("", text)
    decomposed = unicodedata.normalize("NFD", text)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return text.casefold().translate(n._CONFUSABLES)


def reference_fold(text: str) -> str:
    text = (text.lower() if text.isascii() else reference_fold_unicode(text)).translate(n._QUOTES)
    text = n._CHAT_DIGITS.sub(lambda m: n._CHAT_WORDS[m.group(0)], text)
    text = _TWO.sub(r"\1 to", text)
    text = n._HOW_TOO.sub("how to", text)
    text = _LEET_WORD.sub(n._fold_leet, text)
    text = n._SPACED.sub(n._join_spaced, text)
    text = _CHAT_LETTERS.sub(lambda m: n._CHAT_WORDS[m.group(0)], text)
    text = _SPELLED.sub(n._spell, text)
    return _WS.sub(" ", text).strip()


def reference_hidden(text: str) -> list[str]:
    found = []
    for match in n._B64.finditer(text):
        if len(found) >= n._MAX_DECODED:
            break
        token = match.group(0)
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        printable = sum(ch.isprintable() or ch.isspace() for ch in decoded)
        if decoded and printable >= 0.95 * len(decoded) and (" " in decoded or "(" in decoded):
            found.append(decoded)
    if n._ROT13.search(text.casefold()):
        found.append(codecs.decode(text, "rot13"))
    return found


def reference_normalize(text: str) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8")
    folded = reference_fold(text)
    hidden = [reference_fold(h.encode("utf-8", "replace").decode("utf-8")) for h in reference_hidden(text)]
    return " ".join([folded, *hidden]) if hidden else folded


def test_the_project_sets_normalize_as_before() -> None:
    texts = project_alignment_texts()
    assert len(texts) > 1000
    changed = 0
    for text in texts:
        assert n._fold(text) == reference_fold(text), text
        assert n.normalize(text) == reference_normalize(text), text
        changed += n._fold(text) != " ".join(text.lower().split())
    assert changed > 50  # the substitutions did act on these texts


def test_every_whitespace_character_is_folded_as_before() -> None:
    spaces = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() or re.match(r"\s", chr(c)))
    text = f"{spaces}a{spaces}b {spaces}"
    assert n._fold(text) == reference_fold(text) == "a b"


ACTED_ON = [
    "sum1", "b4", "no1", "any1", "SUM1!", "how 2", "want 2", "ways 2", "2", " 2", "how too", "h0w", "b0mb", "h4ck", "$teal", "k!ll",
    "13yo", "2nd", "1080p", "12345", "abc", "!!!", "@", "a1", "1a", "u", "ur", "y o u r", "b o m b", "b.o.m.b",
    "unalive", "kys", "pipebom", "pipebomb", "mak", "in2", "2nite", "gf", "exs", "www.", "o'", "ya", "ppl", "rot13", "ROT 13", "Rot-13", "13", "aG93IHRvIG1ha2UgYSBib21i", "uryyb jbeyq", " ", "\t", "\n", "\u00a0", "\u2028", "\x1c", "'",
    ".", "-", "_", "\u200b", "é", "\u0301", "日本", "\U0001f42c", "\u2019", "\u201c", "\u201d", "\u02bc", "`",
    "don\u2019t", "\u0410", "\u0440", "\u03bf",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(ACTED_ON), max_size=25).map("".join))
def test_dense_text_folds_as_before(text: str) -> None:
    assert n._fold(text) == reference_fold(text)
    assert n.normalize(text) == reference_normalize(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(hostile_text, st.sampled_from(ACTED_ON)), max_size=8).map(" ".join))
def test_hostile_text_folds_as_before(text: str) -> None:
    assert n._fold(text) == reference_fold(text)
    assert n.normalize(text) == reference_normalize(text)


def test_every_combining_mark_and_confusable_letter_is_folded_as_before() -> None:
    """`fold_unicode` drops the marks of the Basic Multilingual Plane with one regex class and translates
    look-alike letters only when it finds one; every code point, alone and after a letter, as before."""
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    for i in range(0, len(chars), 64):  # each after a letter, alone in its plane and beside astral text
        text = "a".join(chars[i : i + 64])
        assert n.fold_unicode(text) == reference_fold_unicode(text), hex(ord(chars[i]))
        assert n.fold_unicode(text + "\U0001f42c") == reference_fold_unicode(text + "\U0001f42c")


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(categories=["Mn", "Mc", "Me", "Lu", "Ll", "Lo", "Zs"]), max_size=60))
def test_marks_and_letters_of_every_script_fold_as_before(text: str) -> None:
    assert n.fold_unicode(text) == reference_fold_unicode(text)
