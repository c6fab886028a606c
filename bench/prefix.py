"""Prefix figures of one conversation's prompts: how much of each prompt a server's prefix cache already
holds from the conversation's previous prompt, once the history window has first filled (pure)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence


def common_prefix(a: str, b: str) -> int:
    """Length of the common prefix of two strings (character by character, as meant here)."""
    return len(os.path.commonprefix([a, b]))  # noqa: RUF071


def first_fill(prompts: Sequence[str]) -> int | None:
    """Index of the first prompt that does not repeat the whole previous one: history was dropped."""
    for i in range(1, len(prompts)):
        if not prompts[i].startswith(prompts[i - 1]):
            return i
    return None


async def prefix_figures(
    prompts: Sequence[str], count: Callable[[str], Awaitable[int]]
) -> dict[str, float | int | None]:
    """`prefix_reuse_ratio`: the mean share (in characters) of each prompt that repeats the start of the
    previous prompt, from the first prompt after which history was dropped. `prefill_tokens_per_msg`:
    the mean tokens of each prompt past that shared start (what the server must compute afresh);
    `prompt_tokens_per_msg`: the mean tokens of the prompts, over the same messages."""
    start = first_fill(prompts)
    if start is None:
        return {"prefix_reuse_ratio": None, "prefill_tokens_per_msg": None, "prompt_tokens_per_msg": None}
    shares, prefill, total = [], [], []
    for i in range(start, len(prompts)):
        shared = common_prefix(prompts[i], prompts[i - 1])
        shares.append(shared / len(prompts[i]))
        prefill.append(await count(prompts[i][shared:]))
        total.append(await count(prompts[i]))
    return {
        "prefix_reuse_ratio": round(sum(shares) / len(shares), 3),
        "prefill_tokens_per_msg": round(sum(prefill) / len(prefill), 1),
        "prompt_tokens_per_msg": round(sum(total) / len(total), 1),
        "prefix_window_first_full_at_msg": start,
    }
