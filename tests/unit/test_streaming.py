"""Splitting long answers over message limits, and coalescing stream updates.

Properties over arbitrary text (hypothesis) live in test_properties_text.py.
"""

from __future__ import annotations

import asyncio
import math

import pytest

from core.errors import Blocked
from core.streaming import CheckAhead, Coalescer, Fence, fence_state, split_message, visible_part
from tests.polling import until
from tests.unit.test_properties_text import balanced, pieces_of

# ------------------------------------------------------------------------------------------ splitting


def check(chunks: list[str], text: str, max_chars: int, max_bytes: int | None = None) -> None:
    assert chunks
    for chunk in chunks:
        assert chunk.strip() and len(chunk) <= max_chars
        assert max_bytes is None or len(chunk.encode()) <= max_bytes
        assert balanced(chunk), chunk
    assert pieces_of(text, chunks)


def test_short_text_is_one_chunk_and_blank_text_none() -> None:
    assert split_message("  hello\r\n", max_chars=2000) == ["hello"]
    assert split_message("  \n \t", max_chars=2000) == []
    assert split_message("", max_chars=2000) == []


def test_long_answer_with_code_block_reopens_the_language() -> None:
    prose = "This is a sentence about code. " * 60
    code = "\n".join(f"    print('line {i}')" for i in range(250))
    text = f"{prose}\n\n```python\n{code}\n```\n\n{prose}"
    chunks = split_message(text, max_chars=2000)
    check(chunks, text, 2000)
    inside = [c for c in chunks if "print(" in c]
    assert len(inside) >= 3
    assert all(c.startswith("```python\n    print(") for c in inside)  # reopened, indentation kept
    assert all(c.endswith("\n```") for c in inside)
    assert chunks[0] == prose.strip()  # cut at the paragraph break before the code block


def test_uses_the_texts_own_closing_fence_when_it_fits() -> None:
    text = "intro\n\n```sh\nls\n```\nafter " + "word " * 20
    chunks = split_message(text, max_chars=40)
    check(chunks, text, 40)
    assert "".join(chunks).count("```") == 2  # no fence added


def test_preference_paragraph_then_line_then_sentence_then_word() -> None:
    para = "First para. " * 10 + "\n\nSecond para line one.\nline two. " + "more " * 30
    assert split_message(para, max_chars=200)[0] == ("First para. " * 10).strip()
    lines = "alpha beta gamma. " * 5 + "\nnext line here and more words " * 3
    assert split_message(lines, max_chars=120)[0] == ("alpha beta gamma. " * 5).strip()
    sentences = "Alpha beta gamma delta epsilon. Zeta eta theta iota kappa lambda"
    assert split_message(sentences, max_chars=40)[0] == "Alpha beta gamma delta epsilon."
    words = "lorem ipsum dolor sit amet consectetur adipiscing elit"
    chunks = split_message(words, max_chars=20)
    assert " ".join(chunks).split() == words.split()
    assert all(len(c) <= 20 for c in chunks)


def test_a_short_word_is_never_cut_even_early_in_the_window() -> None:
    text = "tiny " + "x" * 18 + " end"
    assert split_message(text, max_chars=20) == ["tiny", "x" * 18, "end"]


def test_byte_budget_for_multibyte_text() -> None:
    text = "ünïcödé 🐬 " * 1000
    chunks = split_message(text, max_chars=4000, max_bytes=4000)
    check(chunks, text, 4000, 4000)
    assert " ".join(chunks).split() == text.split()


def test_one_huge_word_is_cut_into_full_chunks() -> None:
    chunks = split_message("x" * 10_000, max_chars=2000)
    assert [len(c) for c in chunks] == [2000] * 5


def test_hard_cut_keeps_combining_marks_and_emoji_sequences_whole() -> None:
    family = "👩\u200d👩\u200d👧"
    text = ("e\u0301" * 9) + family * 3
    for chunk in split_message(text, max_chars=10):
        assert not chunk.startswith(("\u0301", "\u200d"))
        assert not chunk.endswith("\u200d")


def test_cjk_sentences_split_after_full_stops() -> None:
    text = "这是第一句。这是第二句。这是第三句。"
    assert split_message(text, max_chars=13) == ["这是第一句。这是第二句。", "这是第三句。"]


def test_big_code_block_at_a_tiny_limit() -> None:
    text = "```\n" + "\n".join("a" * (i % 30 + 1) for i in range(600)) + "\n```"
    assert len(text) > 9000
    chunks = split_message(text, max_chars=20)
    check(chunks, text, 20)
    assert all(c.startswith("```\n") and c.endswith("\n```") for c in chunks)


def test_long_language_tag_is_dropped_when_it_does_not_fit() -> None:
    text = "```" + "x" * 30 + "\n" + "code line\n" * 20 + "```"
    chunks = split_message(text, max_chars=40)
    check(chunks, text, 40)
    assert chunks[1].startswith("```\n")


def test_unclosed_code_block_is_closed() -> None:
    assert split_message("see:\n```js\nlet a = 1", max_chars=100) == ["see:\n```js\nlet a = 1\n```"]


@pytest.mark.parametrize(
    "text",
    [
        "```\n```\n```\n" * 30,
        "``````\n" * 40,
        "~~~\n```\n~~~~\n```python\n" * 20,
        "````\ncode ``` still code\n```\nstill\n````\nout " * 10,
    ],
)
def test_lines_of_only_backticks(text: str) -> None:
    check(split_message(text, max_chars=30), text, 30)


def test_limits_below_what_fences_need_still_hold() -> None:
    text = "```python\n" + "x = 1\n" * 10 + "```"
    chunks = split_message(text, max_chars=5)
    assert all(0 < len(c) <= 5 for c in chunks)


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        split_message("hi", max_chars=0)
    with pytest.raises(ValueError):
        split_message("hi", max_chars=10, max_bytes=3)


def test_fence_state_follows_commonmark() -> None:
    assert fence_state("```python\nx") == Fence("```", "python")
    assert fence_state("````\n```\n") == Fence("````")  # a shorter line does not close
    assert fence_state("```\n```python\n") == Fence("```")  # a line with an info string does not close
    assert fence_state("~~~\n```\n~~~") is None
    assert fence_state("``` a ` b\n") is None  # not a fence: backtick in the info string


# ------------------------------------------------------------------------------------------ coalescing


class Recorder:
    def __init__(self, *, delay_s: float = 0.0) -> None:
        self.texts: list[str] = []
        self.starts: list[float] = []
        self.delay_s = delay_s
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, text: str) -> None:
        self.starts.append(asyncio.get_running_loop().time())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        self.texts.append(text)


async def test_burst_is_coalesced_and_latest_text_published_after_a_stall() -> None:
    interval = 0.05
    rec = Recorder()
    c = Coalescer(rec, min_interval_s=interval, clock=asyncio.get_running_loop().time)
    start = asyncio.get_running_loop().time()
    for i in range(500):
        c.push(f"t{i}")
        if i % 25 == 0:
            await asyncio.sleep(0.004)
    pushed_for = asyncio.get_running_loop().time() - start
    await asyncio.sleep(interval * 2.5)  # the stall: nothing pushed, the timer still publishes
    await c.aclose()
    assert rec.texts[-1] == "t499"
    assert 2 <= len(rec.texts) <= math.ceil(pushed_for / interval) + 1
    gaps = [b - a for a, b in zip(rec.starts, rec.starts[1:], strict=False)]
    assert min(gaps) >= interval * 0.95
    assert c.published == len(rec.texts)


async def test_first_push_is_published_at_once() -> None:
    rec = Recorder()
    c = Coalescer(rec, min_interval_s=10.0)
    c.push("hello")
    await asyncio.sleep(0.01)
    assert rec.texts == ["hello"]
    c.push("hello world")  # within the interval: waits
    await asyncio.sleep(0.01)
    assert rec.texts == ["hello"]
    await c.aclose()  # cancels the timer promptly; the final text is the caller's to deliver
    assert rec.texts == ["hello"]


async def test_one_publish_in_flight_and_intermediate_texts_skipped() -> None:
    rec = Recorder(delay_s=0.03)
    c = Coalescer(rec, min_interval_s=0.0)
    for i in range(20):
        c.push(f"t{i}")
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.1)
    await c.aclose()
    assert rec.max_in_flight == 1
    assert rec.texts[-1] == "t19"
    assert len(rec.texts) < 10


async def test_publish_error_is_kept_and_publishing_stops() -> None:
    calls: list[str] = []

    async def publish(text: str) -> None:
        calls.append(text)
        raise Blocked(stage="output", category="weapons")

    c = Coalescer(publish, min_interval_s=0.0)
    c.push("a")
    await asyncio.sleep(0.01)
    c.push("b")
    await asyncio.sleep(0.01)
    assert isinstance(c.error, Blocked) and c.error.category == "weapons"
    assert calls == ["a"]
    assert c.published == 0
    await c.aclose()


async def test_aclose_waits_for_publish_in_flight_and_then_publishes_nothing() -> None:
    rec = Recorder(delay_s=0.05)
    c = Coalescer(rec, min_interval_s=0.0)
    c.push("a")
    await asyncio.sleep(0.01)
    c.push("b")  # pending while "a" is in flight
    await c.aclose()
    assert rec.texts == ["a"] and rec.in_flight == 0
    c.push("c")  # ignored after close
    await asyncio.sleep(0.01)
    assert c.published == 1


async def test_aclose_without_pushes_and_twice() -> None:
    c = Coalescer(Recorder(), min_interval_s=1.0)
    await c.aclose()
    await c.aclose()
    assert c.published == 0


# ------------------------------------------------------------------------------------------ CheckAhead


def test_visible_part_keeps_the_look_ahead_and_cuts_at_a_sentence_or_a_space() -> None:
    text = "One two three. Four five six seven eight nine ten."
    assert visible_part(text, 100, window=20) == ""
    assert visible_part(text, 20, window=20) == "One two three."  # sentence end within the window
    assert visible_part(text, 12, window=5) == "One two three. Four five six seven"  # else a space
    assert visible_part(text, 0, window=5) == text
    assert not visible_part("x" * 50, 10, window=5)  # never inside a word


async def test_check_ahead_shows_only_checked_text_minus_the_look_ahead_and_checks_per_chunk() -> None:
    checked: list[str] = []
    shown: list[str] = []
    release = asyncio.Event()

    async def check(text: str) -> bool:
        checked.append(text)
        await release.wait()
        return False

    ahead = CheckAhead(check, shown.append, lookahead_chars=40, chunk_chars=40)
    text = ""
    for i in range(60):  # 60 tokens, a check in flight holds while the text keeps growing
        text += f" w{i:02d}"
        ahead.push(text.strip())
        await asyncio.sleep(0)
    assert len(checked) == 1 and shown == []  # one check in flight, nothing shown before its verdict
    release.set()
    await until(lambda: len(checked) == 2 and len(shown) == 2)
    assert checked[1] == text.strip()  # the next check took everything that arrived meanwhile
    for s in shown:
        assert any(c.startswith(s) and len(c) >= len(s) + 40 for c in checked)
    await ahead.aclose()
    ahead.push(text + " more" * 100)
    assert len(checked) == 2  # closed: nothing more is checked


async def test_check_ahead_keeps_the_error_and_stops() -> None:
    async def check(text: str) -> bool:
        raise ValueError("blocked")

    shown: list[str] = []
    ahead = CheckAhead(check, shown.append, lookahead_chars=0, chunk_chars=20)
    ahead.push("x " * 30)
    await until(lambda: ahead.error is not None)
    ahead.push("x " * 60)
    assert shown == [] and isinstance(ahead.error, ValueError)
    await ahead.aclose()


async def stream_through(ahead: CheckAhead, words: int) -> str:
    """Push `words` words one at a time, letting each check run to its verdict."""
    text = ""
    for i in range(words):
        text += f" w{i:03d}"
        ahead.push(text.strip())
        for _ in range(3):
            await asyncio.sleep(0)
    return text.strip()


async def test_check_ahead_shows_nothing_while_a_check_holds_and_resumes_when_it_stops() -> None:
    """The suspicion hold: checks of texts up to 150 characters hold; the later ones do not."""
    checked: list[tuple[str, bool]] = []
    shown: list[str] = []

    async def check(text: str) -> bool:
        checked.append((text, len(text) <= 150))
        return len(text) <= 150

    ahead = CheckAhead(check, shown.append, lookahead_chars=40, chunk_chars=40)
    await stream_through(ahead, 60)
    held = [t for t, hold in checked if hold]
    assert len(held) >= 2 and ahead.holds == len(held)  # checked while held, nothing shown on those
    assert shown, "showing resumed once a check no longer held"
    first_free = next(t for t, hold in checked if not hold)
    assert shown[0] == visible_part(first_free, 40, window=20)  # the first shown text: after the hold
    assert not ahead.held
    await ahead.aclose()


async def test_check_ahead_resumes_showing_after_holding_for_hold_max_chars() -> None:
    checked: list[str] = []
    shown: list[str] = []

    async def check(text: str) -> bool:
        checked.append(text)
        return True  # always suspicious, never blocked

    ahead = CheckAhead(check, shown.append, lookahead_chars=40, chunk_chars=40, hold_max_chars=120)
    await stream_through(ahead, 80)
    assert shown, "the cap let it show"
    first = checked[0]
    capped_at = next(t for t in checked if len(t) - len(first) >= 120)
    assert shown[0] == visible_part(capped_at, 40, window=20)  # nothing before the cap, then as checked
    assert ahead.holds == checked.index(capped_at)  # after the cap, checks no longer hold
    await ahead.aclose()

    uncapped: list[str] = []
    ahead = CheckAhead(check, uncapped.append, lookahead_chars=40, chunk_chars=40)  # 0: no cap
    await stream_through(ahead, 80)
    assert uncapped == [] and ahead.held
    await ahead.aclose()
