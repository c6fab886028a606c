"""Text generation: the `TextGenerator` protocol and the TGI client.

(Contract first; the TGI implementation lives below the protocol.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model_id: str
    max_input_tokens: int
    max_total_tokens: int
    max_concurrent_requests: int = 128
    max_stop_sequences: int = 4
    version: str | None = None


@dataclass(frozen=True, slots=True)
class GenerationParams:
    max_new_tokens: int
    temperature: float = 0.7
    top_p: float = 0.95
    repetition_penalty: float | None = 1.1
    stop: tuple[str, ...] = ("<|im_end|>",)


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One step of a stream: visible text (never special tokens); the last event has `finish_reason`."""

    text: str
    finish_reason: str | None = None  # "length" | "eos_token" | "stop_sequence" on the last event
    generated_tokens: int | None = None  # on the last event, when the server says


class TextGenerator(Protocol):
    async def info(self) -> ModelInfo:
        """Limits of the model server (cached after the first successful call)."""
        ...

    def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[StreamEvent]:
        """Stream one generation. Raises errors of the `core.errors.UpstreamError` tree."""
        ...

    async def count_tokens(self, text: str) -> int:
        """Exact token count from the server (`/tokenize`, includes BOS); raises `NotImplementedError` when
        the server cannot tokenize."""
        ...

    async def healthy(self) -> bool:
        """True when the server reports healthy (GET /health is 200)."""
        ...
