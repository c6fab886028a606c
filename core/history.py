"""Conversation history: the `ConversationStore` protocol and its Redis implementation.

(Contract first; the Redis implementation lives below the protocol.)
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from core.models import ConversationKey, Exchange


class ConversationSession(Protocol):
    """A conversation opened under its lock: what was stored, and a way to add one exchange."""

    @property
    def exchanges(self) -> Sequence[Exchange]:
        """Stored exchanges, oldest first (at most HISTORY_MAX_TURNS)."""
        ...

    @property
    def persona(self) -> str | None:
        """The conversation's system prompt override, if one is set."""
        ...

    async def commit(self, exchange: Exchange) -> None:
        """Append one exchange atomically (append + trim + TTL + user index); at most once per session."""
        ...


class ConversationStore(Protocol):
    def open(self, key: ConversationKey) -> AbstractAsyncContextManager[ConversationSession]:
        """Lock the conversation (in this process and across processes), load it, release on exit."""
        ...

    async def clear(self, key: ConversationKey) -> None: ...

    async def get_persona(self, key: ConversationKey) -> str | None: ...

    async def set_persona(self, key: ConversationKey, persona: str | None) -> None: ...

    async def forget_user(self, user_id: str) -> int:
        """Remove every stored exchange written by `IncomingMessage.user_id`; returns how many."""
        ...
