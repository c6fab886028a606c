"""The `Moderator` protocol the core calls, and the pass-through default."""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from core.alignment.policy import Audit
from core.models import ALLOW, IncomingMessage, Verdict


@dataclass(frozen=True, slots=True)
class InputCheck:
    """An input check in two parts: the verdict of the layers that already ran and, when a slower layer
    is still to run, a coroutine that returns the final verdict (recorded like any other). The caller
    must await or close `pending`."""

    verdict: Verdict
    pending: Coroutine[Any, Any, Verdict] | None = None


class Moderator(Protocol):
    """What the core asks about every message and answer. `check_input` and `check_output` are required;
    `begin_input` and `audit_settings` have defaults (a class that subclasses `Moderator` inherits them)."""

    async def check_input(self, msg: IncomingMessage) -> Verdict:
        """Verdict on what the user asked. Raises `ModerationUnavailable` when a layer fails closed."""
        ...

    async def check_output(self, msg: IncomingMessage, text: str, *, final: bool) -> Verdict:
        """Verdict on the answer so far (`final=False`: before it is shown; the cheap layers, and every
        layer in strict streaming, where it is called once per chunk) or on the whole answer (`final=True`:
        every configured layer)."""
        ...

    async def begin_input(self, msg: IncomingMessage) -> InputCheck:
        """The input check as the service runs it. With `pending` set, the service starts generating while
        the rest of the check runs, and shows nothing, stores nothing, until the final verdict allows the
        message. The default is the whole `check_input`, with nothing pending."""
        return InputCheck(await self.check_input(msg))

    def audit_settings(self) -> Audit:
        """What the audit trail keeps (the policy's `audit`): members' reports (core/reports.py) are
        recorded under the same settings. The default is the bundled policy's defaults."""
        return Audit()


class AllowAll(Moderator):
    """Pass-through moderator: every request and answer is allowed."""

    async def check_input(self, msg: IncomingMessage) -> Verdict:
        return ALLOW

    async def check_output(self, msg: IncomingMessage, text: str, *, final: bool) -> Verdict:
        return ALLOW
