"""Dolphin-2.1's ChatML, rendered exactly, with every supplied string neutralized (pure; no I/O).

    <|im_start|>system\\n{system}<|im_end|>\\n<|im_start|>user\\n{text}<|im_end|>\\n<|im_start|>assistant\\n

TGI turns `<|im_start|>` / `<|im_end|>` typed by anyone into control tokens, so every user-, channel- and
model-supplied string goes through `neutralize()` before it enters a prompt or the stored history: the
markers (and `<s>`, `</s>`, `<unk>`) become look-alike text that no tokenizer maps to a control token.
Roles come from the server, never from message text. TGI adds BOS itself: `<s>` is never put in the prompt.

Neutralized forms stay readable and are stable under Unicode NFKC (so a later normalization step cannot
turn them back into markers): the pipes of `<|…|>` become U+00A6 BROKEN BAR (`<¦im_start¦>`) and the
angle brackets of `<s>`, `</s>`, `<unk>` become U+2039/U+203A (`‹s›`). Fullwidth and small-form brackets,
pipes and letters (which NFKC folds to ASCII), any letter case, and whitespace or invisible format
characters inside the brackets are recognised too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.models import Role, Turn

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
STOP_SEQUENCES: tuple[str, ...] = (IM_END,)
ASSISTANT_HEADER = f"{IM_START}{Role.ASSISTANT.value}\n"
_HEADERS = {role: f"{IM_START}{role.value}\n" for role in Role}  # Enum.value is a slow descriptor

NEUTRAL_PIPE = "\u00a6"  # ¦ BROKEN BAR: no NFKC decomposition
NEUTRAL_OPEN = "\u2039"  # ‹
NEUTRAL_CLOSE = "\u203a"  # ›

# Every character that NFKC folds to the ASCII character (checked against the Unicode tables by a test).
_LT = "<\ufe64\uff1c"
_GT = ">\ufe65\uff1e"
_PIPE = "|\uff5c"
_SLASH = "/\uff0f"
# Whitespace and invisible format characters (zero-width, bidi controls, soft hyphen, BOM) that a
# normalizer elsewhere might drop: tolerated between the parts of a marker.
_GAP = r"[\s\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]*"
_S = (
    "sS\u017f\u02e2\u209b\u24c8\u24e2\uff33\uff53\U0001f142"
    "\U0001d412\U0001d42c\U0001d446\U0001d460\U0001d47a\U0001d494\U0001d4ae\U0001d4c8\U0001d4e2"
    "\U0001d4fc\U0001d516\U0001d530\U0001d54a\U0001d564\U0001d57e\U0001d598\U0001d5b2\U0001d5cc"
    "\U0001d5e6\U0001d600\U0001d61a\U0001d634\U0001d64e\U0001d668\U0001d682\U0001d69c"
)

# `<|anything|>` (no brackets or pipes inside): covers <|im_start|>, <|im_end|>, <|endoftext|>, any case.
_PIPE_TOKEN = re.compile(rf"([{_LT}]{_GAP})[{_PIPE}]([^{_LT}{_GT}{_PIPE}\n]{{0,40}})[{_PIPE}]({_GAP}[{_GT}])")
# `<s>`, `</s>`, `<unk>` with any case, compatibility forms and gaps.
_ANGLE_TOKEN = re.compile(
    rf"[{_LT}]({_GAP}[{_SLASH}]?{_GAP}(?:[{_S}]|unk){_GAP})[{_GT}]",
    re.IGNORECASE,
)
_NEEDS_WORK = re.compile(rf"[{_LT}]")
_SURROGATE = re.compile("[\ud800-\udfff]")

# Speaker names: one line, no colon (nor a look-alike), no invisible characters, bounded length.
MAX_NAME_CHARS = 64
_NAME_SEPARATORS = re.compile(r"[\s:\ufe13\ufe55\uff1a\ua789\u2236\u02d0]+")
_NAME_INVISIBLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]"
)

_SHARED_NOTE = (
    "This is a group conversation: each user message starts with the speaker's name and a colon, "
    "and you answer as {bot_name}, without any name prefix."
)


def valid_unicode(text: str) -> str:
    """Join surrogate pairs and replace lone surrogates with U+FFFD, so that encoding never fails."""
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def neutralize(text: str) -> str:
    """Make control-token look-alikes inert text and replace invalid Unicode. Idempotent."""
    if text.isascii() and "<" not in text:  # the common case: no marker can start, nothing to repair
        return text
    text = valid_unicode(text)
    if _NEEDS_WORK.search(text) is None:
        return text
    # Repeat until stable: replacing one marker can bring the parts of another together
    # (`<|im_<|im_end|>start|>`). Each pass removes pipes or brackets, so this terminates.
    while True:
        new = _PIPE_TOKEN.sub(
            lambda m: f"{m.group(1)}{NEUTRAL_PIPE}{m.group(2)}{NEUTRAL_PIPE}{m.group(3)}", text
        )
        new = _ANGLE_TOKEN.sub(lambda m: f"{NEUTRAL_OPEN}{m.group(1)}{NEUTRAL_CLOSE}", new)
        if new == text:
            return new
        text = new


def speaker_name(name: str) -> str:
    """A display name that cannot fake another speaker or a role: one line, no colon, at most 64 chars."""
    if name.isascii() and name.isalnum() and len(name) <= MAX_NAME_CHARS:  # nothing to clean
        return name
    cleaned = _NAME_SEPARATORS.sub(" ", neutralize(name))
    cleaned = _NAME_INVISIBLE.sub("", cleaned).strip()[:MAX_NAME_CHARS].strip()
    return cleaned or "someone"


def system_content(base_prompt: str, *, shared: bool, bot_name: str) -> str:
    """The system prompt; in shared channels it also explains the `name: text` convention."""
    base = neutralize(base_prompt).strip()
    if not shared:
        return base
    note = _SHARED_NOTE.format(bot_name=speaker_name(bot_name))
    return f"{base}\n\n{note}" if base else note


def user_content(text: str, *, author_name: str, shared: bool) -> str:
    """A user turn's content: `name: text` in shared channels, the plain text in direct conversations."""
    text = neutralize(text)
    return f"{speaker_name(author_name)}: {text}" if shared else text


def render_segment(role: Role, content: str) -> str:
    """One ChatML segment; `role` comes from the server, never from text."""
    return f"{_HEADERS[role]}{neutralize(content)}{IM_END}\n"


def render_turn(turn: Turn, *, shared: bool) -> str:
    if turn.role is Role.USER:
        content = user_content(turn.text, author_name=turn.author_name or "someone", shared=shared)
    else:
        content = turn.text
    return render_segment(turn.role, content)


def render_prompt(system: str, turns: Sequence[Turn], *, shared: bool) -> str:
    """System segment, every turn's segment (the last one is the new user turn), the assistant header."""
    parts = [render_segment(Role.SYSTEM, system)]
    parts.extend(render_turn(turn, shared=shared) for turn in turns)
    parts.append(ASSISTANT_HEADER)
    return "".join(parts)


def stored_answer(text: str) -> str:
    """What is stored of a model answer, to be sent back in later prompts: the text as generated (not
    trimmed, so the prompt repeats what the server has cached), without a trailing end marker, neutralized."""
    text = valid_unicode(text)
    while text.endswith(IM_END):
        text = text[: -len(IM_END)]
    return neutralize(text)


def clean_answer(text: str) -> str:
    """What is shown and stored of a model answer: no trailing end marker, trimmed, neutralized."""
    text = valid_unicode(text).strip()
    while text.endswith(IM_END):
        text = text[: -len(IM_END)].rstrip()
    return neutralize(text)
