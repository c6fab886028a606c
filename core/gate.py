"""The gate before any work is done: dedupe, paused channels, muted users, rate limits (shared in Redis).

(Contract first; the Redis implementation lives below the protocol.)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from core.models import ConversationKey, IncomingMessage


class AdmissionKind(enum.StrEnum):
    OK = "ok"
    DUPLICATE = "duplicate"
    PAUSED = "paused"
    MUTED = "muted"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class Admission:
    kind: AdmissionKind
    retry_after_s: float = 0.0  # RATE_LIMITED
    scope: str = "user"  # RATE_LIMITED: "user" or "channel"
    until: float = 0.0  # MUTED: unix seconds


class Gate(Protocol):
    async def admit(self, msg: IncomingMessage) -> Admission:
        """One decision per incoming message, in one Redis round trip."""
        ...

    async def set_paused(self, key: ConversationKey, paused: bool) -> None:
        """Pause or resume answering in the channel of `key` (all its threads)."""
        ...

    async def is_paused(self, key: ConversationKey) -> bool: ...

    async def mute(self, user_id: str, seconds: float) -> float:
        """Mute `IncomingMessage.user_id` for `seconds`; returns the unix time the mute ends."""
        ...

    async def unmute(self, user_id: str) -> None: ...
