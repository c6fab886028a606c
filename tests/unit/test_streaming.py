"""Splitting long answers and coalescing stream updates."""

from __future__ import annotations

import asyncio
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from core.streaming import Coalescer, split_message

FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})", re.MULTILINE)


def balanced(chunk: str) -> bool:
    """CommonMark: a fence closes with the same character, at least as long, and no info string."""
    opened: str | None = None
    for line in chunk.splitlines():
        m = re.match(r"^[ \t]*(`{3,}|~{3,})(.*)$", line)
        if not m:
            continue
        marker, info = m.group(1), m.group(2).strip()
        if marker[0] == "`" and "`" in info:
            continue  # not a fence: inline code
        if opened is None:
            opened = marker
        elif marker[0] == opened[0] and len(marker) >= len(opened) and not info:
            opened = None
    return opened is None


def strip_fences(text: str) -> str:
    return (
        "".join(line for line in text.splitlines() if not FENCE.match(line))
        .replace(" ", "")
        .replace("\n", "")
    )


def test_short_text_is_one_chunk() -> None:
    assert split_message("hello", max_chars=2000) == ["hello"]
    assert split_message("  \n ", max_chars=2000) == []


def test_long_answer_with_code_block_keeps_fences_balanced() -> None:
    prose = "This is a sentence about code. " * 60
    code = "\n".join(f"    print('line {i}')" for i in range(250))
    text = f"{prose}\n\n```python\n{code}\n```\n\n{prose}"
    assert len(text) > 7000
    chunks = split_message(text, max_chars=2000)
    assert len(chunks) >= 4
    for chunk in chunks:
        assert 0 < len(chunk) <= 2000
        assert balanced(chunk), chunk[-200:]
    reopened = [c for c in chunks[1:] if c.startswith("```python")]
    assert reopened, "the code block continues with its language tag"
    assert strip_fences("\n".join(chunks)) == strip_fences(text)


def test_prefers_paragraph_and_word_boundaries() -> None:
    text = ("word " * 300).strip() + "\n\n" + ("next " * 300).strip()
    chunks = split_message(text, max_chars=1600)
    assert chunks[0].endswith("word")
    assert all(not c.startswith(" ") and not c.endswith(" ") for c in chunks)
    for chunk in chunks:
        assert all(w in ("word", "next") for w in chunk.split())


def test_byte_budget_for_multibyte_text() -> None:
    text = "ünïcödé 🐬 " * 1000
    chunks = split_message(text, max_chars=4000, max_bytes=4000)
    assert all(len(c.encode()) <= 4000 for c in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")


def test_one_huge_word_is_cut() -> None:
    chunks = split_message("x" * 10_000, max_chars=2000)
    assert [len(c) for c in chunks] == [2000] * 5


LIMITS = (
    st.integers(min_value=20, max_value=400),
    st.one_of(st.none(), st.integers(min_value=20, max_value=400)),
)


def check_limits(chunks: list[str], max_chars: int, max_bytes: int | None, *, fences: bool = True) -> None:
    for chunk in chunks:
        assert chunk.strip()
        assert len(chunk) <= max_chars
        if max_bytes is not None:
            assert len(chunk.encode("utf-8", "surrogatepass")) <= max_bytes
        if fences:
            assert balanced(chunk)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(st.characters(blacklist_characters="`~"), max_size=300),
            st.sampled_from(["\n```\n", "\n```python\n", "\n~~~\n", "\n\n", " "]),
        ),
        max_size=30,
    ).map("".join),
    st.integers(min_value=60, max_value=400),
    st.one_of(st.none(), st.integers(min_value=60, max_value=400)),
)
def test_split_keeps_limits_fences_and_content(text: str, max_chars: int, max_bytes: int | None) -> None:
    chunks = split_message(text, max_chars=max_chars, max_bytes=max_bytes)
    check_limits(chunks, max_chars, max_bytes)
    joined = "\n".join(chunks)
    assert "".join(strip_fences(joined).split()) == "".join(strip_fences(text.strip()).split())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.text(max_size=300), st.sampled_from(["```", "```python", "~~~", "````", "`", "\n"])),
        max_size=30,
    ).map("".join),
    *LIMITS,
)
def test_split_never_exceeds_limits_on_adversarial_text(
    text: str, max_chars: int, max_bytes: int | None
) -> None:
    # Limits always hold; fences are balanced where the limits leave room for them (tested above).
    check_limits(
        split_message(text, max_chars=max_chars, max_bytes=max_bytes), max_chars, max_bytes, fences=False
    )


async def test_burst_is_coalesced_and_latest_text_published_after_a_stall() -> None:
    published: list[str] = []

    async def publish(text: str) -> None:
        published.append(text)

    c = Coalescer(publish, min_interval_s=0.05)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(500):
        c.push(f"t{i}")
        if i % 50 == 0:
            await asyncio.sleep(0.01)
    elapsed = loop.time() - start
    await asyncio.sleep(0.12)  # the stall: the newest text still appears
    assert published[-1] == "t499"
    assert len(published) <= int(elapsed / 0.05) + 3
    await c.aclose()


async def test_publish_error_is_kept_and_publishing_stops() -> None:
    calls = 0

    async def publish(text: str) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("blocked")

    c = Coalescer(publish, min_interval_s=0.0)
    c.push("a")
    await asyncio.sleep(0.01)
    c.push("b")
    await asyncio.sleep(0.01)
    assert isinstance(c.error, RuntimeError)
    assert calls == 1
    await c.aclose()


async def test_aclose_waits_for_publish_in_flight() -> None:
    done = asyncio.Event()

    async def publish(text: str) -> None:
        await asyncio.sleep(0.05)
        done.set()

    c = Coalescer(publish, min_interval_s=0.0)
    c.push("a")
    await asyncio.sleep(0.01)
    await c.aclose()
    assert done.is_set()
    c.push("b")  # ignored after close
    assert c.published == 1
