"""A terminal adapter over the same core: try the bot or a policy with no chat platform.

On a terminal (`run_terminal`) it behaves like a terminal program: the prompt has line editing and history
(the standard library's `readline`, where Python has it), Ctrl-C or Ctrl-D at the prompt leaves at once,
Ctrl-C during an answer cancels that answer (an answer cut short is not stored) and returns to the prompt, the answer
streams as it is generated, and log lines go to a file (named in the banner) instead of into the chat.

When standard input is not a terminal (`run_console`), each input line is one user message and each answer
(or notice) is written to standard output as plain text followed by a newline; the console exits 0 at the
end of input; log lines (warnings and up) go to standard error.

Commands: `/reset` clears the conversation, `/persona TEXT` sets a persona, `/persona` shows it,
`/persona clear` removes it, `/help` lists these, `/quit` leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from bots.runtime import Core
from core.errors import RelayError
from core.models import ConversationKey, IncomingMessage, Platform, ReplySink, SinkLimits
from core.service import ChatService

HELP = "Commands: /reset  /persona TEXT  /persona  /persona clear  /help  /quit"
CANCELLED = "[answer cancelled]"
# A terminal in canonical mode (no readline) passes at most 4,095 characters of one line (Linux's
# N_TTY_BUF_SIZE less the newline) and drops the rest of a longer paste.
CANONICAL_LINE_MAX = 4095


class ConsoleSink(ReplySink):
    """Writes one answer to a text stream; streams deltas when `live` is true."""

    def __init__(self, out: TextIO, *, live: bool) -> None:
        self._out = out
        self._live = live
        self._shown = ""
        self.cancelled = False  # the user pressed Ctrl-C: the notice for a cut answer is not theirs
        self.notified = False
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
        self._out.write((CANCELLED if self.cancelled else notice) + "\n")
        self._out.flush()
        self.notified = True


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
            sink = ConsoleSink(stdout, live=interactive)
            await _dispatch(service, key, user, text, command, arg, stdout, sink)
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
    sink: ConsoleSink,
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
        await service.handle(msg, sink)


# ------------------------------------------------------------------------------------------ the terminal


def log_file() -> Path:
    """Where the interactive console writes its log lines: $XDG_STATE_HOME/dolphin-relay/console.log
    (default ~/.local/state/…)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "dolphin-relay" / "console.log"


def run_terminal(
    open_core: Callable[[], contextlib.AbstractAsyncContextManager[Core]],
    *,
    channel: str,
    user: str | None,
    log_path: Path,
) -> int:
    """The console on a terminal. The prompt is read on the main thread with `input()` (readline when
    available), outside the event loop, so Ctrl-C there raises KeyboardInterrupt at once; each message
    runs on one long-lived loop (`asyncio.Runner`) with a SIGINT handler that cancels only that message."""
    editing = _enable_line_editing()
    user = user or getpass.getuser()
    key = ConversationKey(Platform.CONSOLE, "local", channel)
    with asyncio.Runner() as runner:
        stack = contextlib.AsyncExitStack()
        try:
            core = runner.run(stack.enter_async_context(open_core()))
        except BaseException:
            runner.run(stack.aclose())
            raise
        try:
            print(f"dolphin-relay console — channel {channel!r} as {user!r}. {HELP}")
            print(
                "Ctrl-C cancels an answer; Ctrl-C or Ctrl-D at the prompt leaves. "
                f"Log lines go to {log_path}."
            )
            if not editing:
                print(
                    "No line editing (Python has no readline module here): lines longer than "
                    f"{CANONICAL_LINE_MAX:,} characters cannot be typed or pasted; pipe long messages in "
                    "(dolphin-relay console < message.txt)."
                )
            while True:
                try:
                    line = input("> ")
                except EOFError:  # Ctrl-D
                    print()
                    return 0
                except KeyboardInterrupt:  # Ctrl-C at the prompt
                    print()
                    return 130
                if not editing and len(line) >= CANONICAL_LINE_MAX:
                    print(
                        f"That line reached the terminal's limit of {CANONICAL_LINE_MAX:,} characters, so "
                        "its end was probably cut off; it was not sent. Pipe long messages in instead "
                        "(dolphin-relay console < message.txt)."
                    )
                    continue
                command, _, arg = line.strip().partition(" ")
                if command == "/quit":
                    return 0
                sink = ConsoleSink(sys.stdout, live=True)
                runner.run(
                    _cancellable(
                        _dispatch(core.service, key, user, line, command, arg, sys.stdout, sink), sink
                    )
                )
        finally:
            runner.run(stack.aclose())


async def _cancellable(work: Awaitable[None], sink: ConsoleSink) -> None:
    """Run one message; Ctrl-C (SIGINT) cancels it and returns to the prompt. The service stores an
    exchange whole or not at all, so a cancelled answer leaves no trace in the history."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()

    def interrupted() -> None:
        if not sink.cancelled:  # a second Ctrl-C while the answer winds down changes nothing
            sink.cancelled = True
            task.cancel()

    loop.add_signal_handler(signal.SIGINT, interrupted)
    try:
        await asyncio.wait({task})
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    if task.cancelled():
        if not sink.cancelled:  # pragma: no cover - nothing else cancels it
            raise asyncio.CancelledError
        if not sink.notified:  # a command, or an answer cancelled before the service saw it
            await sink.fail(CANCELLED)
        return
    exc = task.exception()
    if isinstance(exc, RelayError):  # e.g. a persona that is too long, Redis down during /reset
        sys.stdout.write(exc.notice + "\n")
    elif exc is not None:
        raise exc
    sys.stdout.flush()


def _enable_line_editing() -> bool:
    """Import `readline` (it hooks into `input()`): cursor keys edit the line, up and down walk this
    session's lines (kept in memory only), and the terminal leaves canonical mode while reading, so a
    long paste is not cut. False when this Python has no readline."""
    try:
        import readline
    except ImportError:
        return False
    readline.set_history_length(1000)
    return True
