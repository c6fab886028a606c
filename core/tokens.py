"""Token counting: exact (TGI `/tokenize`, or the Mistral-7B SentencePiece model) with a conservative
fallback.

`mistral-common` ships the Mistral-7B-v0.1 SentencePiece model (32,000 pieces) as
`mistral_common/data/tokenizer.model.v1`; Dolphin-2.1 adds the two ChatML markers as single tokens
(32000 `<|im_end|>`, 32001 `<|im_start|>`), so they are counted as one token each here.
"""

from __future__ import annotations

import asyncio
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import structlog

from core.errors import ConfigurationError, UpstreamError

if TYPE_CHECKING:
    from core.llm import TextGenerator

log = structlog.get_logger(__name__)

_MISTRAL_FAMILY = ("dolphin-2.1-mistral", "dolphin-2.2.1-mistral", "mistral-7b")
_MARKERS = re.compile(r"<\|im_start\|>|<\|im_end\|>")
_THREAD_ABOVE_CHARS = 8_000  # encoding costs 0.03-0.13 µs per character: above ~1 ms, use a thread


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
        # One call per piece: a list argument takes SentencePiece's batch path, which costs ~50 µs per
        # call in thread set-up against ~3 µs for a short string.
        encode = self._sp.encode
        return markers + sum(len(encode(piece)) for piece in _MARKERS.split(text) if piece)

    async def count(self, text: str) -> int:
        if len(text) > _THREAD_ABOVE_CHARS:
            return await asyncio.to_thread(self.count_sync, text)
        return self.count_sync(text)


class EstimatingCounter:
    """A conservative estimate for when no tokenizer is available (CHAT_TOKENIZER=estimate, or no model file).

    Mirrors how the Mistral SentencePiece model splits text, charging each part its worst plausible cost:
    one token per ChatML marker, one per text segment between markers (the dummy-prefix `▁`); each
    non-ASCII character its UTF-8 length (the most byte fallback can produce, so that part is a strict
    bound); one per digit (Mistral splits numbers into digits), per ASCII punctuation mark, newline or tab;
    an ASCII run that mixes letters and digits (hashes, ids, base64) one per character; a word one per
    letter up to two letters, else half its letters plus one (camelCase and UPPER runs split first); a
    single space before a letter nothing (it merges into `▁word`), any other run of n spaces
    1 + ceil(n / 16).

    Measured against `SentencePieceCounter` (docs/decisions.md): 2.1-2.9x for English prose, 1.6-2.2x for
    code and URLs, 1.0-1.3x for ids, hex and base64, 1.9-4.0x for non-Latin scripts; never below the real
    count on our samples (tests/unit/test_tokens.py). Known blind spot: random lowercase gibberish can be
    undercounted by up to a quarter."""

    async def count(self, text: str) -> int:
        return estimate_tokens(text)


_EST_PARTS = re.compile(r"(?P<spaces> +)|(?P<ws>\s)|(?P<run>\S+)")
_EST_PIECES = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[^A-Za-z]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_ASCII_DIGIT = re.compile(r"[0-9]")


def estimate_tokens(text: str) -> int:
    """The `EstimatingCounter` rule (pure; about 1 µs per character)."""
    segments = _MARKERS.split(text)
    return len(segments) - 1 + sum(_estimate_segment(s) for s in segments if s)


def _estimate_segment(text: str) -> int:
    total = 1  # the dummy prefix `▁`, alone when the text starts with a digit, punctuation or a non-Latin character
    for part in _EST_PARTS.finditer(text):
        kind, chunk = part.lastgroup, part.group()
        if kind == "spaces":
            follower = text[part.end() : part.end() + 1]
            merges = len(chunk) == 1 and follower.isascii() and follower.isalpha()
            total += 0 if merges else 1 + (len(chunk) + 15) // 16
        elif kind == "ws":
            total += len(chunk.encode("utf-8", "surrogatepass"))
        elif chunk.isascii() and _ASCII_LETTER.search(chunk) and _ASCII_DIGIT.search(chunk):
            total += len(chunk)
        else:
            for piece in _EST_PIECES.findall(chunk):
                if not piece.isascii():
                    total += len(piece.encode("utf-8", "surrogatepass"))
                elif len(piece) <= 2:
                    total += len(piece)
                else:
                    total += len(piece) // 2 + 1
    return total


async def build_counter(
    mode: Literal["auto", "server", "tgi", "sentencepiece", "estimate"], generator: TextGenerator
) -> TokenCounter:
    """The counter for CHAT_TOKENIZER. `auto`: for a Mistral-family model (Dolphin-2.1 is one) the bundled
    SentencePiece model — exact and local, no round trip per turn; for any other model the server's
    `/tokenize` when it has one; else SentencePiece, else the estimate."""
    if mode == "estimate":
        return EstimatingCounter()
    if mode == "sentencepiece":
        return SentencePieceCounter()
    if mode in ("server", "tgi"):
        try:
            await generator.count_tokens("<|im_start|>user\nhi<|im_end|>\n")
        except NotImplementedError:
            raise ConfigurationError(
                f"CHAT_TOKENIZER={mode}, but the model server has no tokenize route: use auto or sentencepiece",
                setting="CHAT_TOKENIZER",
            ) from None
        except UpstreamError as exc:  # not reachable yet: the first message will say so
            log.info("tokens.server_tokenizer_unchecked", reason=type(exc).__name__)
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
