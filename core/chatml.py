"""Dolphin-2.1's ChatML, rendered exactly, with every supplied string neutralized (pure; no I/O).

    <|im_start|>system\\n{system}<|im_end|>\\n<|im_start|>user\\n{text}<|im_end|>\\n<|im_start|>assistant\\n

TGI turns `<|im_start|>` / `<|im_end|>` typed by anyone into control tokens, so every user-, channel- and
model-supplied string goes through `neutralize()` before it enters a prompt or the stored history: the
markers (and `<s>`, `</s>`) become look-alike text that no tokenizer maps to a control token. Roles come
from the server, never from message text. TGI adds BOS itself: `<s>` is never put in the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.models import Role, Turn

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
STOP_SEQUENCES: tuple[str, ...] = (IM_END,)
ASSISTANT_HEADER = f"{IM_START}{Role.ASSISTANT.value}\n"

# Any bracketed control-token look-alike: <|im_start|>, <|im_end|>, <|endoftext|>, <s>, </s>, with any
# case and with whitespace inside the brackets. The replacement keeps them readable but inert: the pipe
# becomes U+00A6 BROKEN BAR and angle brackets become U+2039/U+203A (all stable under NFKC).
_PIPE_TOKEN = re.compile(r"<\s*\|([^<>|]{0,40})\|\s*>")
_BOS_EOS = re.compile(r"<\s*(/?)\s*s\s*>", re.IGNORECASE)
_NAME_BREAKS = re.compile(r"[\r\n:]+")
_SHARED_NOTE = (
    "You are in a group conversation. Each user message starts with the speaker's name and a colon. "
    "Answer as {bot_name}, without a name prefix."
)


def neutralize(text: str) -> str:
    """Make control-token look-alikes inert and replace invalid Unicode (lone surrogates)."""
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    if "<" not in text:
        return text
    while True:
        new = _PIPE_TOKEN.sub(lambda m: f"<¦{m.group(1)}¦>", text)
        new = _BOS_EOS.sub(lambda m: f"‹{m.group(1)}s›", new)
        if new == text:
            return new
        text = new


def system_content(base_prompt: str, *, shared: bool, bot_name: str) -> str:
    base = neutralize(base_prompt).strip()
    if not shared:
        return base
    return f"{base}\n\n{_SHARED_NOTE.format(bot_name=neutralize(bot_name))}"


def speaker_name(name: str) -> str:
    """A display name that cannot fake another speaker or role: one line, no colon."""
    cleaned = _NAME_BREAKS.sub(" ", neutralize(name)).strip()
    return cleaned or "someone"


def user_content(text: str, *, author_name: str, shared: bool) -> str:
    text = neutralize(text)
    return f"{speaker_name(author_name)}: {text}" if shared else text


def render_segment(role: Role, content: str) -> str:
    return f"{IM_START}{role.value}\n{neutralize(content)}{IM_END}\n"


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


def clean_answer(text: str) -> str:
    """What is shown and stored of a model answer."""
    text = text.strip()
    while text.endswith(IM_END):
        text = text[: -len(IM_END)].rstrip()
    return neutralize(text)
