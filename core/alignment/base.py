"""The `Moderator` protocol the core calls, and the pass-through default."""

from __future__ import annotations

from typing import Protocol

from core.models import ALLOW, IncomingMessage, Verdict


class Moderator(Protocol):
    async def check_input(self, msg: IncomingMessage) -> Verdict:
        """Verdict on what the user asked. Raises `ModerationUnavailable` when a layer fails closed."""
        ...

    async def check_output(self, msg: IncomingMessage, text: str, *, final: bool) -> Verdict:
        """Verdict on the answer so far (`final=False`: before a visible update; cheap layers only) or on
        the whole answer (`final=True`: every configured layer)."""
        ...


class AllowAll:
    """Pass-through moderator: every request and answer is allowed."""

    async def check_input(self, msg: IncomingMessage) -> Verdict:
        return ALLOW

    async def check_output(self, msg: IncomingMessage, text: str, *, final: bool) -> Verdict:
        return ALLOW
