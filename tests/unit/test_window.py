"""The prompt window keeps its start while the history grows, and drops history in one block when full."""

from __future__ import annotations

from itertools import pairwise

from core.models import Exchange, Role, Turn
from core.window import newest_that_fit, stable_window


def exchange(i: int, tokens: int = 10, context: int | None = None) -> Exchange:
    return Exchange(
        user=Turn(Role.USER, f"q{i}", tokens // 2),
        assistant=Turn(Role.ASSISTANT, f"a{i}", tokens - tokens // 2),
        message_id=str(i),
        created_at=float(i),
        context=context,
    )


def converse(messages: int, budget: int, max_turns: int = 1000) -> list[list[str]]:
    """Windows of a conversation where each answer records its window, as ChatService does."""
    stored: list[Exchange] = []
    windows = []
    for i in range(messages):
        window, used = stable_window(stored, budget)
        assert used <= budget and used == sum(e.tokens for e in window)
        assert window == stored[len(stored) - len(window) :]  # the newest, contiguous
        windows.append([e.message_id for e in window])
        stored = [*stored, exchange(i, context=len(window))][-max_turns:]
    return windows


def test_window_start_stays_put_until_full_then_drops_to_half() -> None:
    windows = converse(40, budget=100)  # 10 exchanges of 10 tokens fit
    starts = [w[0] if w else None for w in windows]
    assert windows[10] == [str(i) for i in range(10)]  # the window fills with messages 0-9
    assert windows[11] == ["6", "7", "8", "9", "10"]  # full: down to the newest half, in one block
    assert all(starts[i] == "6" for i in range(11, 17))  # then the start stays put again
    changes = sum(1 for a, b in pairwise(starts[11:]) if a != b)
    assert changes <= 6  # about once per five messages, not on every message


def test_store_trimming_the_window_start_away_drops_to_half() -> None:
    windows = converse(60, budget=10_000, max_turns=20)
    assert windows[20] == [str(i) for i in range(20)]
    assert windows[21] == [str(i) for i in range(11, 21)]  # the first exchange was trimmed: newest 10
    assert windows[22][0] == "11"


def test_history_without_recorded_windows_starts_a_new_one() -> None:
    old = [exchange(i) for i in range(8)]  # stored before windows were recorded
    window, _ = stable_window(old, budget=1000)
    assert [e.message_id for e in window] == ["4", "5", "6", "7"]


def test_newest_that_fit() -> None:
    ex = [exchange(i, tokens=t) for i, t in enumerate([30, 5, 5, 5])]
    assert [e.message_id for e in newest_that_fit(ex, 20)[0]] == ["1", "2", "3"]
    assert newest_that_fit(ex, 20, max_count=2)[1] == 10
    assert stable_window([], 50) == ([], 0) and stable_window(ex, 0) == ([], 0)
