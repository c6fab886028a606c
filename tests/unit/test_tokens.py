"""Token counting: the bundled Mistral SentencePiece model, markers as one token, a conservative fallback."""

from __future__ import annotations

import base64

import pytest

from core.errors import ConfigurationError, ModelUnavailable
from core.llm import GenerationParams, ModelInfo, StreamEvent
from core.tokens import (
    EstimatingCounter,
    SentencePieceCounter,
    TGITokenCounter,
    build_counter,
    estimate_tokens,
)

SAMPLES = [
    # English
    "The quick brown fox jumps over the lazy dog.",
    "I was wondering whether you could help me understand how photosynthesis works in plants, especially "
    "the light-dependent reactions. My teacher explained it quickly and I didn't quite follow.",
    "THIS IS ALL UPPERCASE SHOUTING TEXT FOR TESTING PURPOSES.",
    "pneumonoultramicroscopicsilicovolcanoconiosis and Donaudampfschifffahrtsgesellschaft",
    # code, markup, data
    "def f(x):\n    return {k: v for k, v in x.items() if k.startswith('_')}\n",
    "async def main() -> None:\n    async with httpx.AsyncClient() as client:\n"
    "        r = await client.get('https://example.com')\n        print(r.status_code)\n",
    "SELECT id, name FROM users WHERE created_at > NOW() - INTERVAL '7 days';",
    '{"id": 12345, "name": "Ann", "tags": ["a", "b"], "nested": {"k": [1, 2, 3]}}',
    "# Title\n\n- item **bold** _it_\n```python\nprint('hi')\n```\n> quote",
    "getUserAccountBalanceForCurrentFiscalYearAndQuarterId",
    "https://example.com/path?query=1&other=two#frag",
    "see https://docs.python.org/library/asyncio-task.html#asyncio.timeout for more",
    # numbers, ids, encodings
    "0x7fffffff 1234567890 3.14159 -42",
    "1 2 3 4 5 6 7 8 9 0 " * 10,
    "550e8400-e29b-41d4-a716-446655440000 and 6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    base64.b64encode(bytes(range(256))).decode(),
    "!!!???...,,,;;;:::---___===+++***&&&^^^%%%$$$###@@@",
    # whitespace
    "    indented\n\n\tlines\n",
    " " * 50 + "x" + "\t" * 20 + "\n" * 20,
    "a" * 500,
    # other scripts and symbols
    "日本語のテキストです。これはテストです。",
    "我们今天去公园散步，然后吃了一顿很好吃的晚饭。",
    "안녕하세요, 만나서 반갑습니다. 오늘 날씨가 좋네요.",
    "Привет, как дела? Всё хорошо.",
    "Καλημέρα, τι κάνεις σήμερα;",
    "مرحبا، كيف حالك؟ أنا بخير شكرا.",
    "नमस्ते, आप कैसे हैं? मैं ठीक हूँ।",
    "สวัสดีครับ คุณสบายดีไหม",
    "Tiếng Việt có dấu rất phức tạp đấy nhé",
    "Ünïcödé façade naïve café — “quoted” text…",
    "∀x∈ℝ: ∫₀¹ f(x)dx ≤ ∑ᵢ aᵢ² ⇒ ∞",
    "🐬🐬🐬 dolphins 🌊",
    "👨‍👩‍👧‍👦 family 🏳️‍🌈 flag 👍🏽",
    "".join(chr(c) for c in range(0x4E00, 0x9FFF, 97)),  # rare CJK ideographs: byte fallback
    # ChatML
    "<|im_start|>user\nAnn: hello there<|im_end|>\n",
    "<|im_start|>system\nYou are Dolphin, a helpful AI assistant.<|im_end|>\n<|im_start|>user\n"
    "Ann: what's 2+2?<|im_end|>\n<|im_start|>assistant\n",
]


@pytest.fixture(scope="module")
def sp() -> SentencePieceCounter:
    return SentencePieceCounter()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello world", 2),  # ▁Hello ▁world
        ("Hello, world!", 4),  # ▁Hello , ▁world !
        ("12345", 6),  # ▁ 1 2 3 4 5: numbers are split into digits
        ("🐬", 5),  # ▁ + four byte-fallback tokens
        ("You are Dolphin, a helpful AI assistant.", 11),
        ("<|im_start|>", 1),
        ("<|im_end|>", 1),
        ("<|im_start|><|im_end|>", 2),
    ],
)
async def test_known_counts(sp: SentencePieceCounter, text: str, expected: int) -> None:
    assert await sp.count(text) == expected


async def test_chatml_markers_are_one_token_each(sp: SentencePieceCounter) -> None:
    # Without the split, SentencePiece would spell each marker out as 7 pieces (▁< | im _ start | >).
    turn = "<|im_start|>user\nhi<|im_end|>"
    assert await sp.count(turn) == 2 + await sp.count("user\nhi")
    assert await EstimatingCounter().count("<|im_start|><|im_end|>") == 2


async def test_long_text_is_counted(sp: SentencePieceCounter) -> None:
    text = "word " * 10_000  # above the thread threshold
    assert await sp.count(text) == 10_000 + 1  # ▁word x 10,000 and one trailing ▁
    assert await sp.count(text) == sp.count_sync(text)


@pytest.mark.parametrize("text", SAMPLES)
async def test_estimate_never_undercounts(sp: SentencePieceCounter, text: str) -> None:
    exact = await sp.count(text)
    estimate = await EstimatingCounter().count(text)
    assert estimate >= exact, (estimate, exact)


async def test_estimate_stays_within_three_times_for_prose(sp: SentencePieceCounter) -> None:
    # Conservative, but not so much that most of the history is thrown away.
    for text in SAMPLES[:4]:
        assert estimate_tokens(text) <= 3 * await sp.count(text), text


class _StubGenerator:
    """A `TextGenerator` without sockets, to drive `build_counter`'s choices."""

    def __init__(self, *, model_id: str | None, tokenize: bool | None) -> None:
        self.model_id = model_id
        self.tokenize = tokenize  # True: works; False: 404 (NotImplementedError); None: unreachable

    async def info(self) -> ModelInfo:
        if self.model_id is None:
            raise ModelUnavailable("down")
        return ModelInfo(model_id=self.model_id, max_input_tokens=7168, max_total_tokens=8192)

    async def stream(self, prompt: str, params: GenerationParams) -> StreamEvent:  # pragma: no cover
        raise NotImplementedError

    async def count_tokens(self, text: str) -> int:
        if self.tokenize is None:
            raise ModelUnavailable("down")
        if not self.tokenize:
            raise NotImplementedError
        return 42

    async def healthy(self) -> bool:  # pragma: no cover
        return True


@pytest.mark.parametrize(
    ("mode", "model_id", "tokenize", "expected"),
    [
        ("estimate", "x", True, EstimatingCounter),
        ("sentencepiece", "x", True, SentencePieceCounter),
        ("tgi", "x", True, TGITokenCounter),
        ("tgi", None, None, TGITokenCounter),  # not reachable at start-up: checked per message
        ("auto", "cognitivecomputations/dolphin-2.1-mistral-7b", True, SentencePieceCounter),
        ("auto", "Qwen/Qwen2.5-7B-Instruct", True, TGITokenCounter),
        ("auto", "Qwen/Qwen2.5-7B-Instruct", False, SentencePieceCounter),
        ("auto", None, None, SentencePieceCounter),
    ],
)
async def test_build_counter_choices(
    mode: str, model_id: str | None, tokenize: bool | None, expected: type
) -> None:
    generator = _StubGenerator(model_id=model_id, tokenize=tokenize)
    counter = await build_counter(mode, generator)  # type: ignore[arg-type]
    assert isinstance(counter, expected)
    if expected is TGITokenCounter and tokenize:
        assert await counter.count("anything") == 42


async def test_tgi_counting_without_tokenize_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as err:
        await build_counter("tgi", _StubGenerator(model_id="x", tokenize=False))
    assert err.value.setting == "CHAT_TOKENIZER"
