"""Token counting: the bundled Mistral SentencePiece model, markers as one token, a conservative fallback."""

from __future__ import annotations

import pytest

from core.tokens import EstimatingCounter, SentencePieceCounter

SAMPLES = [
    "The quick brown fox jumps over the lazy dog.",
    "def f(x):\n    return {k: v for k, v in x.items() if k.startswith('_')}\n",
    "SELECT id, name FROM users WHERE created_at > NOW() - INTERVAL '7 days';",
    "日本語のテキストです。これはテストです。",
    "Привет, как дела? Всё хорошо.",
    "Ünïcödé façade naïve café — “quoted” text…",
    "🐬🐬🐬 dolphins 🌊",
    "https://example.com/path?query=1&other=two#frag",
    "0x7fffffff 1234567890 3.14159 -42",
    "    indented\n\n\tlines\n",
    "a" * 500,
    "<|im_start|>user\nAnn: hello there<|im_end|>\n",
]


@pytest.fixture(scope="module")
def sp() -> SentencePieceCounter:
    return SentencePieceCounter()


async def test_known_counts(sp: SentencePieceCounter) -> None:
    assert await sp.count("Hello world") == 2  # "▁Hello", "▁world"
    assert await sp.count("<|im_start|>") == 1
    assert await sp.count("<|im_end|>") == 1
    assert await sp.count("<|im_start|>user\nhi<|im_end|>") == 2 + await sp.count("user\nhi")


async def test_long_text_is_counted(sp: SentencePieceCounter) -> None:
    text = "word " * 10_000
    assert 9_000 < await sp.count(text) < 11_000


@pytest.mark.parametrize("text", SAMPLES)
async def test_estimate_never_undercounts(sp: SentencePieceCounter, text: str) -> None:
    exact = await sp.count(text)
    estimate = await EstimatingCounter().count(text)
    assert estimate >= exact, (estimate, exact)
