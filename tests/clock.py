"""A clock a test sets by hand: for the daily budgets' day (`RedisBudget(clock=…)`) and for the gate's
one-minute rate-limit windows (`RedisGate(clock=…)`, `build_gate(…, clock)`). With the real clock, a test
that expects its Nth message to be refused fails when a minute boundary passes between its messages (the
new window starts from zero). Tests of real processes, which cannot be handed a clock, send such messages
`within_one_window`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.gate import WINDOW_S

WINDOW_START = 1_000_020.0  # 0 s into a one-minute window (1_000_020 = 16_667 × 60)


class Clock:
    """Unix seconds that stand still until the test moves `now`: every message a test sends falls in the
    same window, however long the test takes."""

    def __init__(self, now: float = WINDOW_START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def within_one_window(seconds: float) -> AsyncIterator[None]:
    """For real processes, whose gates read the system clock: the block starts with at least `seconds` left
    of the current one-minute window (waiting for the next window if need be) and is cancelled after
    `seconds` (TimeoutError), so whatever the gates admit inside it falls in one window."""
    assert 0 < seconds < WINDOW_S
    left = WINDOW_S - time.time() % WINDOW_S
    if left < seconds:
        await asyncio.sleep(left + 0.05)  # a little into the next window
    async with asyncio.timeout(seconds):
        yield
