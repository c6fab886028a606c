"""The language of a request or an answer, detected offline (py3langid; its model ships in its wheel).

`detect_language(text)` returns an ISO 639 code (`en`, `ja`, `zh`, `es`, …) or `und` (undetermined) for
text too short or too unlike any language to tell: emoji, code, numbers, "ok". Only the first
`DETECT_CHARS` characters are read, so a 4,000-character message costs what a short paragraph does. The
model (about 4.5 MB, LZMA-compressed npz, no pickle) is loaded once per process, never per message: start-up
calls `preload_detector()`, which loads it in a thread of its own while the process starts its clients
and servers (about a second of CPU); a detection that comes first waits for it. The detector's code is
imported before that thread starts, so a missing or broken install stops start-up with one line.
"""

from __future__ import annotations

import threading
import unicodedata
from functools import lru_cache
from typing import Any

import structlog

from core.errors import ConfigurationError

log = structlog.get_logger()

UNDETERMINED = "und"
# Read at most this many characters: enough for a confident answer, bounded cost (docs/moderation.md).
DETECT_CHARS = 300
# Fewer letters than this (a CJK character or kana counts as two) is too little to tell.
MIN_LETTERS = 4
# Below this probability the detector is guessing (short or mixed text): undetermined.
MIN_CONFIDENCE = 0.3
# The detector's label for text that is no language (markup, numbers, symbols).
_NO_LANGUAGE = "zxx"
# Cantonese and Wu count as Chinese: on short text the detector cannot tell them from Mandarin, and a
# member writing them reads written Chinese (notices, the routing of a language, the metric's label).
_MERGED = {"yue": "zh", "wuu": "zh"}

_lock = threading.Lock()  # held while the model loads
_identifier: Any = None
_preload_lock = threading.Lock()  # never held for long: a second preload must not wait for the load
_preloading: threading.Thread | None = None


def preload_detector() -> None:
    """Start loading the model in a background thread (once per process; later calls return at once).
    ConfigurationError, at once, when the detector's code cannot be imported: the process must not start
    (every message needs its language: the notices, and which checks read it)."""
    global _preloading
    with _preload_lock:
        if _identifier is not None or _preloading is not None:
            return
        try:
            import py3langid.langid  # noqa: F401  (its code and numpy; the model itself loads in the thread)
        except ImportError as exc:
            raise ConfigurationError(
                f"the language detector cannot load ({type(exc).__name__}: {exc}): reinstall dolphin-relay "
                "with its dependencies (py3langid ships the detector's model)"
            ) from None
        _preloading = threading.Thread(target=_load_in_background, name="language-detector-load", daemon=True)
        _preloading.start()


def _load_in_background() -> None:
    try:
        load_detector()
    except Exception as exc:  # e.g. an unreadable model file: one line here, the first detection tries again
        log.error("language.load_failed", error=type(exc).__name__)


def load_detector() -> None:
    """Load the detector's model now (once per process); later calls return at once."""
    global _identifier
    if _identifier is not None:
        return
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(
                MODEL_FILE, norm_probs=True, min_confidence=MIN_CONFIDENCE
            )


def detect_language(text: str) -> str:
    """The language of `text` as an ISO 639 code, or `und`."""
    return _detect(text[:DETECT_CHARS])


@lru_cache(maxsize=2048)  # a request is looked at by the input check, the output check and the notices
def _detect(head: str) -> str:
    if _letters(head) < MIN_LETTERS:
        return UNDETERMINED
    load_detector()
    language, _confidence = _identifier.classify(head)
    if language == _NO_LANGUAGE:
        return UNDETERMINED
    return _MERGED.get(language, str(language))


def _letters(text: str) -> int:
    count = 0
    for ch in text:
        if ch.isalpha():
            count += 2 if _wide(ch) else 1
            if count >= MIN_LETTERS:
                break
    return count


def _wide(ch: str) -> bool:
    """CJK ideographs, kana and hangul carry a word or a syllable each."""
    return unicodedata.east_asian_width(ch) in ("W", "F")
