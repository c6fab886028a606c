"""Which stored exchanges go into a prompt: a window whose start stays put, so that consecutive prompts of a
conversation share their prefix and the model server's prefix cache (vLLM's automatic prefix caching,
SGLang's radix cache, TGI 3's prefix cache) keeps the work of the previous message (pure; no I/O).

Dropping the oldest exchange whenever the newest no longer fits changes the prompt right after the system
turn on every message once the window is full: consecutive prompts then share only the system prompt, and
the server reads the whole history again for each message. Here the window keeps its first exchange for as
long as the whole run still fits; when it no longer does (the token budget, or the store trimmed the
window's first exchange away at HISTORY_MAX_TURNS), it drops history in one block, down to the newest
exchanges that fill at most half of the budget (and at most half of what is stored). The prompts of the
messages that follow all start with the same text again, until the window is full once more.

The trade-off: the model sees between half and all of the history it could hold (about three quarters on
average) instead of all of it; docs/performance.md has the figures.

Each stored exchange records how many exchanges before it its prompt held (`Exchange.context`), so the next
message finds the window's start by counting back from the newest exchange: stable when the store trims the
oldest exchanges, and no state beyond the exchanges themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.models import Exchange

KEEP_SHARE = 0.5  # when the window is full, keep the newest exchanges that fill at most this share


def stable_window(exchanges: Sequence[Exchange], budget: int) -> tuple[list[Exchange], int]:
    """The exchanges for the next prompt, oldest first, and their tokens (at most `budget`)."""
    if not exchanges or budget <= 0:
        return [], 0
    last = exchanges[-1]
    if last.context is not None:
        start = len(exchanges) - 1 - last.context
        if start >= 0:  # the previous prompt's window is still stored: extend it by the last exchange
            window = exchanges[start:]
            used = sum(ex.tokens for ex in window)
            if used <= budget:
                return list(window), used
    return newest_that_fit(
        exchanges, int(budget * KEEP_SHARE), max_count=max(1, int(len(exchanges) * KEEP_SHARE))
    )


def newest_that_fit(
    exchanges: Sequence[Exchange], budget: int, *, max_count: int | None = None
) -> tuple[list[Exchange], int]:
    """The newest contiguous run of exchanges whose tokens fit `budget`, oldest first, and its tokens."""
    picked: list[Exchange] = []
    used = 0
    for ex in reversed(exchanges):
        if max_count is not None and len(picked) >= max_count:
            break
        tokens = ex.tokens
        if used + tokens > budget:
            break
        used += tokens
        picked.append(ex)
    picked.reverse()
    return picked, used
