"""Keeping the Discord gateway session up through payloads discord.py cannot parse: such an event is dropped
with one warning (`dropping`), and a gateway frame that breaks `connect()` before any parser ran is followed
by a reconnect with backoff (`stay_connected`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

Parser = Callable[[Any], None]
# What a malformed payload makes discord.py's parsers or our translation raise (a missing key, a field of
# the wrong type or value).
MALFORMED: tuple[type[Exception], ...] = (AttributeError, LookupError, TypeError, ValueError)
# Reconnecting after a gateway frame that could not be read: 1, 2, 4 … 30 s; back to 1 s after 5 quiet minutes.
GATEWAY_RETRY_MAX_S = 30.0
GATEWAY_RETRY_RESET_S = 300.0


def raised_at(exc: BaseException) -> str:
    """Where an exception was raised (`message.py:2161`), to report a parser bug without its payload."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


def dropping(event: str, parse: Parser, *, on_drop: Callable[[], None]) -> Parser:
    """`parse`, except that an event it cannot parse is dropped with one warning line that names the
    gateway event and the error (never the payload: it holds message text), and the session stays up."""

    def parse_or_drop(data: Any) -> None:
        try:
            parse(data)
        except Exception as exc:  # the per-event boundary: nothing of a bad event may end the session
            log.warning(
                "discord.event_dropped", gateway_event=event, error=type(exc).__name__, at=raised_at(exc)
            )
            on_drop()

    return parse_or_drop


class Reconnecting(Protocol):
    """What `stay_connected` needs of the client (`RelayClient`)."""

    ws: Any

    async def connect(self, *, reconnect: bool = True) -> None: ...

    def is_closed(self) -> bool: ...

    def _count_dropped(self) -> None: ...


async def stay_connected(client: Reconnecting) -> None:
    """`client.connect()`, connected again after a gateway frame discord.py could not read before any parser
    ran (a malformed READY or RESUMED: the error leaves `connect()` and would end the process). Every other
    error ends it as before: discord.py reconnects by itself after network errors, and its own refusals
    (a revoked token, a missing intent) are configuration errors. The sharded client closes itself on such
    a frame, so there the error still ends the process (and its restart policy starts it again)."""
    failures, last_failure = 0, 0.0
    while True:
        try:
            await client.connect(reconnect=True)
            return
        except MALFORMED as exc:
            if client.is_closed():  # the sharded client closes itself on such an error: it cannot go on
                raise
            now = time.monotonic()
            failures = 1 if now - last_failure > GATEWAY_RETRY_RESET_S else failures + 1
            last_failure = now
            delay = min(GATEWAY_RETRY_MAX_S, 2.0 ** (failures - 1))
            log.warning(
                "discord.gateway_frame_dropped", error=type(exc).__name__, at=raised_at(exc), retry_in_s=delay
            )
            client._count_dropped()
            if client.ws is not None:
                with contextlib.suppress(Exception):  # the old socket, whatever state it is in
                    await client.ws.close(code=4000)
            await asyncio.sleep(delay)
