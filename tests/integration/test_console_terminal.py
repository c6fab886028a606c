"""`dolphin-relay console` on a real terminal (a pseudo-terminal the test types into, as a user does):
Ctrl-C at the prompt leaves at once; Ctrl-C during an answer cancels it, stores nothing and returns to the
prompt; the arrow keys edit the line and walk the history; a pasted line longer than the terminal's
4,095-character canonical limit arrives whole (or, without readline, is refused with a word); log lines
go to a file, not into the chat."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import platform
import re
import struct
import sys
import termios
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from core.keys import KeySpace
from core.models import ConversationKey, Platform
from tests.fakes.tgi import FakeReply, FakeTGI
from tests.polling import until

ROOT = Path(__file__).resolve().parents[2]
KEY = ConversationKey(Platform.CONSOLE, "local", "console")
# The process makes the terminal its controlling terminal (as a login shell's child has it), so that the
# Ctrl-C byte typed into it becomes SIGINT for the process, then runs the CLI.
BOOT = """
import fcntl, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
if sys.argv[1] == "no-readline":
    sys.modules["readline"] = None  # a Python built without readline
from bots.__main__ import main
sys.exit(main(["--env-file", "/dev/null", "console", "--user", "ann"]))
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")


class Terminal:
    """The master side of a pseudo-terminal whose slave is the console's stdin, stdout and stderr."""

    def __init__(self, proc: asyncio.subprocess.Process, fd: int) -> None:
        self.proc = proc
        self.fd = fd
        self.raw = b""
        asyncio.get_running_loop().add_reader(fd, self._read)

    def _read(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the console exited and closed the terminal
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.fd)
        self.raw += data

    @property
    def screen(self) -> str:
        """What was written to the terminal, without the cursor and colour escapes."""
        return ANSI.sub("", self.raw.decode(errors="replace"))

    async def expect(self, text: str, *, after: int = 0, timeout_s: float = 30) -> int:
        """Wait until `text` appears at or after screen offset `after`; the offset just past it."""
        await until(lambda: text in self.screen[after:], timeout_s=timeout_s)
        return self.screen.index(text, after) + len(text)

    async def type(self, data: str) -> None:
        payload = data.encode()
        while payload:  # the terminal takes at most a few KB at a time
            try:
                payload = payload[os.write(self.fd, payload[:1024]) :]
            except BlockingIOError:
                await asyncio.sleep(0.01)

    async def reading(self) -> None:
        """Wait until the console is blocked reading the terminal. A Ctrl-C typed after the prompt is printed
        but before the read begins only sets CPython's signal flag, and the read that follows waits for the
        next key (a race in the interpreter's input(), with or without readline, that a person cannot hit and
        a loaded test machine does): so a test types Ctrl-C at the prompt only once the read is waiting."""
        await until(lambda: _blocked_reading(self.proc.pid), timeout_s=30)

    async def exited(self, timeout_s: float) -> int:
        await asyncio.wait_for(self.proc.wait(), timeout_s)
        assert self.proc.returncode is not None
        return self.proc.returncode


# System calls a process waiting for the terminal sleeps in: read, and readline's select/poll (x86_64, aarch64).
_WAITING_CALLS = {"x86_64": {0, 7, 23, 270, 271}, "aarch64": {63, 72, 73}}


def _blocked_reading(pid: int) -> bool:
    """Whether `pid`'s main thread is asleep in a read, select or poll system call (/proc/PID/syscall)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        call = Path(f"/proc/{pid}/syscall").read_text().split()[0]
    except (OSError, IndexError):
        return False
    calls = _WAITING_CALLS.get(platform.machine(), _WAITING_CALLS["x86_64"])
    return state == "S" and call.isdigit() and int(call) in calls


@contextlib.asynccontextmanager
async def terminal(
    tgi_url: str, redis_url: str, state: Path, *, readline: bool = True
) -> AsyncIterator[Terminal]:
    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))  # 50 rows, 200 columns
    os.set_blocking(master, False)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("TGI_", "REDIS_", "CHAT_", "HISTORY_", "LIMITS_", "ALIGNMENT_", "LOG_", "INPUTRC")
        )
    }
    env.update(
        TGI_URL=tgi_url, REDIS_URL=redis_url, LOG_LEVEL="INFO", TERM="xterm", XDG_STATE_HOME=str(state)
    )
    env["INPUTRC"] = os.devnull  # the user's own readline settings play no part
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        BOOT,
        "readline" if readline else "no-readline",
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    term = Terminal(proc, master)
    try:
        yield term
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(master)
        os.close(master)


async def stored_turns(redis_client: aioredis.Redis) -> int:
    return int(await redis_client.llen(KeySpace("relay").turns(KEY.id)))


async def test_ctrl_c_cancels_an_answer_then_exits_at_the_prompt_and_logs_stay_out_of_the_chat(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    async with FakeTGI() as tgi, terminal(tgi.url, redis_url, tmp_path) as term:
        at = await term.expect("> ")
        assert f"Log lines go to {tmp_path}/dolphin-relay/console.log" in term.screen

        # an answer that takes 20 s: Ctrl-C once it streams
        tgi.enqueue(FakeReply(text=" ".join(f"word{i}" for i in range(200)), token_delay_s=0.1))
        await term.type("tell me a long story\r")
        at = await term.expect("word3", after=at)
        await term.type("\x03")
        at = await term.expect("[answer cancelled]", after=at)
        at = await term.expect("> ", after=at)
        assert "restarted" not in term.screen and term.proc.returncode is None
        await until(lambda: tgi.in_flight == 0)  # the stream to the model server was closed too
        assert await stored_turns(redis_client) == 0

        # the conversation is free at once (no lock left behind) and the cancelled message is not in it
        await term.type("hello again\r")
        at = await term.expect("You said: hello again", after=at, timeout_s=10)
        at = await term.expect("> ", after=at)
        assert "tell me a long story" not in tgi.prompts[-1]
        assert await stored_turns(redis_client) == 1

        # Ctrl-C at the prompt: the console leaves at once, without waiting for Enter
        await term.reading()
        await term.type("\x03")
        assert await term.exited(timeout_s=10) == 130  # no Enter was typed

    chat = term.screen
    assert '{"' not in chat and "message.handled" not in chat  # no log line inside the chat
    logged = [
        json.loads(line) for line in (tmp_path / "dolphin-relay" / "console.log").read_text().splitlines()
    ]
    assert any(entry["event"] == "message.handled" for entry in logged)  # LOG_LEVEL INFO: in the file


async def test_arrow_keys_edit_the_line_and_walk_the_history_and_long_pastes_arrive_whole(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    async with FakeTGI() as tgi, terminal(tgi.url, redis_url, tmp_path) as term:
        at = await term.expect("> ")
        # "helo", cursor left once, "l": "hello"
        await term.type("helo\x1b[Dl\r")
        at = await term.expect("You said: hello", after=at)
        at = await term.expect("> ", after=at)
        await term.type("second line\r")
        at = await term.expect("You said: second line", after=at)
        at = await term.expect("> ", after=at)
        # up twice: the first line again, sent as it was
        await term.type("\x1b[A\x1b[A\r")
        at = await term.expect("You said: hello", after=at)
        at = await term.expect("> ", after=at)
        assert [p.rsplit("<|im_start|>user\n", 1)[1].split("<|im_end|>")[0] for p in tgi.prompts] == [
            "hello",
            "second line",
            "hello",
        ]

        # a pasted line of 5,999 characters (the terminal alone would pass 4,095)
        long = " ".join(f"{i:05d}" for i in range(1000))
        await term.type(long + "\r")
        at = await term.expect("You said: ", after=at, timeout_s=60)
        await term.expect("> ", after=at)  # keys typed while an answer prints are the terminal's, not ours
        assert len(tgi.prompts) == 4 and long in tgi.prompts[-1]

        await term.type("\x04")  # Ctrl-D at the prompt leaves too
        assert await term.exited(timeout_s=10) == 0


async def test_without_readline_a_line_cut_by_the_terminal_is_refused_with_a_word(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    async with FakeTGI() as tgi, terminal(tgi.url, redis_url, tmp_path, readline=False) as term:
        at = await term.expect("> ")
        assert "No line editing" in term.screen
        await term.type("x" * 5000 + "\r")
        at = await term.expect("it was not sent", after=at)
        at = await term.expect("> ", after=at)
        assert not tgi.prompts
        await term.type("short one\r")
        at = await term.expect("You said: short one", after=at)
        await term.expect("> ", after=at)
        await term.reading()
        await term.type("\x03")
        assert await term.exited(timeout_s=10) == 130


@pytest.mark.parametrize("readline", [True, False])
async def test_a_start_up_error_on_a_terminal_is_still_one_line(
    redis_url: str, tmp_path: Path, readline: bool
) -> None:
    from tests.ports import refused_port

    async with terminal(f"http://127.0.0.1:{refused_port()}", redis_url, tmp_path, readline=readline) as term:
        assert await term.exited(timeout_s=30) == 2
        await asyncio.sleep(0)  # the last bytes
    lines = [line for line in term.screen.splitlines() if line.strip()]
    assert len(lines) == 1 and "TGI_URL" in lines[0] and "Traceback" not in term.screen
