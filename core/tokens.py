"""Token counting: exact (TGI `/tokenize`, or the Mistral-7B SentencePiece model) with a conservative
fallback.

`mistral-common` ships the Mistral-7B-v0.1 SentencePiece model (32,000 pieces) as
`mistral_common/data/tokenizer.model.v1`; Dolphin-2.1 adds the two ChatML markers as single tokens
(32000 `<|im_end|>`, 32001 `<|im_start|>`), so they are counted as one token each here.
"""

from __future__ import annotations

import asyncio
import math
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import structlog

from core.errors import UpstreamError

if TYPE_CHECKING:
    from core.llm import TextGenerator

log = structlog.get_logger(__name__)

_MISTRAL_FAMILY = ("dolphin-2.1-mistral", "dolphin-2.2.1-mistral", "mistral-7b")
_MARKERS = re.compile(r"<\|im_start\|>|<\|im_end\|>")
_THREAD_ABOVE_CHARS = 20_000  # encoding is ~1 µs per character; hand long texts to a thread


class TokenCounter(Protocol):
    async def count(self, text: str) -> int:
        """Tokens of `text` as the model's tokenizer sees it (ChatML markers are one token each)."""
        ...


class TGITokenCounter:
    """Exact counts from the model server's own tokenizer (`POST /tokenize`; includes BOS)."""

    def __init__(self, generator: TextGenerator) -> None:
        self._generator = generator

    async def count(self, text: str) -> int:
        return await self._generator.count_tokens(text)


def bundled_tokenizer_path() -> Path:
    return Path(str(resources.files("mistral_common") / "data" / "tokenizer.model.v1"))


class SentencePieceCounter:
    """Exact counts with the Mistral-7B-v0.1 SentencePiece model, offline."""

    def __init__(self, model_path: Path | None = None) -> None:
        import sentencepiece

        self._sp: Any = sentencepiece.SentencePieceProcessor(
            model_file=str(model_path or bundled_tokenizer_path())
        )

    def count_sync(self, text: str) -> int:
        markers = len(_MARKERS.findall(text))
        pieces = [p for p in _MARKERS.split(text) if p]
        return markers + sum(len(ids) for ids in self._sp.encode(pieces)) if pieces else markers

    async def count(self, text: str) -> int:
        if len(text) > _THREAD_ABOVE_CHARS:
            return await asyncio.to_thread(self.count_sync, text)
        return self.count_sync(text)


class EstimatingCounter:
    """A conservative estimate when no tokenizer is available: one token per digit and per two other ASCII characters, two per
    other character, five per character outside the Basic Multilingual Plane (emoji fall back to bytes),
    plus one per ChatML marker. It overcounts real Mistral counts (English by about 1.8x; measured in
    tests/unit/test_tokens.py), so prompts always fit, at the cost of some history."""

    async def count(self, text: str) -> int:
        markers = len(_MARKERS.findall(text))
        rest = _MARKERS.sub("", text)
        digits = sum(1 for ch in rest if "0" <= ch <= "9")  # Mistral splits numbers into single digits
        ascii_chars = sum(1 for ch in rest if ch < "\x80") - digits
        astral = sum(1 for ch in rest if ch > "\uffff")
        other = len(rest) - ascii_chars - digits - astral
        return markers + digits + math.ceil(ascii_chars / 2) + 2 * other + 5 * astral + 1


async def build_counter(
    mode: Literal["auto", "tgi", "sentencepiece", "estimate"], generator: TextGenerator
) -> TokenCounter:
    """The counter for CHAT_TOKENIZER. `auto`: for a Mistral-family model (Dolphin-2.1 is one) the bundled
    SentencePiece model — exact and local, no round trip per turn; for any other model the server's
    `/tokenize` when it has one; else SentencePiece, else the estimate."""
    if mode == "estimate":
        return EstimatingCounter()
    if mode == "sentencepiece":
        return SentencePieceCounter()
    if mode == "tgi":
        return TGITokenCounter(generator)
    try:
        model_id = (await generator.info()).model_id.lower()
    except UpstreamError:
        model_id = ""
    if any(name in model_id for name in _MISTRAL_FAMILY):
        try:
            return SentencePieceCounter()
        except (ImportError, OSError) as exc:  # pragma: no cover
            log.warning("tokens.sentencepiece_unavailable", reason=type(exc).__name__)
    try:
        await generator.count_tokens("<|im_start|>user\nhi<|im_end|>\n")
        return TGITokenCounter(generator)
    except (NotImplementedError, UpstreamError) as exc:
        log.info("tokens.server_tokenizer_unavailable", reason=type(exc).__name__)
    try:
        return SentencePieceCounter()
    except (ImportError, OSError) as exc:  # pragma: no cover - sentencepiece or the model file missing
        log.warning("tokens.estimating", reason=type(exc).__name__)
        return EstimatingCounter()
