"""A terminal adapter over the same core: try the bot or a policy with no chat platform.

On a terminal the answer streams as it is generated. When standard input is not a terminal, each input
line is one user message and each answer (or notice) is written to standard output as plain text followed
by a newline; the console exits 0 at the end of input.

Commands: `/reset` clears the conversation, `/persona TEXT` sets a persona, `/persona` shows it,
`/persona clear` removes it, `/help` lists these, `/quit` leaves.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import uuid
from typing import TextIO

from bots.runtime import Core
from core.errors import RelayError
from core.models import ConversationKey, IncomingMessage, Platform, SinkLimits
from core.service import ChatService

HELP = "Commands: /reset  /persona TEXT  /persona  /persona clear  /help  /quit"


class ConsoleSink:
    """Writes one answer to a text stream; streams deltas when `live` is true."""

    def __init__(self, out: TextIO, *, live: bool) -> None:
        self._out = out
        self._live = live
        self._shown = ""
        self.limits = SinkLimits(max_chars=1_000_000, min_edit_interval_s=0.05 if live else 3600.0)

    async def typing(self) -> None:
        return None

    async def update(self, text_so_far: str) -> None:
        if not self._live:
            return
        if text_so_far.startswith(self._shown):
            self._out.write(text_so_far[len(self._shown) :])
        else:  # the text changed in a way a terminal cannot edit: start a fresh line
            self._out.write("\n" + text_so_far)
        self._shown = text_so_far
        self._out.flush()

    async def finish(self, text: str) -> None:
        await self.update(text) if self._live else self._out.write(text)
        self._out.write("\n")
        self._out.flush()

    async def fail(self, notice: str) -> None:
        if self._live and self._shown:
            self._out.write("\n")
        self._out.write(notice + "\n")
        self._out.flush()


async def _read_line(stream: TextIO) -> str:
    return await asyncio.to_thread(stream.readline)


async def run_console(
    core: Core,
    *,
    channel: str,
    user: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty() and stdout.isatty()
    user = user or getpass.getuser()
    key = ConversationKey(Platform.CONSOLE, "local", channel)
    service = core.service
    if interactive:
        stdout.write(f"dolphin-relay console — channel {channel!r} as {user!r}. {HELP}\n")
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = await _read_line(stdin)
        if not line:  # end of input
            if interactive:
                stdout.write("\n")
            return 0
        text = line.rstrip("\r\n")
        command, _, arg = text.strip().partition(" ")
        if command == "/quit":
            return 0
        try:
            await _dispatch(service, key, user, text, command, arg, stdout, interactive)
        except RelayError as exc:  # e.g. a persona that is too long, Redis down during /reset
            stdout.write(exc.notice + "\n")
        stdout.flush()


async def _dispatch(
    service: ChatService,
    key: ConversationKey,
    user: str,
    text: str,
    command: str,
    arg: str,
    stdout: TextIO,
    interactive: bool,
) -> None:
    if command == "/help":
        stdout.write(HELP + "\n")
    elif command == "/reset":
        await service.reset(key)
        stdout.write("History cleared.\n")
    elif command == "/persona":
        arg = arg.strip()
        if not arg:
            persona = await service.get_persona(key)
            stdout.write(f"Persona: {persona}\n" if persona else "No persona set (the default applies).\n")
        elif arg == "clear":
            await service.set_persona(key, None)
            stdout.write("Persona cleared.\n")
        else:
            await service.set_persona(key, arg)
            stdout.write("Persona set.\n")
    else:
        msg = IncomingMessage(
            key=key,
            message_id=uuid.uuid4().hex,
            author_id=user,
            author_name=user,
            text=text,
            is_direct=True,
            can_administer=True,
        )
        await service.handle(msg, ConsoleSink(stdout, live=interactive))
