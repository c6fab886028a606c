"""Credentials out of text that reaches a log line or an error message.

`redact_url` replaces the user-info part of every URL in a text (`redis://user:secret@host` →
`redis://***@host`). The user info is taken to end at the *last* `@` before the next URL or white space,
not the first: a password may hold `@`, `:` or `/` (percent-encoded or not), and a redaction that stops
early shows the rest of it. Where a text has an `@` but no scheme (`user:secret@host:6379`, a URL typed
without `redis://`), everything before the last `@` goes too. Redacting too much (a path with an `@`) only
costs a log line some detail; redacting too little leaks a password.

Its own module (not core/observability.py, which re-exports it) so that core/settings.py can use it in its
validation messages without an import cycle.
"""

from __future__ import annotations

import re

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_SPACE = re.compile(r"(\s+)")
_OPENERS = re.compile(r"^[\"'(\[<{]*")
MASK = "***"


def redact_url(text: str) -> str:
    """`text` with the user info of every URL in it replaced by `***`."""
    if "@" not in text:
        return text
    return "".join(_redact_word(word) for word in _SPACE.split(text))


def _redact_word(word: str) -> str:
    if "@" not in word:
        return word
    schemes = list(_SCHEME.finditer(word))
    if not schemes:
        lead = _OPENERS.match(word)
        start = lead.end() if lead else 0
        return word[:start] + MASK + word[word.rindex("@") :]
    out = [word[: schemes[0].start()]]
    for i, scheme in enumerate(schemes):
        end = schemes[i + 1].start() if i + 1 < len(schemes) else len(word)
        rest = word[scheme.end() : end]
        at = rest.rfind("@")
        out.append(scheme.group(0) + (MASK + rest[at:] if at >= 0 else rest))
    return "".join(out)
