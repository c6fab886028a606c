"""A clock a test sets by hand, for the gate's one-minute rate-limit windows (`RedisGate(clock=…)`,
`build_gate(…, clock)`): with the real clock, a test that expects its Nth message to be refused fails when a
minute boundary passes between its messages (the new window starts from zero)."""

from __future__ import annotations

WINDOW_START = 1_000_020.0  # 0 s into a one-minute window (1_000_020 = 16_667 × 60)


class Clock:
    """Unix seconds that stand still until the test moves `now`: every message a test sends falls in the
    same window, however long the test takes."""

    def __init__(self, now: float = WINDOW_START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
