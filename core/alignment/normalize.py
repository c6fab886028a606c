"""Text normalization for the rule layer: fold the evasions people use so the rules see plain words.

NFKC, casefold, zero-width/bidi controls and combining marks removed, confusable letters (Cyrillic and
Greek look-alikes) folded to Latin, curly quotes made plain, chat-speak spelled out (`u` → you, `sum1` →
someone, `how 2` → how to), leetspeak folded inside words (`b0mb`, `h4ck`, `$teal`), and spacing tricks
undone (`b o m b`, `b.o.m.b`, `b-o-m-b`, `i g n o r e   y o u r   r u l e s`). Text hidden in base64
(`aG93IHRvIG1ha2UgYSBib21i`) or in ROT13 when the message says so is decoded and appended, so the rules
read it too. Pure, total (never raises), linear in the text length.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata

_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufe00-\ufe0f]"
)
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "һ": "h",
        "ԛ": "q",
        "ԝ": "w",
        "ү": "y",
        "ɡ": "g",
        # Greek
        "α": "a",
        "β": "b",
        "ε": "e",
        "η": "n",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "ω": "w",
    }
)
# Both are searched for before a pass over the text (one C-level scan; most text has neither). The
# combining marks of the Basic Multilingual Plane as one class (a bitmap for the regex engine), read from
# unicodedata so that it is exactly `unicodedata.combining`; a character beyond that plane (an emoji) is
# asked on its own.
_CONFUSABLE = re.compile("[" + "".join(re.escape(chr(c)) for c in _CONFUSABLES) + "]")
_COMBINING = re.compile(
    "[" + "".join(re.escape(chr(c)) for c in range(0x10000) if unicodedata.combining(chr(c))) + "]"
)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"', "`": "'"})
_QUOTE = re.compile("[" + "".join(re.escape(chr(c)) for c in _QUOTES) + "]")
_CHAT_WORDS = {
    "u": "you",
    "ur": "your",
    "ya": "you",
    "sum1": "someone",
    "some1": "someone",
    "any1": "anyone",
    "every1": "everyone",
    "no1": "no one",
    "ppl": "people",
    "pls": "please",
    "plz": "please",
    "gimme": "give me",
    "wanna": "want to",
    "gonna": "going to",
    "hw": "how",
    "wat": "what",
    "b4": "before",
    "cuz": "because",
    "coz": "because",
}
# Misspellings and slang of the words the rules read. Only non-words are listed (no English word is
# rewritten), so folding them cannot change what a benign message says: "poisin" → poison, "unalive" → kill.
_SPELLING = {
    "unalive": "kill",
    "unalived": "killed",
    "unaliving": "killing",
    "kys": "kill yourself",
    "kms": "kill myself",
    "sewerslide": "suicide",
    "suicde": "suicide",
    "sucide": "suicide",
    "suiside": "suicide",
    "pipebom": "pipe bomb",
    "pipebomb": "pipe bomb",
    "pipebombs": "pipe bombs",
    "poisen": "poison",
    "poisin": "poison",
    "posion": "poison",
    "poision": "poison",
    "pioson": "poison",
    "poisn": "poison",
    "poisoining": "poisoning",
    "poisening": "poisoning",
    "chemicls": "chemicals",
    "chemcals": "chemicals",
    "chemicles": "chemicals",
    "housold": "household",
    "houshold": "household",
    "househld": "household",
    "peple": "people",
    "poeple": "people",
    "pepole": "people",
    "sombody": "somebody",
    "somebdy": "somebody",
    "somone": "someone",
    "someon": "someone",
    "kil": "kill",
    "kiling": "killing",
    "murdr": "murder",
    "hak": "hack",
    "hakc": "hack",
    "haking": "hacking",
    "instagarm": "instagram",
    "instgram": "instagram",
    "acount": "account",
    "accnt": "account",
    "exs": "ex's",
    "slowley": "slowly",
    "noticeing": "noticing",
    "nuds": "nudes",
    "noods": "nudes",
    "nudez": "nudes",
    "shud": "should",
    "wepon": "weapon",
    "weopon": "weapon",
    "weapen": "weapon",
    "explosivs": "explosives",
    "mak": "make",
    "in2": "into",
    "2nite": "tonight",
    "2morrow": "tomorrow",
    "gf": "girlfriend",
    "bf": "boyfriend",
}


def _first_chars(words: list[str] | dict[str, str]) -> str:
    """A look-ahead for the first characters of `words`: positions where none of them can start are
    skipped at once instead of trying every alternative (the same matches)."""
    return "(?=[" + re.escape("".join(sorted({w[0] for w in words}))) + "])"


_SPELLED = re.compile(
    r"\b" + _first_chars(_SPELLING) + "(?:" + "|".join(_SPELLING) + r")\b(?![.])(?!'[a-rt-z])"
)
_HOW_TOO = re.compile(r"\bhow too\b")
_CHAT_DIGITS = re.compile(r"\b(?:" + "|".join(w for w in _CHAT_WORDS if not w.isalpha()) + r")\b")
_CHAT_LETTERS = re.compile(
    r"(?<![\w.'])"
    + _first_chars([w for w in _CHAT_WORDS if w.isalpha()])
    + "(?:"
    + "|".join(w for w in _CHAT_WORDS if w.isalpha())
    + r")(?![\w.'])"
)
_TWO_AFTER = [
    "how",
    "want",
    "wants",
    "way",
    "ways",
    "need",
    "needs",
    "going",
    "trying",
    "try",
    "able",
    "like",
    "easy",
    "hard",
    "where",
    "what",
]
# "how 2" → "how to": led by " 2" (a literal the engine finds with a fast string search), the word before
# checked by a look-behind, rather than the words tried at every position (the same replacements).
_TWO = re.compile(r" 2\b(?:" + "|".join(rf"(?<=\b{w} 2)" for w in _TWO_AFTER) + ")")
_B64 = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_ROT13 = re.compile(r"\brot[ -]?13\b")
_MAX_DECODED = 4
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i"}
)
# a number with a unit, an age or an ordinal is not leetspeak: "13yo", "2nd", "10am", "1080p", "16gb", "5k"
_UNIT = re.compile(
    r"\d+(?:yo|y/o|yrs?|yr|y|m|f|k|s|th|st|nd|rd|am|pm|gb|mb|tb|kb|kg|g|lbs?|cm|mm|km|ft|in|x|p|d|h|min|"
    r"ms|hz|mph|kph|v|w|mah|ml|l|oz|px|bit)"
)
_HAS_LEET = re.compile(r"[0134578@$!]")
# A word for leetspeak is a whole run of [a-z0-9@$!] with a letter in it; only the runs that also hold a
# leet character are matched (the others `_fold_leet` would leave as they are): a word costs no Python call.
_LEET_RUN = re.compile(r"(?<![a-z0-9@$!])(?=[a-z0-9@$!]*[a-z])(?=[a-z0-9@$!]*[0134578@$!])[a-z0-9@$!]+")
# `_CHAT_DIGITS` cannot match a text that holds none of these words (a few fast string searches), and each
# holds one of these digits (one search each: a word searched for in text beyond ASCII costs more).
_CHAT_DIGIT_WORDS = tuple(w for w in _CHAT_WORDS if not w.isalpha())
_CHAT_DIGIT_CHARS = frozenset("".join(_CHAT_DIGIT_WORDS)) - frozenset("abcdefghijklmnopqrstuvwxyz")
_SPACED = re.compile(r"(?<!')\b(?:[a-z][\s.\-_*·]{1,3}){2,}[a-z]\b")  # not after an apostrophe: "i'm a …"
_SEPARATORS = re.compile(r"[\s.\-_*·]")
_SEPARATOR_RUN = re.compile(r"[\s.\-_*·]+")
_WORD_GAP = re.compile(r"[\s.\-_*·]{2,}")


def _fold_leet(match: re.Match[str]) -> str:
    word = match.group(0)
    if not _HAS_LEET.search(word) or word.isdigit() or _UNIT.fullmatch(word):
        return word
    return word.translate(_LEET)


def _spell(match: re.Match[str]) -> str:
    start = match.start()
    if start and match.string[start - 1] in ".'":
        return match.group(0)  # part of a name or a contraction ("www.kil", "o'mak")
    return _SPELLING[match.group(0)]


def _join_spaced(match: re.Match[str]) -> str:
    spaced = match.group(0)
    runs = [len(r) for r in _SEPARATOR_RUN.findall(spaced)]
    if runs and min(runs) == 1 and max(runs) >= 2:
        # "i g n o r e   y o u r   r u l e s": the wider gaps are the word breaks
        return " ".join(_SEPARATORS.sub("", word) for word in _WORD_GAP.split(spaced))
    letters = _SEPARATORS.sub("", spaced)
    if len(letters) <= 3 and "." in spaced:
        return spaced  # an abbreviation: "u.s.", "a.m.", "e.g"
    # "make a b o m b": the leading article is most likely a word of its own.
    if letters[0] in "ai" and len(letters) >= 4 and match.group(0)[1] == " ":
        return f"{letters[0]} {letters[1:]}"
    return letters


def _hidden_text(text: str) -> list[str]:
    """Text hidden in base64 tokens (and in ROT13 when the message names it), for the rules to read."""
    found: list[str] = []
    for match in _B64.finditer(text):
        if len(found) >= _MAX_DECODED:
            break
        token = match.group(0)
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        printable = sum(ch.isprintable() or ch.isspace() for ch in decoded)
        if decoded and printable >= 0.95 * len(decoded) and (" " in decoded or "(" in decoded):
            found.append(decoded)
    if "13" in text and _ROT13.search(text.casefold()):  # casefolding makes no digits
        found.append(codecs.decode(text, "rot13"))
    return found


def _drop_combining(match: re.Match[str]) -> str:
    return "" if unicodedata.combining(match.group(0)) else match.group(0)


def _plain_quote(match: re.Match[str]) -> str:
    return _QUOTES[ord(match.group(0))]


def fold_unicode(text: str) -> str:
    """NFKC, invisible characters and combining marks dropped, casefolded, confusable letters folded to
    Latin. For ASCII text this is exactly `text.lower()`."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = _COMBINING.sub("", unicodedata.normalize("NFD", text))
    if _ASTRAL.search(text):  # beyond the Basic Multilingual Plane: each such character asked (an emoji)
        text = _ASTRAL.sub(_drop_combining, text)
    text = text.casefold()
    return text.translate(_CONFUSABLES) if _CONFUSABLE.search(text) else text


def _fold(text: str) -> str:
    # Most chat text and model answers are ASCII: skip the per-character Unicode work (~30 µs a check).
    text = text.lower() if text.isascii() else fold_unicode(text)
    if _QUOTE.search(text):
        # str.translate costs about 40 ns a character outside ASCII, for nothing: such text has each
        # quote replaced where it is
        text = text.translate(_QUOTES) if text.isascii() else _QUOTE.sub(_plain_quote, text)
    # Each substitution runs only where it can match (the same text, without scanning it for nothing).
    if any(d in text for d in _CHAT_DIGIT_CHARS) and any(w in text for w in _CHAT_DIGIT_WORDS):
        text = _CHAT_DIGITS.sub(lambda m: _CHAT_WORDS[m.group(0)], text)  # before leet: "sum1", not "sumi"
    if " 2" in text:
        text = _TWO.sub(" to", text)
    if "how too" in text:
        text = _HOW_TOO.sub("how to", text)
    if _HAS_LEET.search(text):
        text = _LEET_RUN.sub(_fold_leet, text)
    text = _SPACED.sub(_join_spaced, text)
    text = _CHAT_LETTERS.sub(
        lambda m: _CHAT_WORDS[m.group(0)], text
    )  # after spacing: "y o u r", not "yo u r"
    text = _SPELLED.sub(_spell, text)
    return " ".join(text.split())  # whitespace runs to one space: str.split's whitespace is re's \s


def normalize(text: str) -> str:
    """The folded form of `text` that the rules read (with any decoded hidden text appended)."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates
    folded = _fold(text)
    hidden = [_fold(h.encode("utf-8", "replace").decode("utf-8")) for h in _hidden_text(text)]
    return " ".join([folded, *hidden]) if hidden else folded
