"""Token counting: exact (TGI /tokenize, or the Mistral SentencePiece model) with a conservative fallback.

(Contract first.)
"""

from __future__ import annotations

from typing import Protocol


class TokenCounter(Protocol):
    async def count(self, text: str) -> int:
        """Tokens of `text` as the model's tokenizer sees it (ChatML markers are one token each)."""
        ...
